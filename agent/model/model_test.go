package model_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/model"
	"github.com/hopguard/hopguard/mockservers/llm"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
)

const llmToken = "llm-token-of-the-agent"

// fakeGateway stands in for gateway + synapse on the model route: it denies
// with the bodies of CONTRACTS.md "Denial responses", or swaps the agent's
// token for the provider key and forwards, as the gateway does after an allow.
type fakeGateway struct {
	upstream http.Handler
	deny     func(w http.ResponseWriter) bool

	mu       sync.Mutex
	requests []*http.Request
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.requests = append(g.requests, r.Clone(context.Background()))
	g.mu.Unlock()
	if g.deny != nil && g.deny(w) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+llmToken {
		http.Error(w, "the fake gateway wants the llm token", http.StatusUnauthorized)
		return
	}
	r.Header.Set("Authorization", "Bearer "+llm.DefaultProviderKey)
	g.upstream.ServeHTTP(w, r)
}

func (g *fakeGateway) Requests() []*http.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*http.Request(nil), g.requests...)
}

func writeDenial(w http.ResponseWriter, status int, header map[string]string, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Hopguard-Decision", "deny")
	w.Header().Set("X-Hopguard-Decision-Id", "dec-llm")
	for k, v := range header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

var modelPinned = respond.Denial{
	Reason: "triage-agent is pinned to gpt-4o-mini", Code: "model_not_allowed",
	Remediation: map[string]any{"type": "use_model", "model": "gpt-4o-mini"},
}

// synapseDenial writes what synapse/respond answers a model call with.
func synapseDenial(d respond.Denial, unavailable bool) func(w http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		in := &mapping.Input{Resource: mapping.ResourceLLM, Plane: mapping.PlaneModel}
		resp := respond.Denied(in, d, "dec-llm", respond.Provenance{})
		if unavailable {
			resp = respond.Unavailable(in, d, "dec-llm")
		}
		denied := resp.GetDeniedResponse()
		for _, h := range denied.GetHeaders() {
			w.Header().Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		w.WriteHeader(int(denied.GetStatus().GetCode()))
		_, _ = io.WriteString(w, denied.GetBody())
		return true
	}
}

// gatewayFailClosed writes the gateway's own 503 when synapse cannot be reached: marked deny,
// x-should-retry: false, no decision id.
func gatewayFailClosed(body string) func(w http.ResponseWriter) bool {
	return gatewayFailClosedCoded(body, "")
}

// gatewayFailClosedCoded is gatewayFailClosed with the code in the x-hopguard-code header too.
func gatewayFailClosedCoded(body, code string) func(w http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		if code != "" {
			w.Header().Set(denial.CodeHeader, code)
		}
		w.Header().Set("X-Hopguard-Decision", "deny")
		w.Header().Set("X-Should-Retry", "false")
		if strings.HasPrefix(body, "{") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/plain")
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, body)
		return true
	}
}

func start(t *testing.T, deny func(w http.ResponseWriter) bool, retries int) (*model.Client, *fakeGateway, *llm.Server) {
	t.Helper()
	mock, err := llm.New(llm.Config{ProviderKey: llm.DefaultProviderKey, Models: llm.DefaultModels()})
	require.NoError(t, err)
	gw := &fakeGateway{upstream: mock, deny: deny}
	hs := httptest.NewServer(gw)
	t.Cleanup(hs.Close)
	c, err := model.New(model.Config{
		BaseURL:    hs.URL + "/v1",
		Token:      func(context.Context) (string, error) { return llmToken, nil },
		MaxRetries: retries,
	})
	require.NoError(t, err)
	return c, gw, mock
}

func ask(c *model.Client, modelName string) (*openai.ChatCompletion, error) {
	return c.Complete(context.Background(), modelName,
		[]openai.ChatCompletionMessageParamUnion{openai.UserMessage("Work ticket T-1001.")},
		[]model.Tool{{Name: "get_ticket", Description: "read a ticket", Parameters: map[string]any{
			"type": "object", "properties": map[string]any{"ticket_id": map[string]any{"type": "string"}},
		}}})
}

func TestAllowedCallCarriesOnlyTheLLMToken(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-the-environment")
	t.Setenv("OPENAI_ORG_ID", "org-from-the-environment")
	c, gw, mock := start(t, nil, 0)

	completion, err := ask(c, "gpt-4o-mini")
	require.NoError(t, err)
	require.Len(t, completion.Choices[0].Message.ToolCalls, 1)
	assert.Equal(t, "get_ticket", completion.Choices[0].Message.ToolCalls[0].Function.Name)
	assert.JSONEq(t, `{"ticket_id":"T-1001"}`, completion.Choices[0].Message.ToolCalls[0].Function.Arguments)

	reqs := gw.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1/chat/completions", reqs[0].URL.Path)
	assert.Equal(t, "Bearer "+llmToken, reqs[0].Header.Get("Authorization"))
	assert.Empty(t, reqs[0].Header.Get("OpenAI-Organization"))
	entries := mock.Journal().Entries()
	require.Len(t, entries, 1)
	assert.Equal(t, "provider_key", string(entries[0].Credential))
}

func TestDeniedCall(t *testing.T) {
	tests := []struct {
		name    string
		deny    func(w http.ResponseWriter) bool
		retries int
		want    denial.Denial
	}{
		{
			name:    "synapse's 403 with the policy output in the hopguard field",
			deny:    synapseDenial(modelPinned, false),
			retries: 2,
			want: denial.Denial{
				Reason: "triage-agent is pinned to gpt-4o-mini", Code: "model_not_allowed",
				Remediation: map[string]any{"type": "use_model", "model": "gpt-4o-mini"}, DecisionID: "dec-llm",
			},
		},
		{
			name:    "synapse fails closed: 503 with x-should-retry false is not retried",
			deny:    synapseDenial(respond.Denial{Reason: "authorization service unavailable", Code: "pdp_unavailable"}, true),
			retries: 2,
			want:    denial.Denial{Reason: "authorization service unavailable", Code: "pdp_unavailable", DecisionID: "dec-llm"},
		},
		{
			// Envoy's local reply mapper and Istio's EnvoyFilter: the body synapse's own 503 has
			// on the route, code authz_unavailable, and no decision id (synapse made none).
			name:    "the gateway's own fail-closed 503, synapse unreachable",
			deny:    gatewayFailClosed(respond.GatewayUnavailableBody(mapping.PlaneModel, mapping.DialectOpenAI)),
			retries: 2,
			want:    denial.Denial{Reason: respond.ReasonAuthzUnavailable, Code: respond.CodeAuthzUnavailable},
		},
		{
			// A gateway that cannot write a body (agentgateway's plain text): the marks alone.
			name:    "the gateway's own fail-closed 503 without a JSON body",
			deny:    gatewayFailClosed("Authorization service unavailable"),
			retries: 2,
			want:    denial.Denial{Reason: "denied by the gateway (HTTP 503)"},
		},
		{
			// agentgateway v1.4.1: no body it can choose, the code in x-hopguard-code.
			name:    "the gateway's own fail-closed 503, plain text, the code in a header",
			deny:    gatewayFailClosedCoded("Authorization service unavailable", respond.CodeAuthzUnavailable),
			retries: 2,
			want:    denial.Denial{Reason: "denied by the gateway (HTTP 503)", Code: respond.CodeAuthzUnavailable},
		},
		{
			name: "a gateway's denial header without a policy output",
			deny: func(w http.ResponseWriter) bool {
				writeDenial(w, http.StatusForbidden, nil, map[string]any{"error": map[string]any{
					"type": "permission_denied", "code": "no_matching_rule", "message": "denied by default",
				}})
				return true
			},
			want: denial.Denial{Reason: "denied by default", Code: "no_matching_rule", DecisionID: "dec-llm"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, gw, mock := start(t, tt.deny, tt.retries)
			_, err := ask(c, "gpt-4o")
			require.Error(t, err)
			got, ok := denial.From(err)
			require.True(t, ok, "want a denial, got %v", err)
			assert.Equal(t, tt.want, got)
			assert.Contains(t, err.Error(), tt.want.Reason, "the error text says why, unlike openai.Error's")
			var apiErr *openai.Error
			assert.ErrorAs(t, err, &apiErr, "the SDK's error stays reachable")
			assert.Len(t, gw.Requests(), 1, "a denial is never retried")
			assert.Empty(t, mock.Journal().Entries(), "the model was never contacted")
		})
	}
}

func TestUpstreamErrors(t *testing.T) {
	t.Run("the provider's own refusal is an error, not a denial", func(t *testing.T) {
		c, _, _ := start(t, nil, 0)
		_, err := ask(c, "gpt-5-unknown")
		require.Error(t, err)
		_, denied := denial.From(err)
		assert.False(t, denied)
		var apiErr *model.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
		assert.Contains(t, err.Error(), "model_not_found")
	})
	t.Run("a 5xx without the denial header is retried, then an error", func(t *testing.T) {
		c, gw, _ := start(t, func(w http.ResponseWriter) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"error":{"type":"server_error","message":"upstream connect error"}}`))
			return true
		}, 1)
		_, err := ask(c, "gpt-4o-mini")
		require.Error(t, err)
		_, denied := denial.From(err)
		assert.False(t, denied)
		assert.Contains(t, err.Error(), "upstream connect error")
		assert.Len(t, gw.Requests(), 2)
	})
	t.Run("no token, no request", func(t *testing.T) {
		c, err := model.New(model.Config{
			BaseURL: "http://127.0.0.1:1/v1",
			Token:   func(context.Context) (string, error) { return "", assert.AnError },
		})
		require.NoError(t, err)
		_, err = ask(c, "gpt-4o-mini")
		assert.ErrorIs(t, err, assert.AnError)
	})
}

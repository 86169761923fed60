package agentgateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/gateway-configs/agentgateway"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
	"github.com/hopguard/hopguard/mockservers/llm"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
)

// agentgatewayUnavailable is the body of agentgateway's own reply when extAuthz gets no answer
// (v1.4.1, failureMode denyWithStatus; crates/agentgateway/src/http/ext_authz.rs).
const agentgatewayUnavailable = "Authorization service unavailable"

// TestFailClosedRepliesEndToEnd runs the real agentgateway on the rendered config. With synapse
// unreachable, agentgateway's own 503 is marked on every route as Envoy's is (x-hopguard-decision:
// deny, x-should-retry: false and x-hopguard-code: authz_unavailable once each, no decision id)
// but keeps agentgateway's plain-text
// body: v1.4.1 cannot give it the route's JSON body (the last subtest shows why). With synapse
// answering, its own denials (503 and 403) pass with their status, headers and body unchanged.
func TestFailClosedRepliesEndToEnd(t *testing.T) {
	bin := agentgatewayBinary(t)
	if !providertest.RunHereIsolated(t, bindsEveryInterface) {
		return
	}
	params := func(synapse string) agentgateway.Params {
		p := gatewayParams(t, synapse)
		p.LLMAddr = fmt.Sprintf("127.0.0.1:%d", unusedPort(t))
		p.MCPServers = []agentgateway.MCPServer{{Name: "tickets", Addr: fmt.Sprintf("127.0.0.1:%d", unusedPort(t))}}
		return p
	}

	t.Run("synapse unreachable: agentgateway's own 503, marked, in plain text", func(t *testing.T) {
		gateway := runAgentgateway(t, bin, params(fmt.Sprintf("127.0.0.1:%d", unusedPort(t)))) // nothing listens there
		for _, hop := range providertest.FailClosedHops {
			resp, body := providertest.SendAsAgent(t, gateway, hop.Method, hop.Path, hop.Body)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, hop.Name)
			assert.Equal(t, []string{"deny"}, resp.Header.Values(denial.DecisionHeader), hop.Name)
			assert.Equal(t, []string{"false"}, resp.Header.Values(respond.HeaderShouldRetry), hop.Name)
			assert.Equal(t, []string{respond.CodeAuthzUnavailable}, resp.Header.Values(respond.HeaderCode), "%s: the code in a header, where the body cannot carry it", hop.Name)
			assert.Empty(t, resp.Header.Values(denial.DecisionIDHeader), "%s: synapse made no decision", hop.Name)
			assert.Equal(t, agentgatewayUnavailable, body, hop.Name)
			_, ok := denial.FromBody([]byte(body))
			assert.False(t, ok, "%s: no code to read", hop.Name)
		}
	})

	t.Run("synapse's own denials pass unchanged", func(t *testing.T) {
		for name, unavailable := range map[string]bool{"503 pdp_unavailable": true, "403": false} {
			t.Run(name, func(t *testing.T) {
				gateway := runAgentgateway(t, bin, params(providertest.StartDenyingAuthz(t, unavailable).String()))
				for _, hop := range providertest.FailClosedHops {
					resp, body := providertest.SendAsAgent(t, gateway, hop.Method, hop.Path, hop.Body)
					denied := providertest.SynapseDenial(unavailable, hop.Plane, hop.Dialect).GetDeniedResponse()
					assert.EqualValues(t, denied.GetStatus().GetCode(), resp.StatusCode, hop.Name)
					assert.JSONEq(t, denied.GetBody(), body, hop.Name)
					assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), hop.Name)
					assert.Equal(t, []string{"deny"}, resp.Header.Values(denial.DecisionHeader), hop.Name)
					assert.Equal(t, []string{"false"}, resp.Header.Values(respond.HeaderShouldRetry), hop.Name)
					assert.Equal(t, []string{"dec-e2e"}, resp.Header.Values(denial.DecisionIDHeader), hop.Name)
					assert.Empty(t, resp.Header.Values(respond.HeaderCode), "%s: synapse's own 503 keeps its code in the body", hop.Name)
				}
			})
		}
	})

	// Why the gateway's own 503 keeps agentgateway's body. Only the gateway-level transformation
	// reaches the replies extAuthz makes, and it is selected from the request before extAuthz
	// runs (a conditional entry's condition sees the request only). Once selected, its body
	// expression replaces the body of every response it applies to, so an expression that
	// writes the route's JSON on the gateway's 503 must give every other response its own body
	// back: without response.body it cannot, and with response.body agentgateway buffers every
	// response before its response policies run, so an event stream answers nothing. Should a
	// later agentgateway pass either of these, the gateway's own reply can get the route's body.
	t.Run("why not: a body in the gateway-level transformation", func(t *testing.T) {
		mock, err := llm.New(llm.Config{ProviderKey: llm.DefaultProviderKey, Models: llm.DefaultModels()})
		require.NoError(t, err)
		model := recordUpstream(t, mock)
		server, err := mcpserver.New(mcpserver.Config{Name: mcpserver.Tickets})
		require.NoError(t, err)
		t.Cleanup(func() { server.Close(context.Background()) })
		tickets := recordUpstream(t, server)
		authz := providertest.StartAllowingAuthz(t)
		gatewayReply := respond.GatewayUnavailableBody(mapping.PlaneModel, mapping.DialectOpenAI)
		chat := `{"model":"gpt-4o","messages":[{"role":"user","content":"Work ticket T-1001"}]}`
		// The gateway's own reply, as the body expression sees it: the marks are set before it runs.
		ownReply := `response.code == 503 && response.headers['x-hopguard-decision'] == 'deny' && !('x-hopguard-decision-id' in response.headers)`

		start := func(t *testing.T, synapse, otherwise string) string {
			p := gatewayParams(t, synapse)
			p.LLMAddr = model.addr
			p.MCPServers = []agentgateway.MCPServer{{Name: "tickets", Addr: tickets.addr}}
			return runAgentgatewayOn(t, bin, p, withGatewayResponseBody(t, p, ownReply+" ? "+strconv.Quote(gatewayReply)+" : "+otherwise))
		}

		t.Run("without response.body, every other body is lost", func(t *testing.T) {
			down := start(t, fmt.Sprintf("127.0.0.1:%d", unusedPort(t)), "''")
			resp, body := providertest.SendAsAgent(t, down, "POST", "/v1/chat/completions", chat)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.JSONEq(t, gatewayReply, body, "the gateway's own 503 gets the route's body")

			up := start(t, authz.Addr.String(), "''")
			resp, body = providertest.SendAsAgent(t, up, "POST", "/v1/chat/completions", chat)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Empty(t, body, "the allowed answer's body was replaced too")
		})

		t.Run("with response.body, an event stream answers nothing", func(t *testing.T) {
			up := start(t, authz.Addr.String(), "response.body")
			resp, body := providertest.SendAsAgent(t, up, "POST", "/v1/chat/completions", chat)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, body, `"chat.completion"`, "a whole answer passes")

			headers := map[string]string{"Accept": "application/json, text/event-stream"}
			initialized := do(t, http.MethodPost, up+"/mcp/tickets",
				`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"failclosed","version":"1"}}}`, headers)
			_, _ = io.Copy(io.Discard, initialized.Body)
			_ = initialized.Body.Close()
			require.Equal(t, http.StatusOK, initialized.StatusCode)
			session := initialized.Header.Get("Mcp-Session-Id")
			require.NotEmpty(t, session)

			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, up+"/mcp/tickets", nil)
			require.NoError(t, err)
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Authorization", "Bearer "+upstreamAgentToken)
			stream, err := http.DefaultClient.Do(req)
			if err == nil {
				_ = stream.Body.Close()
			}
			assert.True(t, errors.Is(err, context.DeadlineExceeded),
				"the GET stream's headers should never come while agentgateway buffers it (got %v): if they do, the notes' reason no longer holds", err)
		})
	})
}

// withGatewayResponseBody is p's rendering with body, a CEL expression, added to the
// gateway-level response transformation.
func withGatewayResponseBody(t *testing.T, p agentgateway.Params, body string) []byte {
	t.Helper()
	config, err := agentgateway.Render(p)
	require.NoError(t, err)
	const anchor = "    transformations:\n      response:\n        set:\n          x-hopguard-decision:"
	require.Equal(t, 1, strings.Count(string(config), anchor), "the gateway-level response transformation")
	quoted, err := json.Marshal(body) // a JSON string is a YAML double-quoted scalar
	require.NoError(t, err)
	return []byte(strings.Replace(string(config), anchor,
		"    transformations:\n      response:\n        body: "+string(quoted)+"\n        set:\n          x-hopguard-decision:", 1))
}

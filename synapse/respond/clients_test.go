package respond

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/mapping"
)

// These tests run the stock clients the agent uses against a stand-in gateway that maps each
// request with synapse/mapping, applies a test policy and answers with this package's responses,
// as Envoy or agentgateway would. They prove the denial shapes reach the agent as designed.

// policy decides one mapped request: nil allows it.
type policy func(in *mapping.Input) (d *Denial, unavailable bool)

// standInGateway plays the gateway in front of upstream: it sends the request through Map and
// the policy, then writes the denial or forwards the request with the allow's header changes.
func standInGateway(t *testing.T, resource string, decide policy, upstream http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := mapping.Map(checkRequest(t, r, resource), nil)
		var resp *authv3.CheckResponse
		switch {
		case err != nil:
			var refusal *mapping.Error
			require.ErrorAs(t, err, &refusal)
			resp = Denied(in, Refusal(refusal), "dec-test", Provenance{})
		default:
			if d, unavailable := decide(in); d == nil {
				resp = Allowed("dec-test", Provenance{})
			} else if unavailable {
				resp = Unavailable(in, *d, "dec-test")
			} else {
				resp = Denied(in, *d, "dec-test", Provenance{})
			}
		}
		if denied := resp.GetDeniedResponse(); denied != nil {
			for _, h := range denied.GetHeaders() {
				w.Header().Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
			}
			w.WriteHeader(int(denied.GetStatus().GetCode()))
			_, _ = io.WriteString(w, denied.GetBody())
			return
		}
		ok := resp.GetOkResponse()
		for _, name := range ok.GetHeadersToRemove() {
			r.Header.Del(name)
		}
		for _, h := range ok.GetHeaders() {
			r.Header.Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		for _, h := range ok.GetResponseHeadersToAdd() {
			w.Header().Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		upstream.ServeHTTP(w, r)
	})
}

// checkRequest builds the CheckRequest Envoy would send for r (with_request_body,
// pack_as_bytes) and restores r's body for the upstream.
func checkRequest(t *testing.T, r *http.Request, resource string) *authv3.CheckRequest {
	body, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	r.Body = io.NopCloser(bytes.NewReader(body))
	headers := map[string]string{"x-envoy-auth-partial-body": "false"}
	for name, values := range r.Header {
		headers[strings.ToLower(name)] = strings.Join(values, ",")
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		ContextExtensions: map[string]string{"resource": resource},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: r.Method, Path: r.URL.RequestURI(), Headers: headers, RawBody: body, Size: int64(len(body)),
		}},
	}}
}

func TestMCPClientReadsHandshakeDenial(t *testing.T) {
	var upstreamCalls atomic.Int32
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { upstreamCalls.Add(1) })
	denyAll := func(in *mapping.Input) (*Denial, bool) {
		return &Denial{Reason: "payroll requires payroll-admin", Code: "role_required"}, false
	}
	srv := httptest.NewServer(standInGateway(t, "mcp:payroll", denyAll, upstream))
	t.Cleanup(srv.Close)

	c, err := client.NewStreamableHttpClient(srv.URL + "/mcp/payroll")
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))

	_, err = c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ClientInfo: mcp.Implementation{Name: "triage-agent", Version: "test"},
	}})
	require.Error(t, err, "a denied handshake must not look connected")
	assert.Contains(t, err.Error(), "denied: payroll requires payroll-admin")
	assert.Zero(t, upstreamCalls.Load(), "the payroll server never sees the handshake")
}

func TestMCPClientReadsToolCallDenial(t *testing.T) {
	var refunds atomic.Int32
	mcpServer := server.NewMCPServer("payments", "test")
	mcpServer.AddTool(mcp.NewTool("refund_issue"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		refunds.Add(1)
		return mcp.NewToolResultText("refunded"), nil
	})
	capRefunds := func(in *mapping.Input) (*Denial, bool) {
		for _, c := range in.Checks {
			args, _ := c.Attr["arguments"].(map[string]any)
			if amount, _ := args["amount_cents"].(float64); c.Action == "tools/call/refund_issue" && amount > 5000 {
				return &Denial{Reason: "refund of 900000 cents exceeds the tier-1 cap of 5000", Code: "refund_over_cap",
					Remediation: map[string]any{"action": "escalate"}}, false
			}
		}
		return nil, false
	}
	srv := httptest.NewServer(standInGateway(t, "mcp:payments", capRefunds, server.NewStreamableHTTPServer(mcpServer)))
	t.Cleanup(srv.Close)

	c, err := client.NewStreamableHttpClient(srv.URL + "/mcp/payments")
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))
	_, err = c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ClientInfo: mcp.Implementation{Name: "agent", Version: "test"},
	}})
	require.NoError(t, err)

	call := func(amount int) *mcp.CallToolResult {
		res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{
			Name: "refund_issue", Arguments: map[string]any{"ticket_id": "T-1001", "amount_cents": amount},
		}})
		require.NoError(t, err, "a denied tool call is a result, and the session survives")
		return res
	}

	res := call(900000)
	assert.True(t, res.IsError)
	require.Len(t, res.Content, 1)
	text, ok := res.Content[0].(mcp.TextContent)
	require.True(t, ok, "content is text, got %T", res.Content[0])
	assert.Contains(t, text.Text, "denied: refund of 900000 cents exceeds the tier-1 cap of 5000")
	assert.Contains(t, text.Text, `"code":"refund_over_cap"`, "the model also sees the structured denial")
	structured, ok := res.StructuredContent.(map[string]any)
	require.True(t, ok, "structuredContent is an object, got %T", res.StructuredContent)
	assert.Equal(t, "refund_over_cap", structured["code"])
	require.NotNil(t, res.Meta)
	meta, ok := res.Meta.AdditionalFields[DenialMetaKey].(map[string]any)
	require.True(t, ok, "the _meta denial marks a gateway denial, got %v", res.Meta.AdditionalFields)
	assert.Equal(t, "deny", meta["decision"])
	assert.Zero(t, refunds.Load(), "payments never sees the denied call")

	res = call(4000)
	assert.False(t, res.IsError)
	assert.Equal(t, int32(1), refunds.Load())
}

func TestOpenAIClientReadsModelDenial(t *testing.T) {
	var upstreamCalls, gatewayCalls atomic.Int32
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamCalls.Add(1)
		w.Header().Set("content-type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o-mini",`+
			`"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"ok"}}]}`)
	})
	pinned := func(in *mapping.Input) (*Denial, bool) {
		switch in.Checks[0].ID {
		case "gpt-4o-mini":
			return nil, false
		case "pdp-down":
			return &Denial{Reason: "the policy decision point did not answer", Code: "pdp_unavailable"}, true
		default:
			return &Denial{Reason: "triage-agent is pinned to gpt-4o-mini", Code: "model_not_allowed",
				Remediation: map[string]any{"use_model": "gpt-4o-mini"}}, false
		}
	}
	gw := standInGateway(t, "llm", pinned, upstream)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gatewayCalls.Add(1)
		gw.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	oc := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("per-resource-jwt"))
	complete := func(model string) error {
		_, err := oc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("triage T-2001")},
		})
		return err
	}

	require.NoError(t, complete("gpt-4o-mini"))
	assert.Equal(t, int32(1), upstreamCalls.Load())

	err := complete("gpt-4o")
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "got %T %v", err, err)
	assert.Equal(t, 403, apiErr.StatusCode)
	assert.Equal(t, "model_not_allowed", apiErr.Code)
	assert.Equal(t, "triage-agent is pinned to gpt-4o-mini", apiErr.Message)
	var hopguard Denial
	require.NoError(t, json.Unmarshal([]byte(apiErr.JSON.ExtraFields["hopguard"].Raw()), &hopguard))
	assert.Equal(t, "deny", hopguard.Decision)
	assert.Equal(t, "gpt-4o-mini", hopguard.Remediation["use_model"])
	assert.Equal(t, "deny", apiErr.Response.Header.Get(HeaderDecision))
	assert.Equal(t, int32(1), upstreamCalls.Load(), "the model is never contacted")

	calls := gatewayCalls.Load()
	err = complete("pdp-down")
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, "pdp_unavailable", apiErr.Code)
	assert.Equal(t, calls+1, gatewayCalls.Load(), "x-should-retry: false stops openai-go's retries")
}

// Through mapping and respond together, a denial on Anthropic's path is Anthropic's error, as
// anthropic-sdk-go reads it (Type() is error.type; the raw body keeps hopguard's field), and a
// refusal of the request itself too; OpenAI's paths keep OpenAI's.
func TestAnthropicPathDeniesInAnthropicsShape(t *testing.T) {
	pinned := func(in *mapping.Input) (*Denial, bool) {
		if in.Checks[0].ID == "pdp-down" {
			return &Denial{Reason: "the policy decision point did not answer", Code: "pdp_unavailable"}, true
		}
		return &Denial{Reason: "triage-agent is pinned to gpt-4o-mini", Code: "model_not_allowed"}, false
	}
	srv := httptest.NewServer(standInGateway(t, "llm", pinned, http.NotFoundHandler()))
	t.Cleanup(srv.Close)
	send := func(path, body, token string) (*http.Response, map[string]any) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("content-type", "application/json")
		req.Header.Set("anthropic-version", "2023-06-01")
		if token != "" {
			req.Header.Set("authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var got map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
		return resp, got
	}
	anthropicError := func(t *testing.T, got map[string]any) (kind, code string) {
		t.Helper()
		assert.Equal(t, "error", got["type"])
		e, ok := got["error"].(map[string]any)
		require.True(t, ok, "%v", got)
		hopguard, ok := e["hopguard"].(map[string]any)
		require.True(t, ok, "%v", got)
		assert.Equal(t, "deny", hopguard["decision"])
		assert.Equal(t, hopguard["reason"], e["message"])
		kind, _ = e["type"].(string)
		code, _ = hopguard["code"].(string)
		return kind, code
	}
	messages := `{"model":"%s","max_tokens":64,"messages":[{"role":"user","content":"triage T-2001"}]}`

	t.Run("a policy denial", func(t *testing.T) {
		resp, got := send("/v1/messages", fmt.Sprintf(messages, "claude-x"), "per-resource-jwt")
		assert.Equal(t, 403, resp.StatusCode)
		assert.Equal(t, "false", resp.Header.Get(HeaderShouldRetry))
		kind, code := anthropicError(t, got)
		assert.Equal(t, "permission_error", kind)
		assert.Equal(t, "model_not_allowed", code)
	})
	t.Run("fail closed", func(t *testing.T) {
		resp, got := send("/v1/messages", fmt.Sprintf(messages, "pdp-down"), "per-resource-jwt")
		assert.Equal(t, 503, resp.StatusCode)
		assert.Equal(t, "false", resp.Header.Get(HeaderShouldRetry))
		kind, code := anthropicError(t, got)
		assert.Equal(t, "api_error", kind)
		assert.Equal(t, "pdp_unavailable", code)
	})
	t.Run("a request the mapper refuses", func(t *testing.T) {
		resp, got := send("/v1/messages", `{"model":""}`, "per-resource-jwt")
		assert.Equal(t, 403, resp.StatusCode)
		_, code := anthropicError(t, got)
		assert.Equal(t, mapping.CodeInvalidModel, code)
	})
	t.Run("OpenAI's path keeps OpenAI's shape", func(t *testing.T) {
		resp, got := send("/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`, "per-resource-jwt")
		assert.Equal(t, 403, resp.StatusCode)
		assert.Equal(t, "false", resp.Header.Get(HeaderShouldRetry))
		assert.NotContains(t, got, "type")
		e, ok := got["error"].(map[string]any)
		require.True(t, ok, "%v", got)
		assert.Equal(t, "permission_denied", e["type"])
		assert.Equal(t, "model_not_allowed", e["code"])
	})
}

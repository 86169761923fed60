package agentgateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/gateway-configs/agentgateway"
	"github.com/hopguard/hopguard/mockservers/llm"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
)

// agentgatewayUnavailable is the body of agentgateway's own reply when extAuthz gets no answer
// (v1.4.1, failureMode denyWithStatus; crates/agentgateway/src/http/ext_authz.rs).
const agentgatewayUnavailable = "Authorization service unavailable"

// failClosedHops are requests on each kind of route, with the shape a denial takes there.
var failClosedHops = []struct {
	name, method, path, body string
	plane                    mapping.Plane
	dialect                  mapping.Dialect
}{
	{"chat completions", "POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[]}`, mapping.PlaneModel, mapping.DialectOpenAI},
	{"responses", "POST", "/v1/responses", `{"model":"gpt-4o-mini","input":"hi"}`, mapping.PlaneModel, mapping.DialectOpenAI},
	{"models", "GET", "/v1/models", "", mapping.PlaneModel, mapping.DialectOpenAI},
	{"Anthropic messages", "POST", "/v1/messages", `{"model":"claude-x","max_tokens":8,"messages":[]}`, mapping.PlaneModel, mapping.DialectAnthropic},
	{"Anthropic messages with a query", "POST", "/v1/messages?beta=true", `{"model":"claude-x","max_tokens":8,"messages":[]}`, mapping.PlaneModel, mapping.DialectAnthropic},
	{"Anthropic count_tokens", "POST", "/v1/messages/count_tokens", `{"model":"claude-x","messages":[]}`, mapping.PlaneModel, mapping.DialectAnthropic},
	{"MCP initialize", "POST", "/mcp/tickets", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}`, mapping.PlaneMCP, ""},
	{"MCP stream", "GET", "/mcp/tickets", "", mapping.PlaneMCP, ""},
}

// TestFailClosedRepliesEndToEnd runs the real agentgateway on the rendered config. With synapse
// unreachable, agentgateway's own 503 is marked on every route as Envoy's is (x-hopguard-decision:
// deny, x-should-retry: false and x-hopguard-code: authz_unavailable once each, no decision id)
// but keeps agentgateway's plain-text
// body: v1.4.1 cannot give it the route's JSON body (the last subtest shows why). With synapse
// answering, its own denials (503 and 403) pass with their status, headers and body unchanged.
func TestFailClosedRepliesEndToEnd(t *testing.T) {
	bin := agentgatewayBinary(t)
	if !runIsolated(t) {
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
		for _, hop := range failClosedHops {
			resp, body := failClosedSend(t, gateway, hop.method, hop.path, hop.body)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, hop.name)
			assert.Equal(t, []string{"deny"}, resp.Header.Values(denial.DecisionHeader), hop.name)
			assert.Equal(t, []string{"false"}, resp.Header.Values(respond.HeaderShouldRetry), hop.name)
			assert.Equal(t, []string{respond.CodeAuthzUnavailable}, resp.Header.Values(respond.HeaderCode), "%s: the code in a header, where the body cannot carry it", hop.name)
			assert.Empty(t, resp.Header.Values(denial.DecisionIDHeader), "%s: synapse made no decision", hop.name)
			assert.Equal(t, agentgatewayUnavailable, body, hop.name)
			_, ok := denial.FromBody([]byte(body))
			assert.False(t, ok, "%s: no code to read", hop.name)
		}
	})

	t.Run("synapse's own denials pass unchanged", func(t *testing.T) {
		for name, unavailable := range map[string]bool{"503 pdp_unavailable": true, "403": false} {
			t.Run(name, func(t *testing.T) {
				gateway := runAgentgateway(t, bin, params(startDenyingSynapse(t, unavailable)))
				for _, hop := range failClosedHops {
					resp, body := failClosedSend(t, gateway, hop.method, hop.path, hop.body)
					denied := synapseDenial(unavailable, hop.plane, hop.dialect).GetDeniedResponse()
					assert.EqualValues(t, denied.GetStatus().GetCode(), resp.StatusCode, hop.name)
					assert.JSONEq(t, denied.GetBody(), body, hop.name)
					assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), hop.name)
					assert.Equal(t, []string{"deny"}, resp.Header.Values(denial.DecisionHeader), hop.name)
					assert.Equal(t, []string{"false"}, resp.Header.Values(respond.HeaderShouldRetry), hop.name)
					assert.Equal(t, []string{"dec-e2e"}, resp.Header.Values(denial.DecisionIDHeader), hop.name)
					assert.Empty(t, resp.Header.Values(respond.HeaderCode), "%s: synapse's own 503 keeps its code in the body", hop.name)
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
		authz := startStubAuthz(t)
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
			resp, body := failClosedSend(t, down, "POST", "/v1/chat/completions", chat)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.JSONEq(t, gatewayReply, body, "the gateway's own 503 gets the route's body")

			up := start(t, authz.addr, "''")
			resp, body = failClosedSend(t, up, "POST", "/v1/chat/completions", chat)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Empty(t, body, "the allowed answer's body was replaced too")
		})

		t.Run("with response.body, an event stream answers nothing", func(t *testing.T) {
			up := start(t, authz.addr, "response.body")
			resp, body := failClosedSend(t, up, "POST", "/v1/chat/completions", chat)
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

func failClosedSend(t *testing.T, gateway, method, path, body string) (*http.Response, string) {
	t.Helper()
	resp := do(t, method, gateway+path, body, map[string]string{"Authorization": "Bearer " + upstreamAgentToken})
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(got)
}

// synapseDenial is the denial the stand-in synapse answers with on a route of plane and
// dialect. Its input names no MCP message, so the MCP body is the same for every request.
func synapseDenial(unavailable bool, plane mapping.Plane, dialect mapping.Dialect) *authv3.CheckResponse {
	in := &mapping.Input{Plane: plane, Dialect: dialect}
	if unavailable {
		return respond.Unavailable(in, respond.Denial{Reason: "the policy decision point is unavailable", Code: "pdp_unavailable"}, "dec-e2e")
	}
	return respond.Denied(in, respond.Denial{Reason: "denied by policy", Code: "no_matching_rule"}, "dec-e2e")
}

// denyingSynapse stands in for synapse: it denies every request as synapse would on its route.
type denyingSynapse struct {
	authv3.UnimplementedAuthorizationServer
	unavailable bool
}

func (a denyingSynapse) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	path := req.GetAttributes().GetRequest().GetHttp().GetPath()
	plane, dialect := mapping.PlaneModel, mapping.DialectOpenAI
	switch {
	case strings.HasPrefix(path, "/mcp/"):
		plane, dialect = mapping.PlaneMCP, ""
	case strings.HasPrefix(path, "/v1/messages"):
		dialect = mapping.DialectAnthropic
	}
	return synapseDenial(a.unavailable, plane, dialect), nil
}

func startDenyingSynapse(t *testing.T, unavailable bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, denyingSynapse{unavailable: unavailable})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

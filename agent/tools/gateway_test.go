package tools_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

// The policy outputs the tests deny with, as the policies emit them.
var (
	refundCapOutput = map[string]any{
		"decision": "deny", "reason": "tier-1-support refund cap exceeded", "code": "refund_cap_exceeded",
		"remediation": map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"},
	}
	payrollOutput = map[string]any{
		"decision": "deny", "reason": "payroll requires payroll-admin", "code": "server_not_allowed",
	}
)

// rpc is the part of a JSON-RPC request the fake gateway reads.
type rpc struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Name string `json:"name"`
	} `json:"params"`
}

// decide returns the response a denying gateway writes, or nil to let the
// request through.
type decide func(req rpc) *deniedResponse

type deniedResponse struct {
	status int
	header map[string]string
	body   []byte
}

// fakeGateway stands in for gateway + synapse in front of one mock MCP
// server: it writes the denial bodies of DESIGN.md "Denials the agent can
// read" and never forwards a denied request.
type fakeGateway struct {
	upstream http.Handler
	decide   decide

	mu     sync.Mutex
	tokens []string
}

// Tokens are the Authorization headers the gateway saw.
func (g *fakeGateway) Tokens() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.tokens...)
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.tokens = append(g.tokens, r.Header.Get("Authorization"))
	g.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req rpc
	if r.Method == http.MethodPost && json.Unmarshal(body, &req) == nil && g.decide != nil {
		if d := g.decide(req); d != nil {
			for k, v := range d.header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(d.status)
			_, _ = w.Write(d.body)
			return
		}
	}
	g.upstream.ServeHTTP(w, r)
}

func denyHeaders(id string) map[string]string {
	return map[string]string{
		"Content-Type": "application/json", "X-Hopguard-Decision": "deny", "X-Hopguard-Decision-Id": id,
	}
}

// jsonRPCErrorDenial is a denied handshake (or other non-tools/call method):
// HTTP 200, a JSON-RPC error whose message carries the reason and whose data
// is the policy output.
func jsonRPCErrorDenial(req rpc, code int, output map[string]any) *deniedResponse {
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": req.ID,
		"error": map[string]any{"code": code, "message": "denied: " + output["reason"].(string), "data": output},
	})
	return &deniedResponse{status: http.StatusOK, header: denyHeaders("dec-handshake"), body: body}
}

// toolResultDenial is a denied tools/call: HTTP 200, a result with isError,
// the reason and policy output as text, structuredContent and _meta.
func toolResultDenial(req rpc, output map[string]any) *deniedResponse {
	outJSON, _ := json.Marshal(output)
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": req.ID,
		"result": map[string]any{
			"isError":           true,
			"content":           []any{map[string]any{"type": "text", "text": fmt.Sprintf("denied: %s\n%s", output["reason"], outJSON)}},
			"structuredContent": output,
			"_meta":             map[string]any{"io.hopguard/denial": output},
		},
	})
	return &deniedResponse{status: http.StatusOK, header: denyHeaders("dec-tool"), body: body}
}

// isHandshake is what the policies map to the initialize action.
func isHandshake(req rpc) bool { return req.Method == "initialize" || req.Method == "server/discover" }

// startMCP serves one mock MCP server behind a fake gateway.
func startMCP(t *testing.T, name mcpserver.Name, d decide) (*mcpserver.Server, *fakeGateway, string) {
	t.Helper()
	srv, err := mcpserver.New(mcpserver.Config{Name: name})
	require.NoError(t, err)
	gw := &fakeGateway{upstream: srv, decide: d}
	hs := httptest.NewServer(gw)
	t.Cleanup(hs.Close)
	return srv, gw, hs.URL + mcpserver.EndpointPath
}

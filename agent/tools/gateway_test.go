package tools_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/mcpserver"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
)

// The policy outputs the tests deny with, as the policies emit them.
var (
	refundCapOutput = respond.Denial{
		Decision: "deny", Reason: "tier-1-support refund cap exceeded", Code: "refund_cap_exceeded",
		Remediation: map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"},
	}
	payrollOutput = respond.Denial{Decision: "deny", Reason: "payroll requires payroll-admin", Code: "server_not_allowed"}
	pdpDown       = respond.Denial{Decision: "deny", Reason: "authorization service unavailable", Code: "pdp_unavailable"}
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
// server: it writes the denials synapse/respond builds (CONTRACTS.md "Denial
// responses") and never forwards a denied request.
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

// synapseDenial is what synapse/respond answers req with when the policy
// denies it (or, unavailable, when no decision could be made).
func synapseDenial(req rpc, d respond.Denial, decisionID string, unavailable bool) *deniedResponse {
	in := &mapping.Input{Plane: mapping.PlaneMCP, Messages: []mapping.MCPMessage{{
		Method: req.Method, ID: req.ID, Tool: req.Params.Name, Handshake: isHandshake(req),
	}}}
	resp := respond.Denied(in, d, decisionID, respond.Provenance{})
	if unavailable {
		resp = respond.Unavailable(in, d, decisionID)
	}
	denied := resp.GetDeniedResponse()
	out := &deniedResponse{status: int(denied.GetStatus().GetCode()), header: map[string]string{}, body: []byte(denied.GetBody())}
	for _, h := range denied.GetHeaders() {
		out.header[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return out
}

// handEncoded is a denial in a shape synapse does not send but a gateway in
// front of it might: the agent must still read what it can.
func handEncoded(status int, header map[string]string, body map[string]any) *deniedResponse {
	raw, _ := json.Marshal(body)
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	return &deniedResponse{status: status, header: h, body: raw}
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

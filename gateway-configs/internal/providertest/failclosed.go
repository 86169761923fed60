package providertest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
)

// FailClosedHop is a request on one kind of route, with the shape a denial takes there.
type FailClosedHop struct {
	Name, Method, Path, Body string
	Plane                    mapping.Plane
	Dialect                  mapping.Dialect
	// GatewayStatus is the status of Envoy's (and Istio's) own fail-closed reply there: 200 for
	// an MCP POST (a JSON-RPC answer the MCP Go SDK reads), 503 elsewhere.
	GatewayStatus int
}

// FailClosedHops are requests on each kind of route the fail-closed tests send.
var FailClosedHops = []FailClosedHop{
	{"chat completions", "POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[]}`, mapping.PlaneModel, mapping.DialectOpenAI, 503},
	{"responses", "POST", "/v1/responses", `{"model":"gpt-4o-mini","input":"hi"}`, mapping.PlaneModel, mapping.DialectOpenAI, 503},
	{"models", "GET", "/v1/models", "", mapping.PlaneModel, mapping.DialectOpenAI, 503},
	{"Anthropic messages", "POST", "/v1/messages", `{"model":"claude-x","max_tokens":8,"messages":[]}`, mapping.PlaneModel, mapping.DialectAnthropic, 503},
	{"Anthropic messages with a query", "POST", "/v1/messages?beta=true", `{"model":"claude-x","max_tokens":8,"messages":[]}`, mapping.PlaneModel, mapping.DialectAnthropic, 503},
	{"Anthropic count_tokens", "POST", "/v1/messages/count_tokens", `{"model":"claude-x","messages":[]}`, mapping.PlaneModel, mapping.DialectAnthropic, 503},
	{"MCP initialize", "POST", "/mcp/tickets", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}`, mapping.PlaneMCP, "", 200},
	{"MCP tools/call with a string id", "POST", "/mcp/tickets", `{"jsonrpc":"2.0","id":"call-7","method":"tools/call","params":{"name":"get_ticket"}}`, mapping.PlaneMCP, "", 200},
	{"MCP notification", "POST", "/mcp/tickets", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, mapping.PlaneMCP, "", 200},
	{"MCP stream", "GET", "/mcp/tickets", "", mapping.PlaneMCP, "", 503},
	{"MCP close", "DELETE", "/mcp/tickets", "", mapping.PlaneMCP, "", 503},
}

// SendAsAgent sends body (JSON, if any) to gateway+path with method and the agent's credential,
// and returns the response with its whole body read.
func SendAsAgent(t *testing.T, gateway, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, gateway+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+AgentToken)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(got)
}

// SynapseDenial is the denial the stand-in synapse of StartDenyingAuthz answers with on a route
// of plane and dialect: 503 pdp_unavailable if unavailable, else 403 no_matching_rule, decision
// id dec-e2e. Its input names no MCP message, so the MCP body is the same for every request.
func SynapseDenial(unavailable bool, plane mapping.Plane, dialect mapping.Dialect) *authv3.CheckResponse {
	in := &mapping.Input{Plane: plane, Dialect: dialect}
	if unavailable {
		return respond.Unavailable(in, respond.Denial{Reason: "the policy decision point is unavailable", Code: "pdp_unavailable"}, "dec-e2e")
	}
	return respond.Denied(in, respond.Denial{Reason: "denied by policy", Code: "no_matching_rule"}, "dec-e2e", respond.Provenance{})
}

// denyingAuthz stands in for synapse: it denies every request as synapse would on its route.
type denyingAuthz struct {
	authv3.UnimplementedAuthorizationServer
	unavailable bool
}

func (a denyingAuthz) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	path := req.GetAttributes().GetRequest().GetHttp().GetPath()
	plane, dialect := mapping.PlaneModel, mapping.DialectOpenAI
	switch {
	case strings.HasPrefix(path, "/mcp/"):
		plane, dialect = mapping.PlaneMCP, ""
	case strings.HasPrefix(path, "/v1/messages"):
		dialect = mapping.DialectAnthropic
	}
	return SynapseDenial(a.unavailable, plane, dialect), nil
}

// StartDenyingAuthz runs, until the test ends, a stand-in synapse on 127.0.0.1 that denies every
// request with SynapseDenial for its route, and returns its address.
func StartDenyingAuthz(t *testing.T, unavailable bool) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, denyingAuthz{unavailable: unavailable})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return netip.MustParseAddrPort(ln.Addr().String())
}

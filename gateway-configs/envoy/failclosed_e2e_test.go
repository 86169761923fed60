package envoy_test

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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
)

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

// TestFailClosedRepliesEndToEnd runs the real Envoy on the rendered config. With synapse
// unreachable, Envoy's own 503 carries, on every route, the body synapse's own 503 has there
// with code authz_unavailable, x-hopguard-decision: deny and x-should-retry: false once each,
// and no decision id. With synapse answering, its own denials (503 and 403) pass unchanged.
func TestFailClosedRepliesEndToEnd(t *testing.T) {
	envoyBin, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("not run: real Envoy not available: %v", err)
	}
	if !providertest.RunHereIsolatedIfPossible(t) {
		return
	}
	params := func(synapse netip.AddrPort) envoy.Params {
		return envoy.Params{
			Listen:     providertest.FreeAddr(t),
			Admin:      providertest.FreeAddr(t),
			Synapse:    synapse,
			LLM:        providertest.FreeAddr(t),
			MCPServers: []envoy.MCPServer{{Name: "tickets", Addr: providertest.FreeAddr(t)}},
		}
	}
	start := func(t *testing.T, p envoy.Params) string {
		config, err := envoy.Render(p)
		require.NoError(t, err)
		return providertest.StartEnvoy(t, envoyBin, config, p.Listen, p.Admin).URL
	}

	t.Run("synapse unreachable: Envoy's own 503 in the route's shape", func(t *testing.T) {
		gateway := start(t, params(providertest.FreeAddr(t))) // nothing listens there
		for _, hop := range failClosedHops {
			resp, body := send(t, gateway, hop.method, hop.path, hop.body)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, hop.name)
			assert.Equal(t, []string{"deny"}, resp.Header.Values(denial.DecisionHeader), hop.name)
			assert.Equal(t, []string{"false"}, resp.Header.Values(respond.HeaderShouldRetry), hop.name)
			assert.Empty(t, resp.Header.Values(denial.DecisionIDHeader), "%s: synapse made no decision", hop.name)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), hop.name)
			assert.JSONEq(t, respond.GatewayUnavailableBody(hop.plane, hop.dialect), body, hop.name)
			d, ok := denial.FromBody([]byte(body))
			require.True(t, ok, "%s: %s", hop.name, body)
			assert.Equal(t, respond.CodeAuthzUnavailable, d.Code, hop.name)
		}
	})

	t.Run("synapse's own denials pass unchanged", func(t *testing.T) {
		for name, unavailable := range map[string]bool{"503 pdp_unavailable": true, "403": false} {
			t.Run(name, func(t *testing.T) {
				authz := startDenyingAuthz(t, unavailable)
				gateway := start(t, params(authz))
				for _, hop := range failClosedHops {
					resp, body := send(t, gateway, hop.method, hop.path, hop.body)
					want := deniedBy(unavailable, hop.plane, hop.dialect)
					denied := want.GetDeniedResponse()
					assert.EqualValues(t, denied.GetStatus().GetCode(), resp.StatusCode, hop.name)
					assert.JSONEq(t, denied.GetBody(), body, hop.name)
					assert.Equal(t, []string{"deny"}, resp.Header.Values(denial.DecisionHeader), hop.name)
					assert.Equal(t, []string{"false"}, resp.Header.Values(respond.HeaderShouldRetry), hop.name)
					assert.Equal(t, []string{"dec-e2e"}, resp.Header.Values(denial.DecisionIDHeader), hop.name)
				}
			})
		}
	})
}

func send(t *testing.T, gateway, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, gateway+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+providertest.AgentToken)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(got)
}

// deniedBy is the denial the stand-in synapse answers with on a route of plane and dialect.
// Its input names no MCP message, so the MCP body is the same for every request.
func deniedBy(unavailable bool, plane mapping.Plane, dialect mapping.Dialect) *authv3.CheckResponse {
	in := &mapping.Input{Plane: plane, Dialect: dialect}
	if unavailable {
		return respond.Unavailable(in, respond.Denial{Reason: "the policy decision point is unavailable", Code: "pdp_unavailable"}, "dec-e2e")
	}
	return respond.Denied(in, respond.Denial{Reason: "denied by policy", Code: "no_matching_rule"}, "dec-e2e")
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
	return deniedBy(a.unavailable, plane, dialect), nil
}

func startDenyingAuthz(t *testing.T, unavailable bool) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, denyingAuthz{unavailable: unavailable})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return netip.MustParseAddrPort(ln.Addr().String())
}

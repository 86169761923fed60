package envoy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
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
	// gatewayStatus is the status of the gateway's own fail-closed reply there: 200 for an MCP
	// POST (a JSON-RPC answer the MCP Go SDK reads), 503 elsewhere.
	gatewayStatus int
}{
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

// TestFailClosedRepliesEndToEnd runs the real Envoy on the rendered config. With synapse
// unreachable, Envoy's own reply carries, on every route, the body synapse's own fail-closed
// reply has there with code authz_unavailable, x-hopguard-decision: deny, x-should-retry: false
// and x-hopguard-code: authz_unavailable once each, and no decision id; its status is 503, 200
// for an MCP POST. With synapse answering, its own denials (503 and 403) pass unchanged.
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

	t.Run("synapse unreachable: Envoy's own reply in the route's shape", func(t *testing.T) {
		p := params(providertest.FreeAddr(t)) // nothing listens on its synapse
		gateway := start(t, p)
		for _, hop := range failClosedHops {
			before := jsonToMetadataRequests(t, p.Admin)
			resp, body := send(t, gateway, hop.method, hop.path, hop.body)
			// json_to_metadata runs on the MCP routes only: it parses an MCP POST's body and
			// never a model route's (the filter is disabled there; see envoy.yaml.tmpl).
			if after := jsonToMetadataRequests(t, p.Admin); hop.plane == mapping.PlaneMCP && hop.method == http.MethodPost {
				assert.Greater(t, after, before, "%s: json_to_metadata read the body", hop.name)
			} else if hop.plane == mapping.PlaneModel {
				assert.Equal(t, before, after, "%s: json_to_metadata did not run on the model route", hop.name)
			}
			assert.Equal(t, hop.gatewayStatus, resp.StatusCode, hop.name)
			assert.Equal(t, []string{"deny"}, resp.Header.Values(denial.DecisionHeader), hop.name)
			assert.Equal(t, []string{"false"}, resp.Header.Values(respond.HeaderShouldRetry), hop.name)
			assert.Equal(t, []string{respond.CodeAuthzUnavailable}, resp.Header.Values(respond.HeaderCode), hop.name)
			assert.Empty(t, resp.Header.Values(denial.DecisionIDHeader), "%s: synapse made no decision", hop.name)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), hop.name)
			assert.JSONEq(t, answering(respond.GatewayUnavailableBody(hop.plane, hop.dialect), hop.body), body, hop.name)
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
					assert.Empty(t, resp.Header.Values(respond.HeaderCode), hop.name)
				}
			})
		}
	})
}

// jsonToMetadataRequests is the number of requests Envoy's json_to_metadata filter has handled
// (the sum of its json_to_metadata.rq.* counters), read from the admin's stats.
func jsonToMetadataRequests(t *testing.T, admin netip.AddrPort) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/stats?filter=^json_to_metadata%%5C.rq%%5C.", admin))
	require.NoError(t, err)
	defer resp.Body.Close()
	stats, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	total, counters := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(stats)), "\n") {
		name, value, ok := strings.Cut(line, ": ")
		require.True(t, ok, "a stats line: %q", line)
		n, err := strconv.Atoi(value)
		require.NoError(t, err, name)
		total, counters = total+n, counters+1
	}
	require.NotZero(t, counters, "Envoy has json_to_metadata's counters")
	return total
}

// answering is the gateway's fail-closed body for a request: on MCP, a JSON-RPC error for the
// request's id (null when it has none), which Envoy reads from the body (json_to_metadata).
func answering(body, request string) string {
	var reply, req map[string]any
	if json.Unmarshal([]byte(body), &reply) != nil || json.Unmarshal([]byte(request), &req) != nil {
		return body
	}
	if _, rpc := reply["jsonrpc"]; !rpc {
		return body
	}
	reply["id"] = req["id"]
	out, _ := json.Marshal(reply)
	return string(out)
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

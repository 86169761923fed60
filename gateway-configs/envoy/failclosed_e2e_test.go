package envoy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
)

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
			Synapse:    []netip.AddrPort{synapse},
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
		for _, hop := range providertest.FailClosedHops {
			before := jsonToMetadataRequests(t, p.Admin)
			resp, body := providertest.SendAsAgent(t, gateway, hop.Method, hop.Path, hop.Body)
			// json_to_metadata runs on the MCP routes only: it parses an MCP POST's body and
			// never a model route's (the filter is disabled there; see envoy.yaml.tmpl).
			if after := jsonToMetadataRequests(t, p.Admin); hop.Plane == mapping.PlaneMCP && hop.Method == http.MethodPost {
				assert.Greater(t, after, before, "%s: json_to_metadata read the body", hop.Name)
			} else if hop.Plane == mapping.PlaneModel {
				assert.Equal(t, before, after, "%s: json_to_metadata did not run on the model route", hop.Name)
			}
			assert.Equal(t, hop.GatewayStatus, resp.StatusCode, hop.Name)
			assert.Equal(t, []string{"deny"}, resp.Header.Values(denial.DecisionHeader), hop.Name)
			assert.Equal(t, []string{"false"}, resp.Header.Values(respond.HeaderShouldRetry), hop.Name)
			assert.Equal(t, []string{respond.CodeAuthzUnavailable}, resp.Header.Values(respond.HeaderCode), hop.Name)
			assert.Empty(t, resp.Header.Values(denial.DecisionIDHeader), "%s: synapse made no decision", hop.Name)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), hop.Name)
			assert.JSONEq(t, answering(respond.GatewayUnavailableBody(hop.Plane, hop.Dialect), hop.Body), body, hop.Name)
			d, ok := denial.FromBody([]byte(body))
			require.True(t, ok, "%s: %s", hop.Name, body)
			assert.Equal(t, respond.CodeAuthzUnavailable, d.Code, hop.Name)
		}
	})

	t.Run("synapse's own denials pass unchanged", func(t *testing.T) {
		for name, unavailable := range map[string]bool{"503 pdp_unavailable": true, "403": false} {
			t.Run(name, func(t *testing.T) {
				authz := providertest.StartDenyingAuthz(t, unavailable)
				gateway := start(t, params(authz))
				for _, hop := range providertest.FailClosedHops {
					resp, body := providertest.SendAsAgent(t, gateway, hop.Method, hop.Path, hop.Body)
					want := providertest.SynapseDenial(unavailable, hop.Plane, hop.Dialect)
					denied := want.GetDeniedResponse()
					assert.EqualValues(t, denied.GetStatus().GetCode(), resp.StatusCode, hop.Name)
					assert.JSONEq(t, denied.GetBody(), body, hop.Name)
					assert.Equal(t, []string{"deny"}, resp.Header.Values(denial.DecisionHeader), hop.Name)
					assert.Equal(t, []string{"false"}, resp.Header.Values(respond.HeaderShouldRetry), hop.Name)
					assert.Equal(t, []string{"dec-e2e"}, resp.Header.Values(denial.DecisionIDHeader), hop.Name)
					assert.Empty(t, resp.Header.Values(respond.HeaderCode), hop.Name)
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

package istio

import (
	"strings"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/mapping"
)

func synapseTable(t *testing.T) mapping.RouteTable {
	t.Helper()
	routes, err := SynapseRoutes()
	require.NoError(t, err)
	var table mapping.RouteTable
	for _, r := range routes {
		table = append(table, mapping.Route{PathPrefix: r.PathPrefix, Resource: r.Resource})
	}
	require.NoError(t, table.Validate(), "synapse refuses the table")
	return table
}

// resourceOfCluster is the resource behind an Istio outbound cluster, by its ServiceEntry host.
func resourceOfCluster(t *testing.T, name string) string {
	t.Helper()
	host, err := clusterHost(name)
	require.NoError(t, err)
	if host == llmHost {
		return mapping.ResourceLLM
	}
	server, ok := strings.CutSuffix(host, mcpHostSuffix)
	require.True(t, ok, "cluster %s is neither the LLM nor an MCP server", name)
	return mapping.MCPResourcePrefix + server
}

// Every path the served routes send upstream resolves, by synapse's own rule, to the resource
// behind the route's cluster. Istio sends no context extensions: this agreement is all that
// ties a path to a resource.
func TestSynapseRoutesAgreeWithTheServedRoutes(t *testing.T) {
	table := synapseTable(t)
	res, _, err := Build(sampleParams())
	require.NoError(t, err)

	checked := 0
	for _, rc := range res.Routes {
		for _, vh := range rc.GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				want := resourceOfCluster(t, r.GetRoute().GetCluster())
				for _, path := range pathsRoutedBy(t, r.GetMatch()) {
					got, ok := table.Lookup(path)
					assert.True(t, ok, "route %s sends %s upstream, synapse's table has no entry for it", r.GetName(), path)
					assert.Equal(t, want, got, "route %s, path %s", r.GetName(), path)
					checked++
				}
			}
		}
	}
	assert.GreaterOrEqual(t, checked, 7, "every route was checked")
}

// pathsRoutedBy returns sample paths a route match sends upstream.
func pathsRoutedBy(t *testing.T, m *route.RouteMatch) []string {
	t.Helper()
	switch {
	case m.GetPath() != "":
		return []string{m.GetPath(), m.GetPath() + "?session=1"}
	case m.GetPrefix() != "":
		p := strings.TrimSuffix(m.GetPrefix(), "/")
		return []string{p, p + "/chat/completions", p + "/models/gpt-4o-mini"}
	default:
		t.Fatalf("route match %v is neither an exact path nor a prefix", m)
		return nil
	}
}

// Paths no route sends upstream match nothing in the table either, or synapse would have a
// resource for a path the gateway never forwards.
func TestSynapseRoutesMatchNothingElse(t *testing.T) {
	table := synapseTable(t)
	for _, path := range []string{
		"/", "/mcp", "/mcp/", "/mcp/tickets/", "/mcp/tickets/x", "/mcp/TICKETS", "/v1beta",
		"/mcp/tickets/../payroll", "//mcp/payments", "/mcp/%70ayroll", "/admin/config",
	} {
		got, ok := table.Lookup(path)
		assert.False(t, ok, "%s resolves to %s", path, got)
	}
}

func TestParseRoutesIsStrict(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":   "routes: [{path_prefix: /v1, resource: llm, priority: 1}]",
		"camel case key":  "routes: [{pathPrefix: /v1, resource: llm}]",
		"empty":           "routes: []",
		"relative prefix": "routes: [{path_prefix: v1, resource: llm}]",
		"no resource":     "routes: [{path_prefix: /v1}]",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseRoutes([]byte(doc))
			assert.Error(t, err)
		})
	}
}

package gateways_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/stack"
	envoyconfig "github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/gateway-configs/istio"
	"github.com/hopguard/hopguard/synapse/mapping"
)

// envoyRoute is what the test reads of a route in the rendered Envoy config.
type envoyRoute struct {
	Name  string `yaml:"name"`
	Match struct {
		Path                string `yaml:"path"`
		PathSeparatedPrefix string `yaml:"path_separated_prefix"`
		Prefix              string `yaml:"prefix"`
	} `yaml:"match"`
	DirectResponse  map[string]any `yaml:"direct_response"`
	PerFilterConfig struct {
		ExtAuthz struct {
			Disabled      bool `yaml:"disabled"`
			CheckSettings struct {
				ContextExtensions map[string]string `yaml:"context_extensions"`
			} `yaml:"check_settings"`
		} `yaml:"envoy.filters.http.ext_authz"`
	} `yaml:"typed_per_filter_config"`
}

func envoyRoutes(t *testing.T) []envoyRoute {
	t.Helper()
	raw, err := envoyconfig.Render(gateways.EnvoyParams(newFakeLayout(t.TempDir()), "envoy"))
	require.NoError(t, err)
	var cfg struct {
		StaticResources struct {
			Listeners []struct {
				FilterChains []struct {
					Filters []struct {
						TypedConfig struct {
							RouteConfig struct {
								VirtualHosts []struct {
									Routes []envoyRoute `yaml:"routes"`
								} `yaml:"virtual_hosts"`
							} `yaml:"route_config"`
						} `yaml:"typed_config"`
					} `yaml:"filters"`
				} `yaml:"filter_chains"`
			} `yaml:"listeners"`
		} `yaml:"static_resources"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	var routes []envoyRoute
	for _, l := range cfg.StaticResources.Listeners {
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				for _, vh := range f.TypedConfig.RouteConfig.VirtualHosts {
					routes = append(routes, vh.Routes...)
				}
			}
		}
	}
	require.NotEmpty(t, routes)
	return routes
}

// One synapse serves every gateway with Istio's route table. Envoy sends each route's resource
// as a context extension, and synapse denies a request when the two disagree (route_conflict):
// every path an Envoy route forwards has the same resource in the table, so the two decide alike.
func TestEnvoyContextExtensionsAgreeWithSynapsesRouteTable(t *testing.T) {
	entries, err := istio.SynapseRoutes()
	require.NoError(t, err)
	var table mapping.RouteTable
	for _, r := range entries {
		table = append(table, mapping.Route{PathPrefix: r.PathPrefix, Resource: r.Resource})
	}
	require.NoError(t, table.Validate())

	forwarded := 0
	for _, r := range envoyRoutes(t) {
		ext := r.PerFilterConfig.ExtAuthz
		if r.DirectResponse != nil {
			assert.True(t, ext.Disabled, "route %s answers itself and asks no one", r.Name)
			continue
		}
		resource := ext.CheckSettings.ContextExtensions["resource"]
		require.NotEmpty(t, resource, "route %s forwards without telling synapse its resource", r.Name)
		var paths []string
		switch m := r.Match; {
		case m.Path != "":
			paths = []string{m.Path}
		case m.PathSeparatedPrefix != "":
			paths = []string{m.PathSeparatedPrefix, m.PathSeparatedPrefix + "/chat/completions", m.PathSeparatedPrefix + "/models"}
		default:
			t.Fatalf("route %s matches neither an exact path nor a separated prefix: %+v", r.Name, m)
		}
		for _, path := range paths {
			got, ok := table.Lookup(path)
			assert.True(t, ok, "route %s forwards %s, the table has no entry for it", r.Name, path)
			assert.Equal(t, resource, got, "route %s, path %s", r.Name, path)
		}
		forwarded++
	}
	assert.Equal(t, 1+len(stack.MCPServers()), forwarded, "the LLM route and one route per MCP server")
}

package envoy_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/envoy"
)

func sampleParams() envoy.Params {
	at := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port) }
	return envoy.Params{
		Listen:  at(18080),
		Admin:   at(18081),
		Synapse: at(18082),
		LLM:     at(18083),
		MCPServers: []envoy.MCPServer{
			{Name: "tickets", Addr: at(18084)},
			{Name: "crm", Addr: at(18085)},
			{Name: "payments", Addr: at(18086)},
			{Name: "payroll", Addr: at(18087)},
		},
	}
}

// TestRenderedConfigIsValidForEnvoy runs the real Envoy 1.40 in validate mode on the rendered
// config, governed and the benchmark's ungoverned baseline: the only check that proves every
// field name and type is one Envoy accepts.
func TestRenderedConfigIsValidForEnvoy(t *testing.T) {
	envoyBin, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("real Envoy not available: %v", err)
	}
	for _, withoutAuthz := range []bool{false, true} {
		t.Run(fmt.Sprintf("WithoutAuthz=%t", withoutAuthz), func(t *testing.T) {
			p := sampleParams()
			p.WithoutAuthz = withoutAuthz
			config, err := envoy.Render(p)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "envoy.yaml")
			require.NoError(t, os.WriteFile(path, config, 0o600))

			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, envoyBin, "--mode", "validate", "-c", path, "--use-dynamic-base-id", "--log-level", "warn").CombinedOutput()
			require.NoError(t, err, "envoy --mode validate rejected the config:\n%s", out)
			assert.Contains(t, string(out), "OK")
		})
	}
}

// route is the part of a rendered route the assertions read.
type route struct {
	Name  string
	Match struct {
		Path                string `yaml:"path"`
		PathSeparatedPrefix string `yaml:"path_separated_prefix"`
		Prefix              string `yaml:"prefix"`
	}
	Route *struct {
		Cluster       string `yaml:"cluster"`
		PrefixRewrite string `yaml:"prefix_rewrite"`
	}
	DirectResponse *struct {
		Status int `yaml:"status"`
	} `yaml:"direct_response"`
	RequestHeadersToAdd []struct {
		Header struct{ Key, Value string }
	} `yaml:"request_headers_to_add"`
	PerFilter map[string]struct {
		Disabled      bool `yaml:"disabled"`
		CheckSettings struct {
			ContextExtensions map[string]string `yaml:"context_extensions"`
		} `yaml:"check_settings"`
	} `yaml:"typed_per_filter_config"`
}

func renderedRoutes(t *testing.T, config []byte) []route {
	t.Helper()
	var doc struct {
		StaticResources struct {
			Listeners []struct {
				FilterChains []struct {
					Filters []struct {
						TypedConfig struct {
							RouteConfig struct {
								VirtualHosts []struct {
									Routes []route
								} `yaml:"virtual_hosts"`
							} `yaml:"route_config"`
						} `yaml:"typed_config"`
					}
				} `yaml:"filter_chains"`
			}
		} `yaml:"static_resources"`
	}
	require.NoError(t, yaml.Unmarshal(config, &doc))
	return doc.StaticResources.Listeners[0].FilterChains[0].Filters[0].TypedConfig.RouteConfig.VirtualHosts[0].Routes
}

func TestRenderRoutesNameTheirResource(t *testing.T) {
	config, err := envoy.Render(sampleParams())
	require.NoError(t, err)
	routes := renderedRoutes(t, config)
	require.Len(t, routes, 6)

	tests := []struct {
		name, path, prefix, cluster, rewrite, resource string
	}{
		{name: "llm", prefix: "/v1", cluster: "llm", resource: "llm"},
		{name: "mcp_tickets", path: "/mcp/tickets", cluster: "mcp_tickets", rewrite: "/mcp", resource: "mcp:tickets"},
		{name: "mcp_crm", path: "/mcp/crm", cluster: "mcp_crm", rewrite: "/mcp", resource: "mcp:crm"},
		{name: "mcp_payments", path: "/mcp/payments", cluster: "mcp_payments", rewrite: "/mcp", resource: "mcp:payments"},
		{name: "mcp_payroll", path: "/mcp/payroll", cluster: "mcp_payroll", rewrite: "/mcp", resource: "mcp:payroll"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := routes[i]
			assert.Equal(t, tt.name, r.Name)
			assert.Equal(t, tt.path, r.Match.Path)
			assert.Equal(t, tt.prefix, r.Match.PathSeparatedPrefix)
			require.NotNil(t, r.Route)
			assert.Equal(t, tt.cluster, r.Route.Cluster)
			assert.Equal(t, tt.rewrite, r.Route.PrefixRewrite)
			authz := r.PerFilter["envoy.filters.http.ext_authz"]
			assert.False(t, authz.Disabled)
			assert.Equal(t, map[string]string{"resource": tt.resource}, authz.CheckSettings.ContextExtensions)
		})
	}

	t.Run("provider key only on the LLM route", func(t *testing.T) {
		require.Len(t, routes[0].RequestHeadersToAdd, 1)
		assert.Equal(t, "authorization", routes[0].RequestHeadersToAdd[0].Header.Key)
		assert.Equal(t, "Bearer "+envoy.DefaultProviderKey, routes[0].RequestHeadersToAdd[0].Header.Value)
		for _, r := range routes[1:] {
			assert.Empty(t, r.RequestHeadersToAdd, r.Name)
		}
	})

	t.Run("unknown paths get a 404 from Envoy, not an upstream", func(t *testing.T) {
		last := routes[len(routes)-1]
		assert.Equal(t, "/", last.Match.Prefix)
		assert.Nil(t, last.Route)
		require.NotNil(t, last.DirectResponse)
		assert.Equal(t, 404, last.DirectResponse.Status)
	})
}

func TestRenderRejectsBadParams(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*envoy.Params)
		want   string
	}{
		{name: "admin off loopback", mutate: func(p *envoy.Params) {
			p.Admin = netip.MustParseAddrPort("0.0.0.0:9901")
		}, want: "not a loopback address"},
		{name: "missing synapse", mutate: func(p *envoy.Params) { p.Synapse = netip.AddrPort{} }, want: "synapse address"},
		{name: "port zero", mutate: func(p *envoy.Params) { p.LLM = netip.MustParseAddrPort("127.0.0.1:0") }, want: "llm address"},
		{name: "server name with a path", mutate: func(p *envoy.Params) { p.MCPServers[0].Name = "tickets/../payroll" }, want: "must match"},
		{name: "server name with YAML", mutate: func(p *envoy.Params) { p.MCPServers[0].Name = "x\"}" }, want: "must match"},
		{name: "duplicate server", mutate: func(p *envoy.Params) { p.MCPServers[1].Name = "tickets" }, want: "listed twice"},
		{name: "provider key with a quote", mutate: func(p *envoy.Params) { p.ProviderKey = `sk"` }, want: "provider key"},
		{name: "negative body limit", mutate: func(p *envoy.Params) { p.MaxRequestBytes = -1 }, want: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := sampleParams()
			tt.mutate(&p)
			_, err := envoy.Render(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestRenderAppliesDefaults(t *testing.T) {
	config, err := envoy.Render(sampleParams())
	require.NoError(t, err)
	text := string(config)
	assert.Contains(t, text, "max_request_bytes: 1048576")
	assert.Contains(t, text, "timeout: 2.000s")
	assert.Contains(t, text, "failure_mode_allow: false")
	assert.Contains(t, text, "status_on_error: { code: ServiceUnavailable }")
	assert.Contains(t, text, "pack_as_bytes: true")
}

// hcmFilters are the HTTP filters of the rendered gateway, in order.
func hcmFilters(t *testing.T, config []byte) []string {
	t.Helper()
	var doc struct {
		StaticResources struct {
			Listeners []struct {
				FilterChains []struct {
					Filters []struct {
						TypedConfig struct {
							HTTPFilters []struct {
								Name string `yaml:"name"`
							} `yaml:"http_filters"`
						} `yaml:"typed_config"`
					}
				} `yaml:"filter_chains"`
			}
		} `yaml:"static_resources"`
	}
	require.NoError(t, yaml.Unmarshal(config, &doc))
	var names []string
	for _, f := range doc.StaticResources.Listeners[0].FilterChains[0].Filters[0].TypedConfig.HTTPFilters {
		names = append(names, f.Name)
	}
	return names
}

func TestRenderWithoutAuthzIsTheSameGatewayUngoverned(t *testing.T) {
	governedConfig, err := envoy.Render(sampleParams())
	require.NoError(t, err)
	p := sampleParams()
	p.WithoutAuthz = true
	config, err := envoy.Render(p)
	require.NoError(t, err)
	text := string(config)

	assert.True(t, strings.HasPrefix(text, "# hopguard's benchmark baseline"), "says what it is")
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		assert.NotContains(t, strings.ToLower(line), "ext_authz", "no filter, no per-route settings")
		assert.NotContains(t, strings.ToLower(line), "extauthz", "no filter, no per-route settings")
	}
	assert.Equal(t, []string{"envoy.filters.http.ext_authz", "envoy.filters.http.router"}, hcmFilters(t, governedConfig))
	assert.Equal(t, []string{"envoy.filters.http.router"}, hcmFilters(t, config))

	governed, ungoverned := renderedRoutes(t, governedConfig), renderedRoutes(t, config)
	require.Len(t, ungoverned, len(governed))
	for i, r := range ungoverned {
		assert.Equal(t, governed[i].Name, r.Name)
		assert.Equal(t, governed[i].Match, r.Match, r.Name)
		assert.Equal(t, governed[i].Route, r.Route, r.Name)
		assert.Equal(t, governed[i].DirectResponse, r.DirectResponse, r.Name)
		assert.Equal(t, governed[i].RequestHeadersToAdd, r.RequestHeadersToAdd, "%s: the provider key is still added", r.Name)
		assert.Nil(t, r.PerFilter, r.Name)
	}
	assert.Contains(t, text, fmt.Sprintf("port_value: %d", p.Listen.Port()), "same listener")
	for _, cluster := range []string{"name: llm", "name: mcp_payments", "name: synapse"} {
		assert.Contains(t, text, cluster, "same clusters")
	}
}

package envoy_test

import (
	"context"
	"encoding/json"
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
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
	"github.com/hopguard/hopguard/gateway-configs/internal/responsepathtest"
)

func sampleParams() envoy.Params {
	at := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port) }
	return envoy.Params{
		Listen:  at(18080),
		Admin:   at(18081),
		Synapse: []netip.AddrPort{at(18082)},
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
	for _, tc := range []struct {
		name         string
		withoutAuthz bool
		replicas     int
	}{
		{name: "governed", replicas: 1},
		{name: "governed, two synapse replicas", replicas: 2},
		{name: "WithoutAuthz", withoutAuthz: true, replicas: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := withReplicas(sampleParams(), tc.replicas)
			p.WithoutAuthz = tc.withoutAuthz
			config, err := envoy.Render(p)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "envoy.yaml")
			require.NoError(t, os.WriteFile(path, config, 0o600))

			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, envoyBin, "--mode", "validate", "-c", path, "--use-dynamic-base-id", "--disable-hot-restart", "--log-level", "warn").CombinedOutput()
			require.NoError(t, err, "envoy --mode validate rejected the config:\n%s", out)
			assert.Contains(t, string(out), "OK")
		})
	}
}

// withReplicas is p with n synapse replicas, the first p's own, the others on the next ports.
func withReplicas(p envoy.Params, n int) envoy.Params {
	first := p.Synapse[0]
	p.Synapse = nil
	for i := range n {
		p.Synapse = append(p.Synapse, netip.AddrPortFrom(first.Addr(), first.Port()+uint16(100*i)))
	}
	return p
}

// synapseCluster is the part of the rendered synapse cluster the assertions read.
type synapseCluster struct {
	Name         string `yaml:"name"`
	LbPolicy     string `yaml:"lb_policy"`
	HealthChecks []struct {
		Timeout            string `yaml:"timeout"`
		Interval           string `yaml:"interval"`
		NoTrafficInterval  string `yaml:"no_traffic_interval"`
		UnhealthyThreshold int    `yaml:"unhealthy_threshold"`
		HealthyThreshold   int    `yaml:"healthy_threshold"`
		GRPCHealthCheck    *struct {
			ServiceName string `yaml:"service_name"`
		} `yaml:"grpc_health_check"`
	} `yaml:"health_checks"`
	OutlierDetection map[string]int `yaml:"outlier_detection"`
	CommonLbConfig   map[string]any `yaml:"common_lb_config"`
	LoadAssignment   struct {
		Endpoints []struct {
			LbEndpoints []struct {
				Endpoint struct {
					Address struct {
						SocketAddress struct {
							Address   string `yaml:"address"`
							PortValue uint16 `yaml:"port_value"`
						} `yaml:"socket_address"`
					} `yaml:"address"`
				} `yaml:"endpoint"`
			} `yaml:"lb_endpoints"`
		} `yaml:"endpoints"`
	} `yaml:"load_assignment"`
}

// TestRenderBalancesChecksAcrossEverySynapseReplica: the synapse cluster, which ext_authz and
// ext_proc call, has one endpoint per replica in order, picks them round robin, asks each for
// its gRPC health every second (one failure takes it out, one success puts it back) and ejects
// a replica at the first check that fails there; Envoy's panic threshold is left at its default,
// so that below half of the replicas healthy every replica is asked again. One replica renders
// the same cluster with one endpoint.
func TestRenderBalancesChecksAcrossEverySynapseReplica(t *testing.T) {
	for _, replicas := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("%d replicas", replicas), func(t *testing.T) {
			p := withReplicas(sampleParams(), replicas)
			config, err := envoy.Render(p)
			require.NoError(t, err)
			var doc struct {
				StaticResources struct {
					Clusters []synapseCluster `yaml:"clusters"`
				} `yaml:"static_resources"`
			}
			require.NoError(t, yaml.Unmarshal(config, &doc))
			var c *synapseCluster
			for i := range doc.StaticResources.Clusters {
				if doc.StaticResources.Clusters[i].Name == "synapse" {
					c = &doc.StaticResources.Clusters[i]
				}
			}
			require.NotNil(t, c, "no synapse cluster")

			require.Len(t, c.LoadAssignment.Endpoints, 1, "one locality")
			var got []netip.AddrPort
			for _, lb := range c.LoadAssignment.Endpoints[0].LbEndpoints {
				sock := lb.Endpoint.Address.SocketAddress
				got = append(got, netip.AddrPortFrom(netip.MustParseAddr(sock.Address), sock.PortValue))
			}
			assert.Equal(t, p.Synapse, got)
			assert.Equal(t, "ROUND_ROBIN", c.LbPolicy)

			require.Len(t, c.HealthChecks, 1)
			hc := c.HealthChecks[0]
			require.NotNil(t, hc.GRPCHealthCheck, "grpc.health.v1")
			assert.Equal(t, "envoy.service.auth.v3.Authorization", hc.GRPCHealthCheck.ServiceName, "what synapse reports with its readiness")
			assert.Equal(t, "1s", hc.Interval)
			assert.Equal(t, "1s", hc.NoTrafficInterval, "not Envoy's 60s before the first request")
			assert.Equal(t, "1s", hc.Timeout)
			assert.Equal(t, 1, hc.UnhealthyThreshold)
			assert.Equal(t, 1, hc.HealthyThreshold)

			assert.Equal(t, map[string]int{
				"consecutive_gateway_failure":           1,
				"enforcing_consecutive_gateway_failure": 100,
				"max_ejection_percent":                  100,
			}, c.OutlierDetection)
			assert.Nil(t, c.CommonLbConfig, "Envoy's panic threshold, 50%, stays")
			assert.Contains(t, string(config), "failure_mode_allow: false", "fail closed whatever the replicas")
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
		{name: "missing synapse", mutate: func(p *envoy.Params) { p.Synapse = nil }, want: "no synapse address"},
		{name: "synapse port zero", mutate: func(p *envoy.Params) {
			p.Synapse = append(p.Synapse, netip.MustParseAddrPort("127.0.0.1:0"))
		}, want: "synapse address"},
		{name: "synapse replica twice", mutate: func(p *envoy.Params) { p.Synapse = append(p.Synapse, p.Synapse[0]) }, want: "listed twice"},
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
	var names []string
	for _, f := range httpFilters(t, config) {
		names = append(names, f.Name)
	}
	return names
}

// httpFilter is one HTTP filter of the rendered listener: its name and typed config.
type httpFilter struct {
	Name        string         `yaml:"name"`
	TypedConfig map[string]any `yaml:"typed_config"`
}

// httpFilters are the HTTP filters of the rendered listener, in order.
func httpFilters(t *testing.T, config []byte) []httpFilter {
	t.Helper()
	var doc struct {
		StaticResources struct {
			Listeners []struct {
				FilterChains []struct {
					Filters []struct {
						TypedConfig struct {
							HTTPFilters []httpFilter `yaml:"http_filters"`
						} `yaml:"typed_config"`
					}
				} `yaml:"filter_chains"`
			}
		} `yaml:"static_resources"`
	}
	require.NoError(t, yaml.Unmarshal(config, &doc))
	return doc.StaticResources.Listeners[0].FilterChains[0].Filters[0].TypedConfig.HTTPFilters
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
	assert.Equal(t, []string{"envoy.filters.http.json_to_metadata", "envoy.filters.http.ext_authz", "envoy.filters.http.ext_proc", "envoy.filters.http.router"}, hcmFilters(t, governedConfig),
		"json_to_metadata reads a JSON-RPC request's id for the fail-closed reply, before ext_authz")
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

// providerParams are sampleParams sending the model route to a real endpoint over TLS.
func providerParams() envoy.Params {
	p := sampleParams()
	p.LLM = netip.AddrPort{}
	p.Provider = &envoy.Provider{Host: "api.openai.com", KeyEnv: "OPENAI_API_KEY"}
	return p
}

// renderedCluster is the part of a rendered cluster the assertions read.
type renderedCluster struct {
	Name           string `yaml:"name"`
	Type           string `yaml:"type"`
	LoadAssignment struct {
		Endpoints []struct {
			LbEndpoints []struct {
				Endpoint struct {
					Address struct {
						SocketAddress struct {
							Address   string `yaml:"address"`
							PortValue int    `yaml:"port_value"`
						} `yaml:"socket_address"`
					} `yaml:"address"`
				} `yaml:"endpoint"`
			} `yaml:"lb_endpoints"`
		} `yaml:"endpoints"`
	} `yaml:"load_assignment"`
	TransportSocket *struct {
		TypedConfig struct {
			SNI              string `yaml:"sni"`
			CommonTLSContext struct {
				ValidationContext struct {
					TrustedCA struct {
						Filename string `yaml:"filename"`
					} `yaml:"trusted_ca"`
					SANs []struct {
						SANType string            `yaml:"san_type"`
						Matcher map[string]string `yaml:"matcher"`
					} `yaml:"match_typed_subject_alt_names"`
				} `yaml:"validation_context"`
			} `yaml:"common_tls_context"`
		} `yaml:"typed_config"`
	} `yaml:"transport_socket"`
}

func renderedLLMCluster(t *testing.T, config []byte) renderedCluster {
	t.Helper()
	var doc struct {
		StaticResources struct {
			Clusters []renderedCluster `yaml:"clusters"`
		} `yaml:"static_resources"`
	}
	require.NoError(t, yaml.Unmarshal(config, &doc))
	for _, c := range doc.StaticResources.Clusters {
		if c.Name == "llm" {
			return c
		}
	}
	t.Fatal("no llm cluster")
	return renderedCluster{}
}

// TestRenderedProviderConfigIsValidForEnvoy runs envoy --mode validate on the provider
// rendering, governed and ungoverned, and shows that Envoy refuses it when the key's
// environment variable is not set: the gateway never starts without the provider key.
func TestRenderedProviderConfigIsValidForEnvoy(t *testing.T) {
	envoyBin, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("not run: real Envoy not available: %v", err)
	}
	validate := func(t *testing.T, p envoy.Params, env ...string) (string, error) {
		config, err := envoy.Render(p)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "envoy.yaml")
		require.NoError(t, os.WriteFile(path, config, 0o600))
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, envoyBin, "--mode", "validate", "-c", path, "--use-dynamic-base-id", "--disable-hot-restart", "--log-level", "warn")
		cmd.Env = append(providertest.WithoutEnv(os.Environ(), "HOPGUARD_TEST_KEY"), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, withoutAuthz := range []bool{false, true} {
		for _, header := range []string{"", "x-api-key"} {
			t.Run(fmt.Sprintf("WithoutAuthz=%t,KeyHeader=%q", withoutAuthz, header), func(t *testing.T) {
				p := providerParams()
				p.WithoutAuthz = withoutAuthz
				p.Provider.KeyHeader = header
				p.Provider.KeyEnv = "HOPGUARD_TEST_KEY"
				out, err := validate(t, p, "HOPGUARD_TEST_KEY=sk-from-the-environment")
				require.NoError(t, err, "envoy --mode validate rejected the config:\n%s", out)
				assert.Contains(t, out, "OK")
			})
		}
	}
	t.Run("the key's variable unset", func(t *testing.T) {
		p := providerParams()
		p.Provider.KeyEnv = "HOPGUARD_TEST_KEY"
		out, err := validate(t, p)
		require.Error(t, err, "Envoy must refuse to start without the provider key:\n%s", out)
		assert.Contains(t, out, "HOPGUARD_TEST_KEY")
	})
}

func TestRenderProviderSendsTheModelRouteOverTLSByHostName(t *testing.T) {
	config, err := envoy.Render(providerParams())
	require.NoError(t, err)
	text := string(config)

	cluster := renderedLLMCluster(t, config)
	assert.Equal(t, "LOGICAL_DNS", cluster.Type)
	address := cluster.LoadAssignment.Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress
	assert.Equal(t, "api.openai.com", address.Address)
	assert.Equal(t, 443, address.PortValue)
	require.NotNil(t, cluster.TransportSocket, "TLS to the provider")
	tlsContext := cluster.TransportSocket.TypedConfig
	assert.Equal(t, "api.openai.com", tlsContext.SNI)
	assert.Equal(t, envoy.DefaultCAFile, tlsContext.CommonTLSContext.ValidationContext.TrustedCA.Filename, "the system roots")
	require.Len(t, tlsContext.CommonTLSContext.ValidationContext.SANs, 1, "Envoy checks no host name unless told to")
	assert.Equal(t, "DNS", tlsContext.CommonTLSContext.ValidationContext.SANs[0].SANType)
	assert.Equal(t, map[string]string{"exact": "api.openai.com"}, tlsContext.CommonTLSContext.ValidationContext.SANs[0].Matcher)

	routes := renderedRoutes(t, config)
	require.Len(t, routes, 6)
	llm := routes[0]
	assert.Equal(t, "llm", llm.Name)
	assert.Empty(t, llm.RequestHeadersToAdd, "no key in the config")
	assert.Contains(t, llm.PerFilter, "envoy.filters.http.credential_injector", "the key is injected on the model route")
	assert.Equal(t, map[string]string{"resource": "llm"}, llm.PerFilter["envoy.filters.http.ext_authz"].CheckSettings.ContextExtensions)
	for _, r := range routes[1:] {
		assert.NotContains(t, r.PerFilter, "envoy.filters.http.credential_injector", "%s: no provider key", r.Name)
		assert.Empty(t, r.RequestHeadersToAdd, r.Name)
	}
	assert.Contains(t, text, "host_rewrite_literal: api.openai.com")
	assert.Contains(t, text, "secret: { environment_variable: OPENAI_API_KEY }")
	assert.NotContains(t, text, envoy.DefaultProviderKey, "the mock's key is not used")
	assert.Contains(t, text, `header_value_prefix: "Bearer "`)

	assert.Equal(t, []string{"envoy.filters.http.json_to_metadata", "envoy.filters.http.ext_authz", "envoy.filters.http.ext_proc", "envoy.filters.http.credential_injector", "envoy.filters.http.router"},
		hcmFilters(t, config), "the key is added after ext_authz")

	t.Run("Anthropic's x-api-key, a port and a CA file", func(t *testing.T) {
		p := providerParams()
		p.Provider = &envoy.Provider{Host: "api.anthropic.com", Port: 8443, CAFile: "/etc/hopguard/ca.pem", KeyEnv: "ANTHROPIC_API_KEY", KeyHeader: "x-api-key"}
		config, err := envoy.Render(p)
		require.NoError(t, err)
		text := string(config)
		assert.Contains(t, text, "header: x-api-key")
		assert.NotContains(t, text, "header_value_prefix", "Anthropic wants the bare key")
		cluster := renderedLLMCluster(t, config)
		assert.Equal(t, 8443, cluster.LoadAssignment.Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress.PortValue)
		assert.Equal(t, "/etc/hopguard/ca.pem", cluster.TransportSocket.TypedConfig.CommonTLSContext.ValidationContext.TrustedCA.Filename)
		assert.Equal(t, "api.anthropic.com", cluster.TransportSocket.TypedConfig.SNI)
	})

	t.Run("without authz the key is still injected, and only there", func(t *testing.T) {
		p := providerParams()
		p.WithoutAuthz = true
		config, err := envoy.Render(p)
		require.NoError(t, err)
		assert.Equal(t, []string{"envoy.filters.http.credential_injector", "envoy.filters.http.router"}, hcmFilters(t, config))
		routes := renderedRoutes(t, config)
		assert.Equal(t, []string{"envoy.filters.http.credential_injector"}, keys(routes[0].PerFilter))
		for _, r := range routes[1:] {
			assert.Nil(t, r.PerFilter, r.Name)
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRenderRejectsBadProviders(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*envoy.Params)
		want   string
	}{
		{name: "an IP address", mutate: func(p *envoy.Params) { p.Provider.Host = "203.0.113.7" }, want: "DNS name"},
		{name: "a host with a port", mutate: func(p *envoy.Params) { p.Provider.Host = "api.openai.com:443" }, want: "DNS name"},
		{name: "a host with YAML", mutate: func(p *envoy.Params) { p.Provider.Host = "x}" }, want: "DNS name"},
		{name: "upper case", mutate: func(p *envoy.Params) { p.Provider.Host = "API.openai.com" }, want: "DNS name"},
		{name: "no key variable", mutate: func(p *envoy.Params) { p.Provider.KeyEnv = "" }, want: "environment variable"},
		{name: "a key, not a variable", mutate: func(p *envoy.Params) { p.Provider.KeyEnv = "sk-proj-123" }, want: "environment variable"},
		{name: "a relative CA file", mutate: func(p *envoy.Params) { p.Provider.CAFile = "ca.pem" }, want: "absolute path"},
		{name: "a CA file with a quote", mutate: func(p *envoy.Params) { p.Provider.CAFile = `/ca".pem` }, want: "absolute path"},
		{name: "another key header", mutate: func(p *envoy.Params) { p.Provider.KeyHeader = "x-goog-api-key" }, want: "key header"},
		{name: "the mock's address too", mutate: func(p *envoy.Params) { p.LLM = netip.MustParseAddrPort("127.0.0.1:18083") }, want: "leave the llm address unset"},
		{name: "an inline key too", mutate: func(p *envoy.Params) { p.ProviderKey = "sk-inline" }, want: "leave ProviderKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := providerParams()
			provider := *p.Provider
			p.Provider = &provider
			tt.mutate(&p)
			_, err := envoy.Render(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	t.Run("Validate fills in the defaults too", func(t *testing.T) {
		assert.NoError(t, providerParams().Validate())
	})
	t.Run("the caller's Provider is left as it was", func(t *testing.T) {
		p := providerParams()
		_, err := envoy.Render(p)
		require.NoError(t, err)
		assert.Equal(t, envoy.Provider{Host: "api.openai.com", KeyEnv: "OPENAI_API_KEY"}, *p.Provider)
	})
}

// TestCommittedExamplesAreTheirRenderings keeps envoy.openai.yaml and envoy.anthropic.yaml in
// step with the template, and has the real Envoy validate them.
func TestCommittedExamplesAreTheirRenderings(t *testing.T) {
	examples := envoy.Examples()
	require.Len(t, examples, 2)
	envoyBin, envoyErr := binaries.Tool("envoy")
	for file, params := range examples {
		t.Run(file, func(t *testing.T) {
			want, err := envoy.Render(params)
			require.NoError(t, err)
			got, err := os.ReadFile(file)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got), "%s is stale: regenerate it with `go generate ./gateway-configs/envoy`", file)
			if envoyErr != nil {
				t.Skipf("not run: envoy --mode validate: real Envoy not available: %v", envoyErr)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, envoyBin, "--mode", "validate", "-c", file, "--use-dynamic-base-id", "--disable-hot-restart", "--log-level", "warn")
			cmd.Env = append(os.Environ(), params.Provider.KeyEnv+"=sk-from-the-environment")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "envoy --mode validate rejected %s:\n%s", file, out)
		})
	}
}

// TestRenderReadsJSONRPCIDsOnTheMCPRoutesOnly: the json_to_metadata filter is disabled by
// default and enabled by each MCP route alone, so the model route's bodies and unknown paths
// are never parsed for an id (the end-to-end test counts it: TestFailClosedRepliesEndToEnd).
func TestRenderReadsJSONRPCIDsOnTheMCPRoutesOnly(t *testing.T) {
	for name, p := range map[string]envoy.Params{"mock LLM": sampleParams(), "provider": providerParams()} {
		config, err := envoy.Render(p)
		require.NoError(t, err)
		assert.Contains(t, string(config), "          - name: envoy.filters.http.json_to_metadata\n            disabled: true\n", name)
		for _, r := range renderedRoutes(t, config) {
			_, enabled := r.PerFilter["envoy.filters.http.json_to_metadata"]
			assert.Equal(t, strings.HasPrefix(r.Name, "mcp_"), enabled, "%s: route %s", name, r.Name)
		}
	}
}

// TestRenderRunsTheResponsePathOnGrantedRequestsOnly: the response path is the ext_proc filter
// behind a matcher that skips it for every request without synapse's grant, so that a tool call
// or a handshake costs no stream to synapse; only an allowed list, which carries a grant, opens
// one. Envoy decodes the same YAML (TestRenderedConfigIsValidForEnvoy).
func TestRenderRunsTheResponsePathOnGrantedRequestsOnly(t *testing.T) {
	for name, p := range map[string]envoy.Params{"mock LLM": sampleParams(), "provider": providerParams()} {
		config, err := envoy.Render(p)
		require.NoError(t, err)
		found := false
		for _, f := range httpFilters(t, config) {
			if f.Name != "envoy.filters.http.ext_proc" {
				continue
			}
			found = true
			raw, err := json.Marshal(f.TypedConfig)
			require.NoError(t, err, name)
			typed := &anypb.Any{}
			require.NoError(t, protojson.Unmarshal(raw, typed), name)
			proc := responsepathtest.GrantedOnly(t, typed)
			assert.False(t, proc.GetFailureModeAllow(), name)
			assert.Equal(t, "synapse", proc.GetGrpcService().GetEnvoyGrpc().GetClusterName(), name)
		}
		assert.True(t, found, "%s: the response path filter", name)
	}
}

package bench

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/stack"
	envoyconfig "github.com/hopguard/hopguard/gateway-configs/envoy"
)

// fakeLayout gives every component/port a distinct loopback port.
type fakeLayout struct{ ports map[string]uint16 }

func (f *fakeLayout) Addr(component, port string) netip.AddrPort {
	key := component + "/" + port
	if _, ok := f.ports[key]; !ok {
		f.ports[key] = uint16(20000 + len(f.ports))
	}
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), f.ports[key])
}
func (f *fakeLayout) Dir(component string) string { return filepath.Join("/run", component) }
func (f *fakeLayout) ModuleRoot() string          { return "/src" }

func governedConfig(t *testing.T, l *fakeLayout, name string) []byte {
	t.Helper()
	raw, err := envoyconfig.Render(gateways.EnvoyParams(l, name))
	require.NoError(t, err)
	return raw
}

func TestWithoutAuthzKeepsEverythingButTheFilter(t *testing.T) {
	l := &fakeLayout{ports: map[string]uint16{}}
	governed := governedConfig(t, l, "envoy")
	require.Contains(t, string(governed), authzFilter)

	out, err := WithoutAuthz(governed)
	require.NoError(t, err)
	assert.NotContains(t, string(out), authzFilter)
	assert.True(t, strings.HasPrefix(string(out), "# hopguard's benchmark baseline"), "says what it is")
	assert.NotContains(t, string(out), "synapse\n# asked", "the governed config's comments are gone")

	var cfg struct {
		StaticResources struct {
			Listeners []struct {
				FilterChains []struct {
					Filters []struct {
						TypedConfig struct {
							RouteConfig struct {
								VirtualHosts []struct {
									Routes []struct {
										Name                 string         `yaml:"name"`
										RequestHeadersToAdd  []any          `yaml:"request_headers_to_add"`
										TypedPerFilterConfig map[string]any `yaml:"typed_per_filter_config"`
									} `yaml:"routes"`
								} `yaml:"virtual_hosts"`
							} `yaml:"route_config"`
							HTTPFilters []struct {
								Name string `yaml:"name"`
							} `yaml:"http_filters"`
						} `yaml:"typed_config"`
					} `yaml:"filters"`
				} `yaml:"filter_chains"`
			} `yaml:"listeners"`
			Clusters []struct {
				Name string `yaml:"name"`
			} `yaml:"clusters"`
		} `yaml:"static_resources"`
	}
	require.NoError(t, yaml.Unmarshal(out, &cfg))
	hcm := cfg.StaticResources.Listeners[0].FilterChains[0].Filters[0].TypedConfig
	require.Len(t, hcm.HTTPFilters, 1)
	assert.Equal(t, "envoy.filters.http.router", hcm.HTTPFilters[0].Name)
	var routes []string
	for _, r := range hcm.RouteConfig.VirtualHosts[0].Routes {
		routes = append(routes, r.Name)
		assert.Nil(t, r.TypedPerFilterConfig, "route %s", r.Name)
		if r.Name == "llm" {
			assert.Len(t, r.RequestHeadersToAdd, 1, "the provider key is still added")
		}
	}
	assert.Equal(t, []string{"llm", "mcp_tickets", "mcp_crm", "mcp_payments", "mcp_payroll", "not_found"}, routes)
	var clusters []string
	for _, c := range cfg.StaticResources.Clusters {
		clusters = append(clusters, c.Name)
	}
	assert.Contains(t, clusters, "llm")
	assert.Contains(t, clusters, "mcp_payments")
	assert.Contains(t, string(out), fmt.Sprintf("port_value: %d", l.Addr("envoy", "http").Port()), "same listener")
}

func TestWithoutAuthzRefusesAConfigWithNothingToRemove(t *testing.T) {
	_, err := WithoutAuthz([]byte("static_resources: {listeners: []}\n"))
	assert.ErrorContains(t, err, "no ext_authz filter to remove")
	_, err = WithoutAuthz([]byte("http_filters: [{name: envoy.filters.http.ext_authz}]\n"))
	assert.ErrorContains(t, err, "no per-route ext_authz settings")
	_, err = WithoutAuthz([]byte("{"))
	assert.ErrorContains(t, err, "parse envoy config")
}

func TestUngovernedIsTheGovernedEnvoyUnderItsOwnName(t *testing.T) {
	if _, err := binaries.Tool("envoy"); err != nil {
		t.Skip(err)
	}
	u := &Ungoverned{}
	c, err := u.Component(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "envoy-baseline", c.Name)
	assert.Contains(t, u.Detail(), "ext_authz removed")

	l := &fakeLayout{ports: map[string]uint16{}}
	args := strings.Join(c.Args(l), " ")
	assert.Contains(t, args, filepath.Join("/run", "envoy-baseline", gateways.EnvoyConfigFile))
	require.Len(t, c.Files, 1)
	cfg, err := c.Files[0].Render(l)
	require.NoError(t, err)
	assert.NotContains(t, string(cfg), authzFilter)
	assert.Contains(t, string(cfg), fmt.Sprintf("port_value: %d", l.Addr("envoy-baseline", "http").Port()))
	assert.NotContains(t, l.ports, "envoy/http", "the governed gateway's ports are not used")
}

func TestComparedSynapseRunsBesideTheStacksOwn(t *testing.T) {
	secrets, err := stack.NewSecrets()
	require.NoError(t, err)
	c, err := (&ComparedSynapse{Binary: "/bin/true", Secrets: secrets}).Component(context.Background())
	require.NoError(t, err)
	assert.Equal(t, ComparedSynapseName, c.Name)
	assert.Equal(t, "/bin/true", c.Program.Path)

	l := &fakeLayout{ports: map[string]uint16{}}
	assert.Contains(t, strings.Join(c.Args(l), " "), filepath.Join("/run", ComparedSynapseName, stack.SynapseConfigFile))
	require.Len(t, c.Files, 1)
	cfg, err := c.Files[0].Render(l)
	require.NoError(t, err)
	text := string(cfg)
	assert.Contains(t, text, l.Addr(ComparedSynapseName, stack.PortGRPC).String(), "its own ports")
	assert.Contains(t, text, l.Addr(stack.Cerbos, stack.PortGRPC).String(), "the same Cerbos")
	assert.Contains(t, text, filepath.Join("/run", ComparedSynapseName, "tasks.db"), "its own task registry")
	assert.Contains(t, text, secrets.AdminToken)
	assert.NotContains(t, l.ports, stack.Synapse+"/"+stack.PortGRPC, "the stack's synapse ports are not used")

	_, err = (&ComparedSynapse{Binary: "/nonexistent/synapse", Secrets: secrets}).Component(context.Background())
	assert.ErrorContains(t, err, "compared synapse")
}

package bench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/stack"
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

// Lookup declares one synapse, as the benchmark's stack runs.
func (f *fakeLayout) Lookup(component, port string) (netip.AddrPort, bool) {
	if strings.HasPrefix(component, stack.Synapse+"-") {
		return netip.AddrPort{}, false
	}
	return f.Addr(component, port), true
}
func (f *fakeLayout) Dir(component string) string { return filepath.Join("/run", component) }
func (f *fakeLayout) ModuleRoot() string          { return "/src" }

// authzFilter is the HTTP filter a governed Envoy asks synapse with.
const authzFilter = "envoy.filters.http.ext_authz"

func TestBaselineIsTheGovernedEnvoyUnderItsOwnName(t *testing.T) {
	if _, err := binaries.Tool("envoy"); err != nil {
		t.Skip(err)
	}
	u := &gateways.Envoy{Named: BaselineEnvoy, WithoutAuthz: true}
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
	assert.True(t, strings.HasPrefix(string(cfg), "# hopguard's benchmark baseline"), "says what it is")
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

func loopbackOnly() ([]net.Interface, error) {
	return []net.Interface{{Index: 1, Name: "lo", Flags: net.FlagUp | net.FlagLoopback}}, nil
}

func TestAgentGatewayBaselineIsTheGovernedOneUnderItsOwnName(t *testing.T) {
	// The container runtime needs no binary in bin/; the interfaces are loopback only.
	u := &gateways.AgentGateway{Runtime: "container", Interfaces: loopbackOnly, Named: BaselineAgentGateway, WithoutAuthz: true}
	c, err := u.Component(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "agentgateway-baseline", c.Name)
	assert.Contains(t, u.Detail(), "extAuthz removed")

	l := &fakeLayout{ports: map[string]uint16{}}
	assert.Contains(t, strings.Join(c.Args(l), " "), filepath.Join("/run", "agentgateway-baseline", gateways.AgentGatewayConfigFile))
	require.Len(t, c.Files, 1)
	cfg, err := c.Files[0].Render(l)
	require.NoError(t, err)
	text := string(cfg)
	assert.NotContains(t, text, "extAuthz:")
	assert.True(t, strings.HasPrefix(text, "# hopguard's benchmark baseline"), "says what it is")
	assert.Contains(t, text, fmt.Sprintf("port: %d", l.Addr("agentgateway-baseline", "http").Port()))
	assert.Contains(t, text, "x-hopguard-decision", "the gateway-level transformations stay")
	assert.NotContains(t, l.ports, "agentgateway/http", "the governed gateway's ports are not used")
}

func TestAgentGatewayBaselineRefusesWhereTheGovernedOneDoes(t *testing.T) {
	withEth := func() ([]net.Interface, error) {
		lo, _ := loopbackOnly()
		return append(lo, net.Interface{Index: 2, Name: "eth0", Flags: net.FlagUp}), nil
	}
	_, err := (&gateways.AgentGateway{Runtime: "container", Interfaces: withEth, Named: BaselineAgentGateway, WithoutAuthz: true}).Component(context.Background())
	assert.ErrorContains(t, err, "eth0")
}

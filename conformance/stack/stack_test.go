package stack_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/gateway-configs/istio"
	"github.com/hopguard/hopguard/synapse/config"
)

// fakeLayout gives every declared port a distinct loopback port.
type fakeLayout struct {
	e   env.Environment
	dir string
}

func (l fakeLayout) Addr(component, port string) netip.AddrPort {
	n := uint16(20000)
	for _, c := range l.e.Components {
		for _, p := range c.Ports {
			n++
			if c.Name == component && p == port {
				return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), n)
			}
		}
	}
	return netip.AddrPort{}
}

func (l fakeLayout) Lookup(component, port string) (netip.AddrPort, bool) {
	ap := l.Addr(component, port)
	return ap, ap.IsValid()
}

func (l fakeLayout) Dir(component string) string { return filepath.Join(l.dir, component) }
func (l fakeLayout) ModuleRoot() string          { return "/src/hopguard" }

func newStack(t *testing.T) (env.Environment, stack.Secrets) {
	t.Helper()
	secrets, err := stack.NewSecrets()
	require.NoError(t, err)
	e, err := stack.New(stack.Options{Secrets: secrets})
	require.NoError(t, err)
	return e, secrets
}

func TestDescriptionIsValidAndOrdered(t *testing.T) {
	e, _ := newStack(t)
	require.NoError(t, e.Validate())
	var names []string
	for _, c := range e.Components {
		names = append(names, c.Name)
	}
	// synapse starts after Cerbos (it is ready only once Cerbos answers) and the STS.
	assert.Less(t, slices.Index(names, stack.Cerbos), slices.Index(names, stack.Synapse))
	assert.Less(t, slices.Index(names, stack.STS), slices.Index(names, stack.Synapse))
	for _, s := range stack.MCPServers() {
		assert.Contains(t, names, stack.MCPComponent(s))
	}
}

func TestSecretsAreFreshEachTime(t *testing.T) {
	a, err := stack.NewSecrets()
	require.NoError(t, err)
	b, err := stack.NewSecrets()
	require.NoError(t, err)
	assert.NotEqual(t, a.AdminToken, b.AdminToken)
	assert.NotEqual(t, a.SigningKeyPEM, b.SigningKeyPEM)
	_, err = stack.New(stack.Options{})
	assert.Error(t, err, "an environment without secrets is refused")
}

// TestSynapseConfigLoads renders synapse's config file and loads it with synapse's own loader,
// so that a renamed or newly required key fails here and not at start.
func TestSynapseConfigLoads(t *testing.T) {
	e, secrets := newStack(t)
	l := fakeLayout{e: e, dir: t.TempDir()}
	synapse, ok := e.Component(stack.Synapse)
	require.True(t, ok)
	require.Len(t, synapse.Files, 1)
	data, err := synapse.Files[0].Render(l)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), stack.SynapseConfigFile)
	require.NoError(t, os.WriteFile(path, data, 0o600))

	cfg, err := config.LoadFile(path)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, l.Addr(stack.Synapse, stack.PortGRPC).String(), cfg.GRPC.ListenAddr)
	assert.Equal(t, l.Addr(stack.Cerbos, stack.PortGRPC).String(), cfg.Cerbos.Addr)
	assert.Equal(t, "http://"+l.Addr(stack.STS, stack.PortHTTP).String()+"/.well-known/jwks.json", cfg.Identity.JWKSURL)
	assert.Equal(t, stack.Issuer, cfg.Identity.Issuer)
	assert.Equal(t, filepath.Join(l.Dir(stack.Synapse), stack.SynapseAuditFile), cfg.Audit.Sink)
	token, err := cfg.AdminToken()
	require.NoError(t, err)
	assert.Equal(t, secrets.AdminToken, token)
	table, err := istio.SynapseRoutes()
	require.NoError(t, err)
	require.Len(t, cfg.Routes, len(table), "synapse gets Istio's route table")
	for i, r := range table {
		assert.Equal(t, config.Route{PathPrefix: r.PathPrefix, Resource: r.Resource}, cfg.Routes[i])
	}
}

func TestCerbosArgsOverrideEveryAddressAndPath(t *testing.T) {
	e, _ := newStack(t)
	l := fakeLayout{e: e, dir: "/run"}
	cerbos, ok := e.Component(stack.Cerbos)
	require.True(t, ok)
	args := cerbos.Args(l)
	assert.Contains(t, args, "--debug-listen-addr="+l.Addr(stack.Cerbos, stack.PortDebug).String(), "without it Cerbos binds :6666 on every interface")
	assert.Contains(t, args, "--set=storage.disk.directory=/run/cerbos/policies", "the run's own copy, which it watches")
	require.Len(t, cerbos.Trees, 1)
	assert.Equal(t, "/src/hopguard/policies/bundle", cerbos.Trees[0].From(l), "copied from the source tree")
	assert.Equal(t, "/run/cerbos/policies", stack.PolicyDir(l))
	assert.Contains(t, args, "--set=audit.file.path=/run/cerbos/decisions.log")
	assert.Contains(t, args, "--set=server.grpcListenAddr="+l.Addr(stack.Cerbos, stack.PortGRPC).String())
}

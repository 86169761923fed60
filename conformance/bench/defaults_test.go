package bench_test

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/bench"
	"github.com/hopguard/hopguard/conformance/stack"
)

// portsLayout gives each component's ports numbers of its own.
type portsLayout struct{}

func (portsLayout) Addr(component, port string) netip.AddrPort {
	n := uint16(1000 + len(component)*10 + len(port))
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), n)
}

// Lookup declares one synapse, as the benchmark's stack runs.
func (portsLayout) Lookup(component, port string) (netip.AddrPort, bool) {
	if strings.HasPrefix(component, stack.Synapse+"-") {
		return netip.AddrPort{}, false
	}
	return portsLayout{}.Addr(component, port), true
}
func (portsLayout) Dir(component string) string { return filepath.Join("/run", component) }
func (portsLayout) ModuleRoot() string          { return "/src" }

func TestDefaultsCerbosIsTheStacksCerbosUntuned(t *testing.T) {
	c, err := bench.DefaultsCerbos{}.Component(t.Context())
	require.NoError(t, err)

	assert.Equal(t, bench.DefaultsCerbosName, c.Name)
	assert.Empty(t, c.Env, "no GOGC, no GOMEMLIMIT")
	args := strings.Join(c.Args(portsLayout{}), " ")
	assert.NotContains(t, args, "--log-level", "Cerbos's own log level")
	assert.Contains(t, args, "--config=/src/policies/cerbos.yaml", "the same config and policies")
	assert.Contains(t, args, "--set=audit.file.path=/run/"+bench.DefaultsCerbosName+"/", "its own directory")
	assert.Contains(t, args, "--set=server.grpcListenAddr="+portsLayout{}.Addr(bench.DefaultsCerbosName, stack.PortGRPC).String(), "its own ports")
}

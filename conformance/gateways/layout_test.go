package gateways_test

import (
	"net/netip"
	"path/filepath"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/stack"
)

// fakeLayout gives every (component, port) a distinct loopback port, in the order asked. It
// declares one synapse replica, or replicas of them when set.
type fakeLayout struct {
	dir      string
	ports    map[[2]string]uint16
	replicas int
}

func newFakeLayout(dir string) *fakeLayout {
	return &fakeLayout{dir: dir, ports: map[[2]string]uint16{}}
}

func (l *fakeLayout) Addr(component, port string) netip.AddrPort {
	key := [2]string{component, port}
	n, ok := l.ports[key]
	if !ok {
		n = uint16(30000 + len(l.ports))
		l.ports[key] = n
	}
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), n)
}

// Lookup declares every component but synapse replicas beyond l.replicas.
func (l *fakeLayout) Lookup(component, port string) (netip.AddrPort, bool) {
	for i := max(l.replicas, 1) + 1; i <= 16; i++ {
		if component == stack.SynapseReplica(i) {
			return netip.AddrPort{}, false
		}
	}
	return l.Addr(component, port), true
}

func (l *fakeLayout) Dir(component string) string { return filepath.Join(l.dir, component) }
func (l *fakeLayout) ModuleRoot() string          { return "/src/hopguard" }

var _ env.Layout = (*fakeLayout)(nil)

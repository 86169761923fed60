package container

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"

	"github.com/hopguard/hopguard/conformance/env"
)

// loopback is the only address components bind and connect to; with host networking the
// containers share the host's.
var loopback = netip.MustParseAddr("127.0.0.1")

// layout is env.Layout for containers on the host network: every component reaches every other on
// 127.0.0.1, and each component directory is mounted at the same path inside its container, so
// the paths in its config files and command line are the same inside and out.
type layout struct {
	ports      map[string]map[string]netip.AddrPort
	dir        string
	moduleRoot string
}

var _ env.Layout = layout{}

func (l layout) lookup(component, port string) (netip.AddrPort, bool) {
	ap, ok := l.ports[component][port]
	return ap, ok
}

// Addr implements env.Layout. An undeclared port yields the invalid zero address, which fails
// the component's start with a message naming it (see referenceChecker).
func (l layout) Addr(component, port string) netip.AddrPort {
	ap, _ := l.lookup(component, port)
	return ap
}

func (l layout) Dir(component string) string { return filepath.Join(l.dir, component) }

func (l layout) ModuleRoot() string { return l.moduleRoot }

// allocatePorts picks a free port on 127.0.0.1 for every declared port. All listeners stay open
// until every port is chosen, so no two are the same; another program may still take one in
// the moment before its component binds it, which then fails that start with a clear error.
func allocatePorts(e env.Environment) (map[string]map[string]netip.AddrPort, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := map[string]map[string]netip.AddrPort{}
	for _, c := range e.Components {
		ports[c.Name] = map[string]netip.AddrPort{}
		for _, name := range c.Ports {
			l, err := net.Listen("tcp", netip.AddrPortFrom(loopback, 0).String())
			if err != nil {
				return nil, fmt.Errorf("find a free port for %s/%s: %w", c.Name, name, err)
			}
			listeners = append(listeners, l)
			ports[c.Name][name] = l.Addr().(*net.TCPAddr).AddrPort()
		}
	}
	return ports, nil
}

// referenceChecker is a Layout that records the ports a component asks for but nobody declared,
// so that a typo in a description fails loudly instead of passing "invalid AddrPort" as a flag.
type referenceChecker struct {
	layout
	missing []string
}

func (r *referenceChecker) Addr(component, port string) netip.AddrPort {
	ap, ok := r.lookup(component, port)
	if !ok {
		r.missing = append(r.missing, component+"/"+port)
	}
	return ap
}

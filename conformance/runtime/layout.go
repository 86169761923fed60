package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/hopguard/hopguard/conformance/env"
)

// loopback is the only address components bind and connect to.
var loopback = netip.MustParseAddr("127.0.0.1")

// Layout is where things are in one run: every component reaches every other on 127.0.0.1,
// each has a directory under the run's directory and a log file in its logs/. A runtime that
// runs components elsewhere than on the host (containers on the host network) mounts each
// directory at the same path, so the paths in config files and command lines mean the same
// inside and out.
type Layout struct {
	ports      map[string]map[string]netip.AddrPort
	runDir     string
	moduleRoot string
}

var _ env.Layout = Layout{}

// NewLayout picks a free port on 127.0.0.1 for every port the description declares. All
// listeners stay open until every port is chosen, so no two are the same; another program may
// still take one in the moment before its component binds it, which then fails that start with
// a clear error.
func NewLayout(e env.Environment, runDir, moduleRoot string) (Layout, error) {
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
				return Layout{}, fmt.Errorf("find a free port for %s/%s: %w", c.Name, name, err)
			}
			listeners = append(listeners, l)
			ports[c.Name][name] = l.Addr().(*net.TCPAddr).AddrPort()
		}
	}
	return Layout{ports: ports, runDir: runDir, moduleRoot: moduleRoot}, nil
}

// Lookup is where a component's named port listens, and whether the description declares it.
func (l Layout) Lookup(component, port string) (netip.AddrPort, bool) {
	ap, ok := l.ports[component][port]
	return ap, ok
}

// Addr implements env.Layout. An undeclared port yields the invalid zero address; Prepare
// fails the component's start with a message naming it.
func (l Layout) Addr(component, port string) netip.AddrPort {
	ap, _ := l.Lookup(component, port)
	return ap
}

// Dir implements env.Layout.
func (l Layout) Dir(component string) string { return filepath.Join(l.runDir, component) }

// ModuleRoot implements env.Layout.
func (l Layout) ModuleRoot() string { return l.moduleRoot }

// RunDir is the run's directory: component directories, logs.
func (l Layout) RunDir() string { return l.runDir }

// LogPath is the file holding a component's output.
func (l Layout) LogPath(component string) string {
	return filepath.Join(l.runDir, "logs", component+".log")
}

// ReadyAddr is where the component's readiness probe reaches it.
func (l Layout) ReadyAddr(c env.Component) netip.AddrPort {
	ap, _ := l.Lookup(c.Name, c.Ready.Port) // env.Environment.Validate checked the port exists
	return ap
}

// Describe says what runs as c and where it answers, for the Starting event
// ("tool cerbos on 127.0.0.1:3592").
func (l Layout) Describe(c env.Component, what string) string {
	if ap, ok := l.Lookup(c.Name, c.Ready.Port); ok {
		return fmt.Sprintf("%s on %s", what, ap)
	}
	return what
}

// Prepared is a component ready to run: its files written, its command line built.
type Prepared struct {
	// Dir is the component's directory, its working directory.
	Dir string
	// Files are the paths of the files rendered into Dir.
	Files []string
	// Args is its command line; nil when the description gives none.
	Args []string
}

// Prepare creates the component's directory, renders its files into it and builds its command
// line. A reference to a port nobody declared fails it, naming the port, instead of passing
// "invalid AddrPort" on as a flag.
func (l Layout) Prepare(c env.Component) (Prepared, error) {
	p := Prepared{Dir: l.Dir(c.Name)}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return Prepared{}, fmt.Errorf("create %s: %w", p.Dir, err)
	}
	refs := &referenceChecker{Layout: l}
	for _, f := range c.Files {
		data, err := f.Render(refs)
		if err != nil {
			return Prepared{}, fmt.Errorf("render %s: %w", f.Name, err)
		}
		path := filepath.Join(p.Dir, f.Name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return Prepared{}, fmt.Errorf("write %s: %w", f.Name, err)
		}
		p.Files = append(p.Files, path)
	}
	for _, t := range c.Trees {
		if err := copyTree(filepath.Join(p.Dir, t.Name), t.From(refs)); err != nil {
			return Prepared{}, fmt.Errorf("tree %s: %w", t.Name, err)
		}
	}
	if c.Args != nil {
		p.Args = c.Args(refs)
	}
	if len(refs.missing) > 0 {
		return Prepared{}, fmt.Errorf("the description refers to undeclared ports %s", strings.Join(refs.missing, ", "))
	}
	return p, nil
}

// copyTree copies the directory from to dest, unless dest is there already: a restarted
// component finds the tree as the run left it.
func copyTree(dest, from string) error {
	if _, err := os.Stat(dest); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Copied beside dest and renamed into place, so a copy cut short is never taken for one.
	tmp, err := os.MkdirTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	copied := filepath.Join(tmp, "tree")
	if err := os.CopyFS(copied, os.DirFS(from)); err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return os.Rename(copied, dest)
}

// referenceChecker is a Layout that records the ports a component asks for but nobody declared.
type referenceChecker struct {
	Layout
	missing []string
}

func (r *referenceChecker) Addr(component, port string) netip.AddrPort {
	ap, ok := r.Lookup(component, port)
	if !ok {
		r.missing = append(r.missing, component+"/"+port)
	}
	return ap
}

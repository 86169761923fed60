// Package env describes an environment: which components run, the ports each listens on, the
// config files each needs, its command line and how to tell it is ready. The description is
// data plus small functions of a Layout; a runtime (conformance/runtime) decides where ports
// and directories are and brings the components up in order.
package env

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
)

// Environment is an ordered list of components: each starts once those before it are ready.
type Environment struct {
	Components []Component
}

// Program is what a component runs: exactly one field is set.
type Program struct {
	// Tool is an installed third-party binary, found by conformance/binaries.Tool ("cerbos").
	Tool string
	// Package is one of hopguard's main packages, relative to the module root
	// ("./synapse/cmd/synapse"), built once per run.
	Package string
	// Path is an executable to run as is (tests use it).
	Path string
}

func (p Program) String() string {
	switch {
	case p.Tool != "":
		return "tool " + p.Tool
	case p.Package != "":
		return "package " + p.Package
	default:
		return p.Path
	}
}

// Layout is where things are in one run; a runtime implements it.
type Layout interface {
	// Addr is where a component's named port listens, as other components reach it.
	Addr(component, port string) netip.AddrPort
	// Lookup is Addr, and whether the environment declares that component's port at all: for
	// a component that adapts to what runs beside it (a gateway balancing across however many
	// synapse replicas there are).
	Lookup(component, port string) (netip.AddrPort, bool)
	// Dir is a component's own directory: its working directory, config files and data.
	Dir(component string) string
	// ModuleRoot is the hopguard source tree (policies/, gateway-configs/), as the component sees it.
	ModuleRoot() string
}

// File is a config file rendered into the component's directory before it starts.
type File struct {
	Name   string
	Render func(Layout) ([]byte, error)
}

// Tree is a directory tree copied into the component's directory, under Name, before the
// component first starts, and left as it is when it restarts: what a run may change under the
// running component (the policy bundle Cerbos watches), which a restart must not undo.
type Tree struct {
	Name string
	// From is the directory copied.
	From func(Layout) string
}

// Component is one process of the environment.
type Component struct {
	Name    string
	Program Program
	// Ports are the names of the ports it listens on; the runtime assigns each a number.
	Ports []string
	// Args builds its command line; nil means no arguments.
	Args func(Layout) []string
	// Env is extra environment ("KEY=value") on top of a minimal base.
	Env   []string
	Files []File
	// Trees are directory trees copied into its directory before it first starts.
	Trees []Tree
	Ready Probe
	// Optional components may fail to start without failing the environment (e.g. a gateway
	// that cannot run here); the runtime reports the reason.
	Optional bool
	// AfterReady, when set, is work the environment needs done once the component is first
	// ready and before the next one starts, in the process that starts them (registering the
	// workloads SPIRE attests); it does not run again when the component restarts. Its error
	// is the component's.
	AfterReady func(ctx context.Context, l Layout) error
	// Reaches names the components whose directories it uses, for a unix socket one of them
	// serves there (the STS reaches SPIRE's Workload API). Processes share one file system; the
	// container runtime mounts each such directory into its container, read-only, and no other.
	Reaches []string
	// InspectsProcesses says it reads other processes of the machine: SPIRE's agent attests a
	// workload by its /proc entries (uid, executable). A process needs nothing more; the container
	// runtime shares the host's PID namespace with its container and runs it as root with the
	// one capability reading another user's /proc/<pid>/exe needs, CAP_SYS_PTRACE.
	InspectsProcesses bool
}

// ProbeKind is how readiness is checked.
type ProbeKind int

// Readiness checks.
const (
	// ProbeTCP is ready once the port accepts a connection.
	ProbeTCP ProbeKind = iota + 1
	// ProbeHTTP is ready once GET Path on the port answers 2xx.
	ProbeHTTP
	// ProbeGRPC is ready once grpc.health.v1 reports SERVING for Service ("" is the server).
	ProbeGRPC
)

func (k ProbeKind) String() string {
	switch k {
	case ProbeTCP:
		return "tcp"
	case ProbeHTTP:
		return "http"
	case ProbeGRPC:
		return "grpc"
	default:
		return fmt.Sprintf("probe(%d)", int(k))
	}
}

// Probe tells when a component is ready to serve.
type Probe struct {
	Kind    ProbeKind
	Port    string
	Path    string // ProbeHTTP
	Service string // ProbeGRPC
}

// Component returns the component called name.
func (e Environment) Component(name string) (Component, bool) {
	for _, c := range e.Components {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}

// Names become directory and log file names: keep them plain.
var (
	namePattern     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	fileNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
)

// Validate reports every problem in the description at once.
func (e Environment) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for _, c := range e.Components {
		if !namePattern.MatchString(c.Name) {
			errs = append(errs, fmt.Errorf("component name %q must match %s", c.Name, namePattern))
		}
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("component %q is listed twice", c.Name))
		}
		seen[c.Name] = true
		if err := c.validate(); err != nil {
			errs = append(errs, fmt.Errorf("component %q: %w", c.Name, err))
		}
		for _, r := range c.Reaches {
			// Its directory must be there before this one starts: an earlier component's.
			if !seen[r] || r == c.Name {
				errs = append(errs, fmt.Errorf("component %q reaches %q, which is not a component before it", c.Name, r))
			}
		}
	}
	return errors.Join(errs...)
}

func (c Component) validate() error {
	var errs []error
	set := 0
	for _, s := range []string{c.Program.Tool, c.Program.Package, c.Program.Path} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		errs = append(errs, errors.New("program must name exactly one of tool, package or path"))
	}
	ports := map[string]bool{}
	for _, p := range c.Ports {
		if !namePattern.MatchString(p) {
			errs = append(errs, fmt.Errorf("port name %q must match %s", p, namePattern))
		}
		if ports[p] {
			errs = append(errs, fmt.Errorf("port %q is listed twice", p))
		}
		ports[p] = true
	}
	files := map[string]bool{}
	for _, f := range c.Files {
		if !fileNamePattern.MatchString(f.Name) {
			errs = append(errs, fmt.Errorf("file name %q is not a plain file name", f.Name))
		}
		if files[f.Name] {
			errs = append(errs, fmt.Errorf("file %q is listed twice", f.Name))
		}
		files[f.Name] = true
		if f.Render == nil {
			errs = append(errs, fmt.Errorf("file %q has no renderer", f.Name))
		}
	}
	for _, t := range c.Trees {
		if !fileNamePattern.MatchString(t.Name) {
			errs = append(errs, fmt.Errorf("tree name %q is not a plain directory name", t.Name))
		}
		if files[t.Name] {
			errs = append(errs, fmt.Errorf("tree %q has the name of a file or another tree", t.Name))
		}
		files[t.Name] = true
		if t.From == nil {
			errs = append(errs, fmt.Errorf("tree %q has no source", t.Name))
		}
	}
	switch c.Ready.Kind {
	case ProbeTCP, ProbeHTTP, ProbeGRPC:
		if !ports[c.Ready.Port] {
			errs = append(errs, fmt.Errorf("readiness probe uses port %q, which the component does not declare", c.Ready.Port))
		}
	default:
		errs = append(errs, fmt.Errorf("readiness probe kind %v is not one of tcp, http, grpc", c.Ready.Kind))
	}
	return errors.Join(errs...)
}

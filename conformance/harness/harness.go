// Package harness brings hopguard's environment up for a test run or the demo: it builds
// hopguard's commands once, asks each gateway whether it can run here, starts everything on a
// runtime and hands back typed endpoints. Everything it started stops on Close.
package harness

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hopguard/hopguard/conformance/agentrun"
	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/runtime/process"
	"github.com/hopguard/hopguard/conformance/stack"
)

// Options say where a run keeps its files and what it runs.
type Options struct {
	// OutDir is the run's home, e.g. <module>/out/conformance: the running environment
	// (component directories, logs/) goes in env/, emptied at start. Required.
	OutDir string
	// BinDir receives hopguard's commands; empty means <module>/out/bin.
	BinDir string
	// Gateways to put in front of the stack; those that cannot run here are reported.
	Gateways []gateways.Gateway
	// Observe receives progress (building, each component starting and ready).
	Observe runtime.Observer
	// NewRuntime makes the runtime the environment runs on; nil means the process runtime.
	// The suites and the demo pass RuntimeByName(RuntimeNameFromEnv()), so HOPGUARD_RUNTIME
	// selects theirs; the benchmark keeps nil, since it reads its processes' CPU from /proc.
	NewRuntime func(RuntimeConfig) (runtime.Runtime, error)
	// SynapseEnv is added to synapse's environment, after the stack's own: the benchmark turns
	// synapse's decision cache off with SYNAPSE_DECISION_CACHE_TTL=0s to measure without it.
	SynapseEnv []string
	// SPIRE asks for the triage workload's identity from SPIRE (spire.go): its server and agent
	// run, the agent binary is the one workload they give it to, and the STS takes it only from
	// its JWT-SVID. Where that cannot be, Env.Unattested says why and the workload keeps a
	// client secret.
	SPIRE bool
	// SynapseReplicas runs that many synapse replicas on a task registry in PostgreSQL when 2
	// or more (stack.Options.SynapseReplicas); the gateways balance across them.
	SynapseReplicas int
}

// RuntimeConfig is what every runtime is given.
type RuntimeConfig struct {
	// Dir is the run's environment directory (component directories, logs/), emptied.
	Dir        string
	ModuleRoot string
	// Resolve turns a program into an executable on this machine: a built command or a tool.
	Resolve func(env.Program) (string, error)
	Observe runtime.Observer
}

// ProcessRuntime is the default: every component a local process on 127.0.0.1.
func ProcessRuntime(c RuntimeConfig) (runtime.Runtime, error) {
	return process.New(process.Options{Dir: c.Dir, ModuleRoot: c.ModuleRoot, Resolve: c.Resolve, Observe: c.Observe})
}

// Env is a running hopguard environment.
type Env struct {
	Runtime runtime.Environment
	// Description is what runs: the components and their ports.
	Description env.Environment
	Secrets     stack.Secrets
	// Gateways that run, in order; NotRun those that cannot, with the reason.
	Gateways []gateways.Gateway
	NotRun   map[string]error
	// RuntimeName names the runtime ("process").
	RuntimeName string
	// attached is set when the environment is another process's (Attach).
	attached *attached
	// programs are the harness's own commands, built (HarnessPrograms), by package; programsDir
	// is the directory an attached environment built them in, removed on Close.
	programs    map[string]string
	programsDir string
	// SPIFFESocket is the Workload API of SPIRE's agent when SPIRE runs (Options.SPIRE), where
	// the agent binary, in its sandbox, gets its JWT-SVID; empty otherwise, and Unattested says
	// why.
	SPIFFESocket string
	Unattested   error
	// TriageSelectors are what SPIRE must see of a process to give it the triage identity.
	TriageSelectors []string
	// driverSTS issues the test driver's own tokens as the attested workload (spire.go).
	driverSTS *driverSTS
}

// HarnessPrograms are the commands the harness runs itself rather than as components: the
// agent, in its sandbox, and the probe the security suite runs there.
var HarnessPrograms = []string{agentrun.Package, ReachPackage}

// ReachPackage is the command that tries addresses from inside the agent's sandbox.
const ReachPackage = "./conformance/cmd/reach"

// Program is the built binary of one of HarnessPrograms.
func (h *Env) Program(pkg string) (string, error) {
	path, ok := h.programs[pkg]
	if !ok {
		return "", fmt.Errorf("%s was not built for this environment", pkg)
	}
	return path, nil
}

// BuildPhase is the component name progress events use while hopguard's commands are built.
const BuildPhase = "go build"

// Up builds, starts and waits for the whole environment. On error, everything already started
// has been stopped.
func Up(ctx context.Context, opts Options) (*Env, error) {
	if opts.OutDir == "" {
		return nil, errors.New("harness: OutDir is required")
	}
	observe := opts.Observe
	if observe == nil {
		observe = func(runtime.Event) {}
	}
	root, err := binaries.ModuleRoot()
	if err != nil {
		return nil, err
	}
	secrets, err := stack.NewSecrets()
	if err != nil {
		return nil, err
	}

	h := &Env{Secrets: secrets, NotRun: map[string]error{}}
	runDir := filepath.Join(opts.OutDir, "env")
	if err := os.RemoveAll(runDir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", runDir, err)
	}
	// The runtime resolves hopguard's commands once they are built, into this very map.
	built := map[string]string{}
	newRuntime := opts.NewRuntime
	if newRuntime == nil {
		newRuntime = ProcessRuntime
	}
	rt, err := newRuntime(RuntimeConfig{Dir: runDir, ModuleRoot: root, Resolve: resolver(built), Observe: observe})
	if err != nil {
		return nil, err
	}
	h.RuntimeName = rt.Name()
	spire, err := h.spire(ctx, opts.SPIRE, rt.Name(), runDir, built)
	if err != nil {
		return nil, err
	}
	up := false
	defer func() {
		if !up {
			h.closeDriverSTS()
		}
	}()
	var gatewayComponents []env.Component
	componentsOf := map[string][]string{}
	for _, g := range opts.Gateways {
		cs, err := components(ctx, g)
		if err != nil {
			h.NotRun[g.Name()] = err
			continue
		}
		h.Gateways = append(h.Gateways, g)
		gatewayComponents = append(gatewayComponents, cs...)
		for _, c := range cs {
			componentsOf[g.Name()] = append(componentsOf[g.Name()], c.Name)
		}
	}
	description, err := stack.New(stack.Options{Secrets: secrets, Gateways: gatewayComponents, SPIRE: spire, SynapseReplicas: opts.SynapseReplicas})
	if err != nil {
		return nil, err
	}
	for i := 1; i <= max(opts.SynapseReplicas, 1); i++ {
		description = withEnv(description, stack.SynapseReplica(i), opts.SynapseEnv)
	}

	binDir := opts.BinDir
	if binDir == "" {
		binDir = filepath.Join(root, "out", "bin")
	}
	programs, err := build(ctx, description, binDir, observe, HarnessPrograms...)
	if err != nil {
		return nil, err
	}
	maps.Copy(built, programs)
	h.programs = map[string]string{}
	for _, pkg := range HarnessPrograms {
		h.programs[pkg] = built[pkg]
	}
	running, err := rt.Start(ctx, description)
	if err != nil {
		if running != nil {
			_ = running.Close(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	up = true
	if spire != nil {
		h.SPIFFESocket = "unix://" + filepath.Join(running.Dir(), stack.SPIREAgent, stack.WorkloadSocketFile)
	}
	h.Runtime = running
	h.Description = description
	h.Gateways = slices.DeleteFunc(h.Gateways, func(g gateways.Gateway) bool {
		reason := whyNotRunning(g.Name(), componentsOf[g.Name()], running.NotRunning())
		if reason != nil {
			h.NotRun[g.Name()] = reason
		}
		return reason != nil
	})
	return h, nil
}

// whyNotRunning is why the gateway called name does not run, when one of its components (an
// optional one the runtime could not start) does not: the runtime's own reason, so the report
// says exactly what is missing.
func whyNotRunning(name string, components []string, notRunning map[string]error) error {
	for _, c := range components {
		err, ok := notRunning[c]
		switch {
		case !ok:
			continue
		case c == name:
			return err
		default:
			return fmt.Errorf("its component %s did not start: %w", c, err)
		}
	}
	return nil
}

// Close stops everything.
func (h *Env) Close(ctx context.Context) error {
	if h == nil {
		return nil
	}
	h.closeDriverSTS()
	if h.programsDir != "" {
		_ = os.RemoveAll(h.programsDir)
		h.programsDir = ""
	}
	if h.Runtime == nil {
		return nil
	}
	return h.Runtime.Close(ctx)
}

// components are a gateway's companions, if it has any, then the gateway itself.
func components(ctx context.Context, g gateways.Gateway) ([]env.Component, error) {
	gateway, err := g.Component(ctx)
	if err != nil {
		return nil, err
	}
	c, ok := g.(gateways.Companions)
	if !ok {
		return []env.Component{gateway}, nil
	}
	companions, err := c.Companions(ctx)
	if err != nil {
		return nil, err
	}
	return append(companions, gateway), nil
}

// build compiles every hopguard command the description runs, and extra, in one go build.
func build(ctx context.Context, e env.Environment, outDir string, observe runtime.Observer, extra ...string) (map[string]string, error) {
	pkgs := slices.Clone(extra)
	for _, c := range e.Components {
		if p := c.Program.Package; p != "" && !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	began := time.Now()
	observe(runtime.Event{Component: BuildPhase, Phase: runtime.Starting, Detail: fmt.Sprintf("%d commands into %s", len(pkgs), outDir)})
	built, err := binaries.Build(ctx, outDir, pkgs...)
	if err != nil {
		observe(runtime.Event{Component: BuildPhase, Phase: runtime.Failed, Elapsed: time.Since(began), Err: err})
		return nil, err
	}
	observe(runtime.Event{Component: BuildPhase, Phase: runtime.Ready, Elapsed: time.Since(began)})
	return built, nil
}

func resolver(built map[string]string) func(env.Program) (string, error) {
	return func(p env.Program) (string, error) {
		switch {
		case p.Tool != "":
			return binaries.Tool(p.Tool)
		case p.Package != "":
			path, ok := built[p.Package]
			if !ok {
				return "", fmt.Errorf("%s was not built", p.Package)
			}
			return path, nil
		default:
			return p.Path, nil
		}
	}
}

// withEnv returns e with extra added to the environment of its component called name.
func withEnv(e env.Environment, name string, extra []string) env.Environment {
	if len(extra) == 0 {
		return e
	}
	components := slices.Clone(e.Components)
	for i, c := range components {
		if c.Name == name {
			components[i].Env = append(slices.Clone(c.Env), extra...)
		}
	}
	e.Components = components
	return e
}

// Package process runs an environment as local processes on 127.0.0.1: ports chosen at start,
// one directory and one log file per component, every process in its own process group so that
// stopping it stops its children, and everything stopped on Close, on a failed start and when
// the harness itself dies (the kernel kills the children of a dead parent).
package process

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
)

// Options configure the process runtime.
type Options struct {
	// Dir is the run's directory; component directories and logs/ go under it. Required.
	Dir string
	// ModuleRoot is the hopguard source tree. Required.
	ModuleRoot string
	// Resolve turns a component's program into an executable path. Required.
	Resolve func(env.Program) (string, error)
	// Observe receives progress events; nil drops them.
	Observe runtime.Observer
	// ReadyTimeout bounds each component's start; zero means 60s.
	ReadyTimeout time.Duration
	// StopTimeout is how long a component has to exit after SIGTERM before SIGKILL; zero means 5s.
	StopTimeout time.Duration
}

// Runtime is the process runtime.
type Runtime struct {
	opts Options
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a process runtime.
func New(opts Options) (*Runtime, error) {
	var errs []error
	if opts.Dir == "" {
		errs = append(errs, errors.New("process runtime: Dir is required"))
	}
	if opts.ModuleRoot == "" {
		errs = append(errs, errors.New("process runtime: ModuleRoot is required"))
	}
	if opts.Resolve == nil {
		errs = append(errs, errors.New("process runtime: Resolve is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Observe == nil {
		opts.Observe = func(runtime.Event) {}
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 5 * time.Second
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	opts.Dir = dir
	return &Runtime{opts: opts}, nil
}

// Name implements runtime.Runtime.
func (r *Runtime) Name() string { return "process" }

// Start implements runtime.Runtime.
func (r *Runtime) Start(ctx context.Context, e env.Environment) (runtime.Environment, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("environment description: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(r.opts.Dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	ports, err := allocatePorts(e)
	if err != nil {
		return nil, err
	}
	running := &environment{
		opts:       r.opts,
		desc:       e,
		layout:     layout{ports: ports, dir: r.opts.Dir, moduleRoot: r.opts.ModuleRoot},
		procs:      map[string]*proc{},
		notRunning: map[string]error{},
	}
	for _, c := range e.Components {
		err := running.start(ctx, c)
		if err == nil {
			continue
		}
		if c.Optional && ctx.Err() == nil {
			running.notRunning[c.Name] = err
			continue
		}
		return running, fmt.Errorf("start %s: %w", c.Name, err)
	}
	return running, nil
}

// environment is a running process environment.
type environment struct {
	opts   Options
	desc   env.Environment
	layout layout

	mu         sync.Mutex
	procs      map[string]*proc // running components
	order      []string         // start order, for stopping in reverse
	notRunning map[string]error
}

var _ runtime.Environment = (*environment)(nil)

func (e *environment) Endpoint(component, port string) (netip.AddrPort, error) {
	ap, ok := e.layout.lookup(component, port)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port %q on component %q", port, component)
	}
	return ap, nil
}

func (e *environment) LogPath(component string) string {
	return filepath.Join(e.opts.Dir, "logs", component+".log")
}

func (e *environment) Dir() string { return e.opts.Dir }

func (e *environment) NotRunning() map[string]error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.notRunning)
}

func (e *environment) Stop(ctx context.Context, component string) error {
	e.mu.Lock()
	p, ok := e.procs[component]
	delete(e.procs, component)
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("stop %s: not running", component)
	}
	err := p.stop(ctx, e.opts.StopTimeout)
	e.opts.Observe(runtime.Event{Component: component, Phase: runtime.Stopped})
	if err != nil {
		return fmt.Errorf("stop %s: %w", component, err)
	}
	return nil
}

func (e *environment) Restart(ctx context.Context, component string) error {
	c, ok := e.desc.Component(component)
	if !ok {
		return fmt.Errorf("restart %s: no such component", component)
	}
	e.mu.Lock()
	_, running := e.procs[component]
	e.mu.Unlock()
	if running {
		if err := e.Stop(ctx, component); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
	}
	if err := e.start(ctx, c); err != nil {
		return fmt.Errorf("restart %s: %w", component, err)
	}
	return nil
}

func (e *environment) Ready(ctx context.Context, component string) error {
	c, ok := e.desc.Component(component)
	if !ok {
		return fmt.Errorf("ready %s: no such component", component)
	}
	e.mu.Lock()
	p, running := e.procs[component]
	e.mu.Unlock()
	if !running {
		return fmt.Errorf("ready %s: not running", component)
	}
	if err := e.awaitReady(ctx, c, p); err != nil {
		return fmt.Errorf("ready %s: %w", component, err)
	}
	return nil
}

func (e *environment) Close(ctx context.Context) error {
	e.mu.Lock()
	order := e.order
	e.order = nil
	e.mu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		name := order[i]
		e.mu.Lock()
		_, ok := e.procs[name]
		e.mu.Unlock()
		if !ok {
			continue
		}
		// Stopping must finish even when the caller's context is already cancelled (Ctrl-C).
		if err := e.Stop(context.WithoutCancel(ctx), name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// start runs one component and waits until it is ready; on failure nothing of it is left running.
func (e *environment) start(ctx context.Context, c env.Component) error {
	began := time.Now()
	e.opts.Observe(runtime.Event{Component: c.Name, Phase: runtime.Starting, Detail: e.describe(c)})
	p, err := e.launch(c)
	if err == nil {
		err = e.awaitReady(ctx, c, p)
		if err != nil {
			_ = p.stop(context.WithoutCancel(ctx), e.opts.StopTimeout)
		}
	}
	if err != nil {
		e.opts.Observe(runtime.Event{Component: c.Name, Phase: runtime.Failed, Elapsed: time.Since(began), Err: err})
		return err
	}
	e.mu.Lock()
	e.procs[c.Name] = p
	if !slices.Contains(e.order, c.Name) {
		e.order = append(e.order, c.Name)
	}
	e.mu.Unlock()
	e.opts.Observe(runtime.Event{Component: c.Name, Phase: runtime.Ready, Elapsed: time.Since(began)})
	return nil
}

func (e *environment) describe(c env.Component) string {
	if ap, ok := e.layout.lookup(c.Name, c.Ready.Port); ok {
		return fmt.Sprintf("%s on %s", c.Program, ap)
	}
	return c.Program.String()
}

func (e *environment) awaitReady(ctx context.Context, c env.Component, p *proc) error {
	addr, _ := e.layout.lookup(c.Name, c.Ready.Port) // Validate checked the port exists
	err := runtime.WaitReady(ctx, c.Ready, addr, e.opts.ReadyTimeout, p.done)
	if errors.Is(err, runtime.ErrExited) {
		return fmt.Errorf("%w (%v); last lines of %s:\n%s", err, p.exitErr(), p.logPath, tail(p.logPath, 20))
	}
	if err != nil {
		return fmt.Errorf("%w; last lines of %s:\n%s", err, p.logPath, tail(p.logPath, 20))
	}
	return nil
}

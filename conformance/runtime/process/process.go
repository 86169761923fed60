// Package process runs an environment as local processes on 127.0.0.1: ports chosen at start,
// one directory and one log file per component, every process in its own process group so that
// stopping it stops its children, and everything stopped on Close, on a failed start and when
// the harness itself dies (the kernel kills the children of a dead parent).
package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	layout, err := runtime.NewLayout(e, r.opts.Dir, r.opts.ModuleRoot)
	if err != nil {
		return nil, err
	}
	l := &launcher{opts: r.opts, layout: layout}
	running := runtime.NewSupervisor(e, layout, l.launch, r.opts.Observe, r.opts.StopTimeout)
	return running, running.StartAll(ctx)
}

// launcher starts the components of one run as processes.
type launcher struct {
	opts   Options
	layout runtime.Layout
}

// launch implements runtime.Launch: it starts the component's process and waits until it is
// ready, stopping it again when it does not get there.
func (l *launcher) launch(ctx context.Context, c env.Component, starting func(string)) (runtime.Instance, error) {
	starting(l.layout.Describe(c, c.Program.String()))
	p, err := l.exec(c)
	if err != nil {
		return nil, err
	}
	if err := p.AwaitReady(ctx); err != nil {
		_ = p.Stop(context.WithoutCancel(ctx), l.opts.StopTimeout)
		return nil, err
	}
	return p, nil
}

// Package container runs an environment as containers with testcontainers-go: the same
// description (conformance/env) the process runtime runs, each component in a container of its
// program's image (see Images) on the host's network, so ports chosen at start are on 127.0.0.1
// exactly as for processes. Each component's directory is mounted at its own path and the
// source tree read-only at its own path, so the paths a description renders mean the same inside
// and out. Nothing is ever pulled, and no network is ever created.
//
// testcontainers' reaper ("ryuk") is disabled, since its image cannot be pulled offline: the
// runtime removes its containers on Close and on a failed start. A harness killed outright
// leaves them behind; they carry the label LabelRun and can be removed with
// `docker rm -f $(docker ps -aq --filter label=org.hopguard.run)`.
package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
)

// Labels on every container the runtime starts.
const (
	LabelRun       = "org.hopguard.run" // the run's directory
	LabelComponent = "org.hopguard.component"
)

// TestcontainersLog is the file in the run's logs/ where testcontainers says what it does with
// each container (created, started, waiting, stopped), each line naming the component.
const TestcontainersLog = "testcontainers.log"

// RyukDisabledEnv is testcontainers' switch for its reaper container.
const RyukDisabledEnv = "TESTCONTAINERS_RYUK_DISABLED"

// Options configure the container runtime.
type Options struct {
	// Dir is the run's directory; component directories and logs/ go under it. Required.
	Dir string
	// ModuleRoot is the hopguard source tree, mounted read-only. Required.
	ModuleRoot string
	// Image chooses the image of a program; nil means Images(os.LookupEnv).
	Image func(env.Program) (Image, error)
	// Observe receives progress events; nil drops them.
	Observe runtime.Observer
	// ReadyTimeout bounds each component's start; zero means 60s.
	ReadyTimeout time.Duration
	// StopTimeout is how long a container has to exit after SIGTERM before SIGKILL; zero means 5s.
	StopTimeout time.Duration
}

// Runtime is the container runtime.
type Runtime struct {
	opts Options
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a container runtime. It turns testcontainers' reaper off for this process unless
// TESTCONTAINERS_RYUK_DISABLED says otherwise (testcontainers reads only the environment).
func New(opts Options) (*Runtime, error) {
	var errs []error
	if opts.Dir == "" {
		errs = append(errs, errors.New("container runtime: Dir is required"))
	}
	if opts.ModuleRoot == "" {
		errs = append(errs, errors.New("container runtime: ModuleRoot is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Image == nil {
		opts.Image = Images(os.LookupEnv)
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
	for _, p := range []*string{&opts.Dir, &opts.ModuleRoot} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, fmt.Errorf("container runtime: %w", err)
		}
		*p = abs
	}
	if _, set := os.LookupEnv(RyukDisabledEnv); !set {
		if err := os.Setenv(RyukDisabledEnv, "true"); err != nil {
			return nil, fmt.Errorf("container runtime: %w", err)
		}
	}
	return &Runtime{opts: opts}, nil
}

// Name implements runtime.Runtime.
func (r *Runtime) Name() string { return "container" }

// Start implements runtime.Runtime.
func (r *Runtime) Start(ctx context.Context, e env.Environment) (runtime.Environment, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("environment description: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(r.opts.Dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	tcLog, err := openLog(filepath.Join(r.opts.Dir, "logs", TestcontainersLog))
	if err != nil {
		return nil, err
	}
	docker, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(componentLogger{log: tcLog, component: "runtime"}))
	if err == nil && !docker.Config().RyukDisabled {
		_ = docker.Close()
		err = fmt.Errorf("testcontainers' reaper is enabled, and its image cannot be pulled here: set %s=true (the runtime removes its own containers)", RyukDisabledEnv)
	}
	if err != nil {
		_ = tcLog.Close()
		return nil, fmt.Errorf("container runtime: %w", err)
	}
	ports, err := allocatePorts(e)
	if err != nil {
		_ = docker.Close()
		_ = tcLog.Close()
		return nil, err
	}
	follow, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
	running := &environment{
		opts:          r.opts,
		desc:          e,
		layout:        layout{ports: ports, dir: r.opts.Dir, moduleRoot: r.opts.ModuleRoot},
		docker:        docker,
		tcLog:         tcLog,
		runID:         randomID(),
		user:          containerUser(),
		follow:        follow,
		stopFollowing: stopFollowing,
		running:       map[string]*instance{},
		images:        map[string]string{},
		notRunning:    map[string]error{},
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

// environment is a running container environment.
type environment struct {
	opts   Options
	desc   env.Environment
	layout layout
	docker *testcontainers.DockerProvider
	tcLog  *componentLog
	runID  string
	user   containerUserSpec
	// follow outlives Start's context: logs are copied for as long as the containers run.
	follow        context.Context
	stopFollowing context.CancelFunc
	release       sync.Once

	mu         sync.Mutex
	running    map[string]*instance
	order      []string          // start order, for stopping in reverse
	images     map[string]string // the image each component last ran
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

// Images tells which image each component that started runs, for reports.
func (e *environment) Images() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.images)
}

func (e *environment) Stop(ctx context.Context, component string) error {
	e.mu.Lock()
	inst, ok := e.running[component]
	delete(e.running, component)
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("stop %s: not running", component)
	}
	err := inst.stop(ctx, e.opts.StopTimeout)
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
	_, running := e.running[component]
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
	inst, running := e.running[component]
	e.mu.Unlock()
	if !running {
		return fmt.Errorf("ready %s: not running", component)
	}
	addr, _ := e.layout.lookup(c.Name, c.Ready.Port) // Validate checked the port exists
	if err := ForProbe(c.Ready, addr, e.opts.ReadyTimeout).WaitUntilReady(ctx, inst.ctr); err != nil {
		path := e.LogPath(component)
		return fmt.Errorf("ready %s: %w; last lines of %s:\n%s", component, err, path, tail(path, 20))
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
		_, ok := e.running[name]
		e.mu.Unlock()
		if !ok {
			continue
		}
		// Stopping must finish even when the caller's context is already cancelled (Ctrl-C).
		if err := e.Stop(context.WithoutCancel(ctx), name); err != nil {
			errs = append(errs, err)
		}
	}
	e.release.Do(func() {
		e.stopFollowing()
		_ = e.docker.Close()
		_ = e.tcLog.Close()
	})
	return errors.Join(errs...)
}

// start runs one component and waits until it is ready; on failure nothing of it is left.
func (e *environment) start(ctx context.Context, c env.Component) error {
	began := time.Now()
	image, err := e.opts.Image(c.Program)
	if err != nil {
		e.opts.Observe(runtime.Event{Component: c.Name, Phase: runtime.Failed, Err: err})
		return fmt.Errorf("choose image: %w", err)
	}
	e.opts.Observe(runtime.Event{Component: c.Name, Phase: runtime.Starting, Detail: e.describe(c, image.Ref)})
	inst, err := e.launch(ctx, c, image)
	if err != nil {
		e.opts.Observe(runtime.Event{Component: c.Name, Phase: runtime.Failed, Elapsed: time.Since(began), Err: err})
		return err
	}
	e.mu.Lock()
	e.running[c.Name] = inst
	e.images[c.Name] = image.Ref
	if !slices.Contains(e.order, c.Name) {
		e.order = append(e.order, c.Name)
	}
	e.mu.Unlock()
	e.opts.Observe(runtime.Event{Component: c.Name, Phase: runtime.Ready, Elapsed: time.Since(began)})
	return nil
}

func (e *environment) describe(c env.Component, image string) string {
	if ap, ok := e.layout.lookup(c.Name, c.Ready.Port); ok {
		return fmt.Sprintf("image %s on %s", image, ap)
	}
	return "image " + image
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

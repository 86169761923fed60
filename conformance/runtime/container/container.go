// Package container runs an environment as containers, on the Docker Engine API
// (github.com/moby/moby/client; the API version is negotiated with the engine): the same
// description (conformance/env) the process runtime runs, each component in a container of its
// program's image (see Images). With a Sandbox (Options.NetworkHolder) every container joins the
// sandbox's network namespace, whose only interface is loopback, and the driver joins it too
// (conformance/netns); without one they share the host's network. Either way ports chosen at
// start are on 127.0.0.1 exactly as for processes. Each component's directory is mounted at its own path and the
// source tree read-only at its own path, so the paths a description renders mean the same inside
// and out. Nothing is ever pulled, and no network is ever created.
//
// The runtime removes its containers on Close and on a failed start. A harness killed outright
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
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
)

// Labels on every container the runtime starts.
const (
	LabelRun       = "org.hopguard.run" // the run's directory
	LabelComponent = "org.hopguard.component"
)

// ContainersLog is the file in the run's logs/ where the runtime says what it does with each
// container (created, started, waiting, ready, stopped, removed), each line naming the component.
const ContainersLog = "containers.log"

// engineTimeout bounds the first question to the engine, whether it answers.
const engineTimeout = 10 * time.Second

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
	// NetworkHolder is the id of the container whose network namespace every container joins
	// (a Sandbox's); empty means the host's network.
	NetworkHolder string
}

// Runtime is the container runtime.
type Runtime struct {
	opts Options
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a container runtime. It connects to the Docker engine only when it starts an
// environment: DOCKER_HOST, else the Docker CLI's current context, else the default socket.
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
	runLog, err := openLog(filepath.Join(r.opts.Dir, "logs", ContainersLog))
	if err != nil {
		return nil, err
	}
	// Asked apart from ctx, whose end only stops what follows: a start cancelled already still
	// returns its environment, for Close.
	ping, cancel := context.WithTimeout(context.WithoutCancel(ctx), engineTimeout)
	_, err = engine(ping)
	cancel()
	if err != nil {
		runLogger{log: runLog}.printf("%v", err)
		_ = runLog.Close()
		return nil, fmt.Errorf("container runtime: %w", err)
	}
	layout, err := runtime.NewLayout(e, r.opts.Dir, r.opts.ModuleRoot)
	if err != nil {
		_ = runLog.Close()
		return nil, err
	}
	follow, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
	running := &environment{
		opts:          r.opts,
		layout:        layout,
		runLog:        runLog,
		runID:         randomID(),
		user:          containerUser(),
		follow:        follow,
		stopFollowing: stopFollowing,
		images:        map[string]string{},
	}
	running.Supervisor = runtime.NewSupervisor(e, layout, running.launch, r.opts.Observe, r.opts.StopTimeout)
	return running, running.StartAll(ctx)
}

// environment is a running container environment: the runtime's Supervisor starting and
// stopping containers, and what those containers share.
type environment struct {
	*runtime.Supervisor
	opts   Options
	layout runtime.Layout
	runLog *componentLog // the run's containers.log
	runID  string
	user   containerUserSpec
	// follow outlives Start's context: logs are copied for as long as the containers run.
	follow        context.Context
	stopFollowing context.CancelFunc
	release       sync.Once

	mu     sync.Mutex
	images map[string]string // the image each component last ran
}

var _ runtime.Environment = (*environment)(nil)

// Images tells which image each component that started runs, for reports.
func (e *environment) Images() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.images)
}

// Close stops and removes every container, last started first.
func (e *environment) Close(ctx context.Context) error {
	err := e.Supervisor.Close(ctx)
	e.release.Do(func() {
		e.stopFollowing()
		_ = e.runLog.Close()
	})
	return err
}

// launch implements runtime.Launch: it chooses the component's image, then runs its container
// until it is ready.
func (e *environment) launch(ctx context.Context, c env.Component, starting func(string)) (runtime.Instance, error) {
	image, err := e.opts.Image(c.Program)
	if err != nil {
		return nil, fmt.Errorf("choose image: %w", err)
	}
	starting(e.layout.Describe(c, "image "+image.Ref))
	inst, err := e.startContainer(ctx, c, image)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.images[c.Name] = image.Ref
	e.mu.Unlock()
	return inst, nil
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

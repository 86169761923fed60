package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hopguard/hopguard/conformance/env"
)

// Instance is one started component, as a runtime runs it (a process, a container).
type Instance interface {
	// AwaitReady waits until the component passes its readiness probe; the error quotes its log.
	AwaitReady(ctx context.Context) error
	// Stop stops the component: gracefully, then forcibly once grace has passed or ctx ends.
	Stop(ctx context.Context, grace time.Duration) error
	// PID is the component's main process as this machine numbers it (a container's too).
	PID(ctx context.Context) (int, error)
}

// Launch starts one component the way a runtime runs it and waits until it is ready; on
// failure nothing of it is left running. As soon as it knows what it starts, it calls starting
// with a few words for the Starting event (Layout.Describe).
type Launch func(ctx context.Context, c env.Component, starting func(detail string)) (Instance, error)

// Supervisor is what every runtime does around its own Launch: it starts an environment's
// components in order, each once those before it are ready, keeps the running ones, stops them
// last started first, and knows which optional ones could not start. It implements Environment.
type Supervisor struct {
	desc    env.Environment
	layout  Layout
	launch  Launch
	observe Observer
	grace   time.Duration // how long a component has to stop before it is killed

	mu         sync.Mutex
	running    map[string]Instance
	order      []string // start order, for stopping in reverse
	notRunning map[string]error
}

var _ Environment = (*Supervisor)(nil)

// NewSupervisor supervises the environment desc laid out by layout, starting each component
// with launch, telling observe (which may be nil) what happens, and giving each component
// grace to stop.
func NewSupervisor(desc env.Environment, layout Layout, launch Launch, observe Observer, grace time.Duration) *Supervisor {
	if observe == nil {
		observe = func(Event) {}
	}
	return &Supervisor{
		desc:       desc,
		layout:     layout,
		launch:     launch,
		observe:    observe,
		grace:      grace,
		running:    map[string]Instance{},
		notRunning: map[string]error{},
	}
}

// StartAll starts every component in order. An optional component that fails is recorded as
// not running and the others go on; any other failure ends the start, and what did start is
// left running for Close.
func (s *Supervisor) StartAll(ctx context.Context) error {
	for _, c := range s.desc.Components {
		err := s.start(ctx, c)
		if err == nil && c.AfterReady != nil {
			if err = c.AfterReady(ctx, s.layout); err != nil {
				err = fmt.Errorf("once ready: %w", err)
				s.observe(Event{Component: c.Name, Phase: Failed, Err: err})
			}
		}
		if err == nil {
			continue
		}
		if c.Optional && ctx.Err() == nil {
			s.mu.Lock()
			s.notRunning[c.Name] = err
			s.mu.Unlock()
			continue
		}
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	return nil
}

// Endpoint implements Environment.
func (s *Supervisor) Endpoint(component, port string) (netip.AddrPort, error) {
	ap, ok := s.layout.Lookup(component, port)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port %q on component %q", port, component)
	}
	return ap, nil
}

// LogPath implements Environment.
func (s *Supervisor) LogPath(component string) string { return s.layout.LogPath(component) }

// Dir implements Environment.
func (s *Supervisor) Dir() string { return s.layout.RunDir() }

// NotRunning implements Environment.
func (s *Supervisor) NotRunning() map[string]error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.notRunning)
}

// PIDs implements Environment.
func (s *Supervisor) PIDs(ctx context.Context) (map[string]int, error) {
	s.mu.Lock()
	running := maps.Clone(s.running)
	s.mu.Unlock()
	pids := make(map[string]int, len(running))
	for name, inst := range running {
		pid, err := inst.PID(ctx)
		if err != nil {
			return nil, fmt.Errorf("process of %s: %w", name, err)
		}
		pids[name] = pid
	}
	return pids, nil
}

// Stop implements Environment.
func (s *Supervisor) Stop(ctx context.Context, component string) error {
	s.mu.Lock()
	inst, ok := s.running[component]
	delete(s.running, component)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("stop %s: not running", component)
	}
	err := inst.Stop(ctx, s.grace)
	s.observe(Event{Component: component, Phase: Stopped})
	if err != nil {
		return fmt.Errorf("stop %s: %w", component, err)
	}
	return nil
}

// Restart implements Environment.
func (s *Supervisor) Restart(ctx context.Context, component string) error {
	c, ok := s.desc.Component(component)
	if !ok {
		return fmt.Errorf("restart %s: no such component", component)
	}
	s.mu.Lock()
	_, running := s.running[component]
	s.mu.Unlock()
	if running {
		if err := s.Stop(ctx, component); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
	}
	if err := s.start(ctx, c); err != nil {
		return fmt.Errorf("restart %s: %w", component, err)
	}
	return nil
}

// Ready implements Environment.
func (s *Supervisor) Ready(ctx context.Context, component string) error {
	if _, ok := s.desc.Component(component); !ok {
		return fmt.Errorf("ready %s: no such component", component)
	}
	s.mu.Lock()
	inst, running := s.running[component]
	s.mu.Unlock()
	if !running {
		return fmt.Errorf("ready %s: not running", component)
	}
	if err := inst.AwaitReady(ctx); err != nil {
		return fmt.Errorf("ready %s: %w", component, err)
	}
	return nil
}

// Close implements Environment.
func (s *Supervisor) Close(ctx context.Context) error {
	s.mu.Lock()
	order := s.order
	s.order = nil
	s.mu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		name := order[i]
		s.mu.Lock()
		_, ok := s.running[name]
		s.mu.Unlock()
		if !ok {
			continue
		}
		// Stopping must finish even when the caller's context is already cancelled (Ctrl-C).
		if err := s.Stop(context.WithoutCancel(ctx), name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// start runs one component and waits until it is ready; on failure nothing of it is left.
func (s *Supervisor) start(ctx context.Context, c env.Component) error {
	began := time.Now()
	inst, err := s.launch(ctx, c, func(detail string) {
		s.observe(Event{Component: c.Name, Phase: Starting, Detail: detail})
	})
	if err != nil {
		s.observe(Event{Component: c.Name, Phase: Failed, Elapsed: time.Since(began), Err: err})
		return err
	}
	s.mu.Lock()
	s.running[c.Name] = inst
	if !slices.Contains(s.order, c.Name) {
		s.order = append(s.order, c.Name)
	}
	s.mu.Unlock()
	s.observe(Event{Component: c.Name, Phase: Ready, Elapsed: time.Since(began)})
	return nil
}

// Package runtime is the interface an environment runs behind, and what every runtime shares:
// the layout of a run (ports, directories, logs), the Supervisor that starts components in
// order and stops them in reverse, readiness probes and the quoting of a component's log. The
// process runtime (runtime/process) runs every component as a local process, the container
// runtime (runtime/container) as a container; each brings only its own Launch. Tests and the
// demo depend only on this package.
package runtime

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/hopguard/hopguard/conformance/env"
)

// Runtime brings an environment up.
type Runtime interface {
	// Name is what reports call it ("process", "container").
	Name() string
	// Start brings up every component in order, each once those before it are ready. When it
	// fails, the Environment it returns (if not nil) holds what did start: Close it.
	Start(ctx context.Context, e env.Environment) (Environment, error)
}

// Environment is a running environment.
type Environment interface {
	// Endpoint is where the caller (the test process) reaches a component's named port. It
	// returns an error for a component or port the description does not declare.
	Endpoint(component, port string) (netip.AddrPort, error)
	// Stop stops one component (to prove that the others fail closed without it).
	Stop(ctx context.Context, component string) error
	// Restart starts a stopped component again, on the same ports, and waits until it is ready.
	Restart(ctx context.Context, component string) error
	// Ready waits until a running component passes its readiness probe again (synapse turns
	// unready while Cerbos is down, and ready once it is back).
	Ready(ctx context.Context, component string) error
	// LogPath is the file holding a component's output.
	LogPath(component string) string
	// Dir is the run's directory: component directories, logs.
	Dir() string
	// PIDs are the main processes of the running components as this machine numbers them, for
	// checking where they listen.
	PIDs(ctx context.Context) (map[string]int, error)
	// NotRunning lists the optional components that could not start, with the reason.
	NotRunning() map[string]error
	// Close stops every component, last started first. It is safe to call more than once.
	Close(ctx context.Context) error
}

// Phase is a step in a component's life.
type Phase int

// The phases a runtime reports.
const (
	Starting Phase = iota + 1
	Ready
	Failed
	Stopped
)

func (p Phase) String() string {
	switch p {
	case Starting:
		return "starting"
	case Ready:
		return "ready"
	case Failed:
		return "failed"
	case Stopped:
		return "stopped"
	default:
		return fmt.Sprintf("phase(%d)", int(p))
	}
}

// Event tells an observer (the demo's progress lines) what a runtime is doing.
type Event struct {
	Component string
	Phase     Phase
	// Elapsed is the time since the component was started (Ready, Failed).
	Elapsed time.Duration
	// Err is why it failed (Failed).
	Err error
	// Detail is a short human description: the program and its address (Starting).
	Detail string
}

// Observer receives events; it must not block.
type Observer func(Event)

package container

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
)

// statePollInterval is how often the strategy asks the engine whether the container exited.
const statePollInterval = 100 * time.Millisecond

// Strategy waits until a started container is ready (Spec.Ready).
type Strategy interface {
	WaitUntilReady(ctx context.Context, target Target) error
}

// Target is the container a Strategy waits for; *Container is one.
type Target interface {
	// State is the container's state as the engine reports it.
	State(ctx context.Context) (*container.State, error)
}

var _ Target = (*Container)(nil)

// ForProbe is a wait strategy with the readiness semantics of the process runtime
// (runtime.WaitReady): probe addr until the component answers, and give up at once when the
// container exits, with its exit code. With host networking, addr is the host's own address.
func ForProbe(p env.Probe, addr netip.AddrPort, timeout time.Duration) Strategy {
	return probeStrategy{probe: p, addr: addr, timeout: timeout}
}

type probeStrategy struct {
	probe   env.Probe
	addr    netip.AddrPort
	timeout time.Duration
}

var _ Strategy = probeStrategy{}

func (s probeStrategy) String() string {
	return fmt.Sprintf("%s probe on %s", s.probe.Kind, s.addr)
}

func (s probeStrategy) WaitUntilReady(ctx context.Context, target Target) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exited := make(chan struct{})
	var exitCode atomic.Int64
	go func() {
		tick := time.NewTicker(statePollInterval)
		defer tick.Stop()
		for {
			state, err := target.State(ctx)
			if err == nil && (state.Status == container.StateExited || state.Status == container.StateDead) {
				exitCode.Store(int64(state.ExitCode))
				close(exited)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	err := runtime.WaitReady(ctx, s.probe, s.addr, s.timeout, exited)
	if errors.Is(err, runtime.ErrExited) {
		return fmt.Errorf("%w (exit code %d)", err, exitCode.Load())
	}
	return err
}

package container

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
)

// statePollInterval is how often the strategy asks the engine whether the container exited.
const statePollInterval = 100 * time.Millisecond

// ForProbe is a wait strategy with the readiness semantics of the process runtime
// (runtime.WaitReady): probe addr until the component answers, and give up at once when the
// container exits, with its exit code. With host networking, addr is the host's own address.
func ForProbe(p env.Probe, addr netip.AddrPort, timeout time.Duration) wait.Strategy {
	return probeStrategy{probe: p, addr: addr, timeout: timeout}
}

type probeStrategy struct {
	probe   env.Probe
	addr    netip.AddrPort
	timeout time.Duration
}

var _ wait.Strategy = probeStrategy{}

func (s probeStrategy) String() string {
	return fmt.Sprintf("%s probe on %s", s.probe.Kind, s.addr)
}

func (s probeStrategy) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
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

package security_test

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/runtime/container"
	"github.com/hopguard/hopguard/conformance/stack"
)

// freezer holds Cerbos still and lets it go again. Frozen, Cerbos keeps its listening socket:
// the kernel still accepts connections and nothing answers them, which is what a hung PDP is.
type freezer interface {
	// how names the means, for the drill's name.
	how() string
	freeze(ctx context.Context) error
	thaw(ctx context.Context) error
}

// holder is a runtime that holds a component still itself: an environment attached from
// `make up`, whose components are that process's children, through its control API.
type holder interface {
	Freeze(ctx context.Context, component string) error
	Thaw(ctx context.Context, component string) error
}

// holderFreezer holds Cerbos still through the runtime.
type holderFreezer struct{ h holder }

func (f holderFreezer) how() string                      { return "SIGSTOP by make up" }
func (f holderFreezer) freeze(ctx context.Context) error { return f.h.Freeze(ctx, stack.Cerbos) }
func (f holderFreezer) thaw(ctx context.Context) error   { return f.h.Thaw(ctx, stack.Cerbos) }

// cerbosFreezer is the freezer for Cerbos on the runtime h runs on.
func cerbosFreezer(h *harness.Env) (freezer, error) {
	if hr, ok := h.Runtime.(holder); ok {
		return holderFreezer{hr}, nil
	}
	switch h.RuntimeName {
	case "process":
		return &signalFreezer{arg: "--set=audit.file.path=" + h.CerbosDecisionLogPath()}, nil
	case "container":
		return &pauseFreezer{run: h.Runtime.Dir(), component: stack.Cerbos}, nil
	default:
		return nil, fmt.Errorf("no way to hold Cerbos still on the %s runtime", h.RuntimeName)
	}
}

// signalFreezer stops the process with SIGSTOP and resumes it with SIGCONT. Only a child of
// this test binary (the process runtime starts every component as one) is ever signalled.
type signalFreezer struct {
	arg string // an argument only Cerbos's command line holds
	pid int
}

func (f *signalFreezer) how() string { return "SIGSTOP" }

func (f *signalFreezer) freeze(ctx context.Context) error {
	pid, err := childProcess(f.arg)
	if err != nil {
		return err
	}
	f.pid = pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("stop Cerbos (pid %d): %w", pid, err)
	}
	return waitFor(ctx, 10*time.Second, func() bool {
		_, state, err := procStat(pid)
		return err == nil && state == 'T'
	})
}

func (f *signalFreezer) thaw(context.Context) error {
	if f.pid == 0 {
		return nil
	}
	if err := syscall.Kill(f.pid, syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume Cerbos (pid %d): %w", f.pid, err)
	}
	f.pid = 0 // never signal a pid that may have been reused
	return nil
}

// pauseFreezer pauses the component's container (the engine freezes its cgroup) and unpauses
// it. The container is found by the labels the container runtime puts on it: this run's
// directory and the component, so no other run's container is ever touched.
type pauseFreezer struct {
	run, component string
	id             string
}

func (f *pauseFreezer) how() string { return "docker pause" }

func (f *pauseFreezer) freeze(ctx context.Context) error {
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("connect to the Docker engine: %w", err)
	}
	defer docker.Close()
	list, err := docker.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.
		Add("label", container.LabelRun+"="+f.run, container.LabelComponent+"="+f.component)})
	if err != nil {
		return fmt.Errorf("find the %s container: %w", f.component, err)
	}
	if len(list.Items) != 1 {
		return fmt.Errorf("find the %s container of %s: want one running, found %d", f.component, f.run, len(list.Items))
	}
	f.id = list.Items[0].ID
	if _, err := docker.ContainerPause(ctx, f.id, client.ContainerPauseOptions{}); err != nil {
		f.id = ""
		return fmt.Errorf("pause the %s container: %w", f.component, err)
	}
	return nil
}

func (f *pauseFreezer) thaw(ctx context.Context) error {
	if f.id == "" {
		return nil
	}
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("connect to the Docker engine: %w", err)
	}
	defer docker.Close()
	_, err = docker.ContainerUnpause(ctx, f.id, client.ContainerUnpauseOptions{})
	if err != nil {
		return fmt.Errorf("unpause the %s container: %w", f.component, err)
	}
	f.id = ""
	return nil
}

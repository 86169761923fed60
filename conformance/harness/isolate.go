package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/conformance/runtime/container"
)

// Isolate runs the calling program (a suite's test binary, the demo, the benchmark) again inside
// a network namespace whose only interface is loopback, and returns exited true with its exit
// code: the caller exits with it and does nothing else. Inside, or where no namespace can be
// made, it returns exited false and the network the run has, with the reason when it is the
// host's; it says which on log, prefixed with who. Call it first thing.
//
// On the process runtime the namespace is a private one; on the container runtime it is held by
// a sandbox container that every component's container joins (container.Sandbox). A namespace
// has no network at all, so the Go modules hopguard builds from are downloaded before entering.
func Isolate(ctx context.Context, runtimeName string, log io.Writer, who string) (where netns.Where, code int, exited bool) {
	where = netns.Current()
	if where.Isolated {
		if err := netns.Enter(ctx, netns.Child{}); err != nil {
			fmt.Fprintf(log, "%s: inside the network namespace: %v\n", who, err)
			return where, 1, true
		}
		return where, 0, false
	}
	err := enter(ctx, runtimeName, log, who)
	var done *netns.Exited
	if errors.As(err, &done) {
		return where, done.Code, true
	}
	where.Why = err
	fmt.Fprintf(log, "%s: on the host's network: %v\n", who, err)
	return where, 0, false
}

func enter(ctx context.Context, runtimeName string, log io.Writer, who string) error {
	if netns.Off() {
		return fmt.Errorf("%s=off", netns.SwitchEnv)
	}
	if err := binaries.DownloadModules(ctx); err != nil {
		return err
	}
	if runtimeName != "container" {
		if err := netns.CanMakePrivate(); err != nil {
			return err
		}
		fmt.Fprintf(log, "%s: running in a network namespace of its own, loopback only\n", who)
		return netns.Enter(ctx, netns.Child{})
	}
	root, err := binaries.ModuleRoot()
	if err != nil {
		return err
	}
	sandbox, err := container.StartSandbox(ctx, filepath.Join(root, "out"))
	if err != nil {
		return err
	}
	defer func() {
		if err := sandbox.Remove(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(log, "%s: %v\n", who, err)
		}
	}()
	fmt.Fprintf(log, "%s: running in the network namespace of sandbox container %.12s, loopback only, with every container of the run\n", who, sandbox.ID)
	return netns.Enter(ctx, netns.Child{Holder: sandbox.ID, HolderPID: sandbox.PID})
}

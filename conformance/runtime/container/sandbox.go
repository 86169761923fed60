package container

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"

	"github.com/hopguard/hopguard/conformance/env"
)

// SandboxProgram is the image of the container that holds a run's network namespace:
// hopguard/pause:dev (conformance/cmd/pause), or HOPGUARD_IMAGE_PAUSE.
var SandboxProgram = env.Program{Package: "./conformance/cmd/pause"}

// Sandbox is the container that holds a run's network namespace, the pattern of a Kubernetes
// pod: it starts with no network but loopback (network mode "none"), every component's
// container joins its namespace (Options.NetworkHolder), and so does the test driver
// (conformance/netns). So nothing of the run listens on an interface of the host, and
// agentgateway's bind on every interface reaches loopback only.
type Sandbox struct {
	// ID is the container's id; PID its process on this machine.
	ID  string
	PID int
	ctr *testcontainers.DockerContainer
}

// StartSandbox starts the sandbox container of the run whose directory is runDir (for its
// label). The image comes from Images(os.LookupEnv); nothing is pulled.
func StartSandbox(ctx context.Context, runDir string) (*Sandbox, error) {
	if err := disableReaper(); err != nil {
		return nil, fmt.Errorf("network sandbox: %w", err)
	}
	image, err := Images(os.LookupEnv)(SandboxProgram)
	if err != nil {
		return nil, fmt.Errorf("network sandbox: %w", err)
	}
	ctr, err := Run(ctx, image.Ref,
		// Its one event worth telling, a failure, comes back as the error.
		testcontainers.WithLogger(componentLogger{log: io.Discard}),
		testcontainers.WithName("hopguard-"+randomID()+"-sandbox"),
		testcontainers.WithLabels(map[string]string{LabelRun: runDir, LabelComponent: "sandbox"}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.NetworkMode = network.NetworkNone
		}),
	)
	if err != nil {
		if ctr != nil {
			_ = ctr.Terminate(context.WithoutCancel(ctx))
		}
		name, _ := ProgramName(SandboxProgram)
		return nil, fmt.Errorf("network sandbox: %w; %s", err, image.missingHint(name))
	}
	info, err := ctr.Inspect(ctx)
	if err != nil || info.State == nil || info.State.Pid == 0 {
		_ = ctr.Terminate(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("network sandbox: its process is unknown: %w", err)
	}
	return &Sandbox{ID: ctr.GetContainerID(), PID: info.State.Pid, ctr: ctr}, nil
}

// Remove stops and removes the sandbox container.
func (s *Sandbox) Remove(ctx context.Context) error {
	if err := s.ctr.Terminate(ctx); err != nil {
		return fmt.Errorf("remove the network sandbox %s: %w", s.ID, err)
	}
	return nil
}

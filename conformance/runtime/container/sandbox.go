package container

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/moby/api/types/network"

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
	ctr *Container
}

// StartSandbox starts the sandbox container of the run whose directory is runDir (for its
// label). The image comes from Images(os.LookupEnv); nothing is pulled.
func StartSandbox(ctx context.Context, runDir string) (*Sandbox, error) {
	image, err := Images(os.LookupEnv)(SandboxProgram)
	if err != nil {
		return nil, fmt.Errorf("network sandbox: %w", err)
	}
	// Its one event worth telling, a failure, comes back as the error: no Spec.Log.
	ctr, err := Run(ctx, image.Ref, Spec{
		Name:        "hopguard-" + randomID() + "-sandbox",
		Labels:      map[string]string{LabelRun: runDir, LabelComponent: "sandbox"},
		NetworkMode: network.NetworkNone,
	})
	if err != nil {
		_ = ctr.Terminate(context.WithoutCancel(ctx))
		name, _ := ProgramName(SandboxProgram)
		return nil, fmt.Errorf("network sandbox: %w; %s", err, image.missingHint(name))
	}
	pid, err := ctr.PID(ctx)
	if err != nil {
		_ = ctr.Terminate(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("network sandbox: its process is unknown: %w", err)
	}
	return &Sandbox{ID: ctr.ID, PID: pid, ctr: ctr}, nil
}

// Remove stops and removes the sandbox container.
func (s *Sandbox) Remove(ctx context.Context) error {
	if err := s.ctr.Terminate(ctx); err != nil {
		return fmt.Errorf("remove the network sandbox %s: %w", s.ID, err)
	}
	return nil
}

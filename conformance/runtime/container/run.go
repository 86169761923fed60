package container

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// ErrImageNotPresent is returned by Run for an image the engine does not have: hopguard never
// pulls, so what runs is exactly what was built or pulled on purpose.
var ErrImageNotPresent = errors.New("image is not on this Docker engine (hopguard never pulls)")

// Run creates and starts a container from a local image on the host's network, with hopguard's
// defaults first and the caller's options last. Like testcontainers.Run it returns the
// container with the error when it was created but did not start, for the caller to Terminate.
//
// The defaults: host networking (the container's ports are the host's, so everything stays on
// 127.0.0.1 and ports chosen before start work as they do for processes), no capabilities,
// no privilege escalation, a read-only root file system with a tmpfs /tmp, and never a pull.
//
// It does not use testcontainers.Run because that one creates a bridge network ("reaper_default")
// on an engine without the default bridge, and engines here run with --bridge=none.
func Run(ctx context.Context, image string, opts ...testcontainers.ContainerCustomizer) (*testcontainers.DockerContainer, error) {
	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{Image: image},
		Started:          true,
	}
	for _, opt := range append(defaults(), opts...) {
		if err := opt.Customize(&req); err != nil {
			return nil, fmt.Errorf("customize: %w", err)
		}
	}
	logger := req.Logger
	if logger == nil {
		logger = tclog.Default()
	}
	// The default network is the host's, so testcontainers neither creates nor attaches any.
	provider, err := testcontainers.NewDockerProvider(
		testcontainers.WithDefaultBridgeNetwork(string(network.NetworkHost)),
		testcontainers.WithLogger(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to the Docker engine: %w", err)
	}
	defer provider.Close()
	if !provider.Config().RyukDisabled {
		// Creating a container would start the reaper, whose image is pulled from a registry.
		return nil, fmt.Errorf("testcontainers' reaper is enabled, and its image would be pulled: set %s=true (hopguard removes its own containers)", RyukDisabledEnv)
	}

	if _, err := provider.Client().ImageInspect(ctx, image); err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("%s: %w", image, ErrImageNotPresent)
		}
		return nil, fmt.Errorf("inspect image %s: %w", image, err)
	}
	created, err := provider.CreateContainer(ctx, req.ContainerRequest)
	ctr, _ := created.(*testcontainers.DockerContainer)
	if err != nil {
		return ctr, fmt.Errorf("create container from %s: %w", image, err)
	}
	if err := ctr.Start(ctx); err != nil {
		return ctr, fmt.Errorf("start container from %s: %w", image, err)
	}
	return ctr, nil
}

func defaults() []testcontainers.ContainerCustomizer {
	return []testcontainers.ContainerCustomizer{
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.NetworkMode = network.NetworkHost
			hc.CapDrop = []string{"ALL"}
			hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
			hc.ReadonlyRootfs = true
		}),
		testcontainers.WithTmpfs(map[string]string{"/tmp": "rw,noexec,nosuid,size=64m"}),
	}
}

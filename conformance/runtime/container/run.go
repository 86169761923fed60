package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// ErrImageNotPresent is returned by Run for an image the engine does not have: hopguard never
// pulls, so what runs is exactly what was built or pulled on purpose.
var ErrImageNotPresent = errors.New("image is not on this Docker engine (hopguard never pulls)")

// tmpfsTmp is the options of the tmpfs every container has at /tmp.
const tmpfsTmp = "rw,noexec,nosuid,size=64m"

// defaultGrace is how long Terminate gives a container to exit after SIGTERM.
const defaultGrace = 10 * time.Second

// removeTimeout bounds removing a container, which goes on when the caller's context has ended.
const removeTimeout = 30 * time.Second

// Spec is what a container runs beyond Run's defaults.
type Spec struct {
	// Name of the container; empty lets the engine choose one.
	Name string
	// Cmd replaces the image's command when not nil.
	Cmd []string
	// Env is the container's environment, KEY=value.
	Env []string
	// Labels on the container.
	Labels map[string]string
	// User ("uid:gid") and WorkingDir; empty means the image's.
	User       string
	WorkingDir string
	// Mounts are added to the container.
	Mounts []mount.Mount
	// NetworkMode replaces the default, the host's network: "none", "container:<id>".
	NetworkMode container.NetworkMode
	// HostPID shares the host's PID namespace with the container, so it sees every process.
	HostPID bool
	// CapAdd gives back capabilities ("CAP_SYS_PTRACE") after all were dropped.
	CapAdd []string
	// Started is called once the container has started, before the wait for readiness: to
	// follow its output, so a container that never gets ready has said why.
	Started func(ctx context.Context, c *Container) error
	// Ready is waited for once the container has started; nil waits for nothing.
	Ready Strategy
	// ReadyDeadline bounds the wait for Ready, zero leaves it to the strategy and ctx.
	ReadyDeadline time.Duration
	// Log receives a line for each thing done with the container (created, started, waiting,
	// ready, stopped, removed), each naming Component; nil drops them.
	Log       io.Writer
	Component string
}

// Container is a container Run created.
type Container struct {
	// ID is the engine's id of the container; Image the image it runs.
	ID    string
	Image string
	// Name is the container's name (Spec.Name).
	Name   string
	docker *client.Client
	log    runLogger
}

// Run creates and starts a container from a local image, with hopguard's defaults, and waits
// until it is ready (Spec.Ready). It returns the container with the error when it was created
// but did not start or get ready, for the caller to Terminate.
//
// The defaults: host networking (the container's ports are the host's, so everything stays on
// 127.0.0.1 and ports chosen before start work as they do for processes), no capabilities,
// no privilege escalation, a read-only root file system with a tmpfs /tmp, and never a pull:
// an image the engine does not have is ErrImageNotPresent. No network is ever created.
func Run(ctx context.Context, image string, spec Spec) (*Container, error) {
	log := runLogger{log: spec.Log, component: spec.Component}
	docker, err := engine(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := docker.ImageInspect(ctx, image); err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("%s: %w", image, ErrImageNotPresent)
		}
		return nil, fmt.Errorf("inspect image %s: %w", image, err)
	}

	config := &container.Config{
		Image:      image,
		Cmd:        spec.Cmd,
		Env:        spec.Env,
		Labels:     spec.Labels,
		User:       spec.User,
		WorkingDir: spec.WorkingDir,
	}
	hostConfig := &container.HostConfig{
		NetworkMode:    network.NetworkHost,
		CapDrop:        []string{"ALL"},
		CapAdd:         spec.CapAdd,
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": tmpfsTmp},
		Mounts:         spec.Mounts,
	}
	if spec.NetworkMode != "" {
		hostConfig.NetworkMode = spec.NetworkMode
	}
	if spec.HostPID {
		hostConfig.PidMode = "host"
	}
	log.printf("creating a container %q from image %s", spec.Name, image)
	created, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     config,
		HostConfig: hostConfig,
		Name:       spec.Name,
	})
	if err != nil {
		log.printf("creating failed: %v", err)
		return nil, fmt.Errorf("create container from %s: %w", image, err)
	}
	c := &Container{ID: created.ID, Image: image, Name: spec.Name, docker: docker, log: log}
	for _, warning := range created.Warnings {
		log.printf("the engine warns: %s", warning)
	}
	log.printf("created container %.12s", c.ID)

	if _, err := docker.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		log.printf("starting %.12s failed: %v", c.ID, err)
		return c, fmt.Errorf("start container from %s: %w", image, err)
	}
	log.printf("started container %.12s", c.ID)
	if spec.Started != nil {
		if err := spec.Started(ctx, c); err != nil {
			return c, fmt.Errorf("start container from %s: %w", image, err)
		}
	}
	if spec.Ready == nil {
		return c, nil
	}
	waitCtx, cancel := ctx, context.CancelFunc(func() {})
	if spec.ReadyDeadline > 0 {
		waitCtx, cancel = context.WithTimeout(ctx, spec.ReadyDeadline)
	}
	defer cancel()
	log.printf("waiting for container %.12s: %s", c.ID, spec.Ready)
	if err := spec.Ready.WaitUntilReady(waitCtx, c); err != nil {
		log.printf("container %.12s is not ready: %v", c.ID, err)
		return c, fmt.Errorf("start container from %s: wait until ready: %w", image, err)
	}
	log.printf("container %.12s is ready", c.ID)
	return c, nil
}

// Inspect returns what the engine knows of the container.
func (c *Container) Inspect(ctx context.Context) (container.InspectResponse, error) {
	res, err := c.docker.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, err
	}
	return res.Container, nil
}

// State implements Target.
func (c *Container) State(ctx context.Context) (*container.State, error) {
	info, err := c.Inspect(ctx)
	if err != nil {
		return nil, err
	}
	if info.State == nil {
		return nil, errors.New("the engine reports no state")
	}
	return info.State, nil
}

// PID is the container's first process as this machine numbers it.
func (c *Container) PID(ctx context.Context) (int, error) {
	info, err := c.Inspect(ctx)
	if err != nil {
		return 0, fmt.Errorf("inspect container: %w", err)
	}
	if info.State == nil || info.State.Pid == 0 {
		return 0, errors.New("the container has no process")
	}
	return info.State.Pid, nil
}

// Stop stops the container: SIGTERM, then SIGKILL once grace (rounded up to whole seconds, as
// the engine counts) has passed. When ctx ends first the container is killed at once. A
// container that has already exited is left as it is.
func (c *Container) Stop(ctx context.Context, grace time.Duration) error {
	seconds := max(0, int(math.Ceil(grace.Seconds())))
	c.log.printf("stopping container %.12s (SIGKILL after %ds)", c.ID, seconds)
	if _, err := c.docker.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &seconds}); err != nil {
		if ctx.Err() != nil {
			kill, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
			defer cancel()
			_, _ = c.docker.ContainerKill(kill, c.ID, client.ContainerKillOptions{Signal: "KILL"})
		}
		c.log.printf("stopping container %.12s failed: %v", c.ID, err)
		return fmt.Errorf("container stop: %w", err)
	}
	c.log.printf("stopped container %.12s", c.ID)
	return nil
}

// Remove removes the container, killing it if it still runs. It goes on when ctx has ended, so
// nothing is left behind; a container already gone is removed.
func (c *Container) Remove(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancel()
	_, err := c.docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !errdefs.IsNotFound(err) {
		c.log.printf("removing container %.12s failed: %v", c.ID, err)
		return err
	}
	c.log.printf("removed container %.12s", c.ID)
	return nil
}

// Terminate stops the container (SIGKILL after 10s) and removes it. A nil container is
// nothing to terminate.
func (c *Container) Terminate(ctx context.Context) error {
	if c == nil {
		return nil
	}
	stopErr := c.Stop(ctx, defaultGrace)
	if errdefs.IsNotFound(stopErr) {
		stopErr = nil
	}
	if err := c.Remove(ctx); err != nil {
		return errors.Join(stopErr, fmt.Errorf("remove container: %w", err))
	}
	return nil
}

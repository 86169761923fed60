package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/testcontainers/testcontainers-go"

	"github.com/hopguard/hopguard/conformance/env"
)

// logDrainTimeout bounds the wait for a stopped container's last output.
const logDrainTimeout = 5 * time.Second

// instance is one started component container.
type instance struct {
	ctr  *testcontainers.DockerContainer
	log  *componentLog
	logs *logFollower
}

// launch renders the component's files into its directory, then runs its container with the
// directory and the source tree mounted, and waits until it is ready. On failure nothing of it
// is left running, and the error quotes its log.
func (e *environment) launch(ctx context.Context, c env.Component, image Image) (*instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("not started: %w", context.Cause(ctx))
	}
	dir := e.layout.Dir(c.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	owned := []string{dir}
	refs := &referenceChecker{layout: e.layout}
	for _, f := range c.Files {
		data, err := f.Render(refs)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", f.Name, err)
		}
		path := filepath.Join(dir, f.Name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.Name, err)
		}
		owned = append(owned, path)
	}
	var args []string
	if c.Args != nil {
		args = c.Args(refs)
	}
	if len(refs.missing) > 0 {
		return nil, fmt.Errorf("the description refers to undeclared ports %s", strings.Join(refs.missing, ", "))
	}
	if err := e.user.own(owned...); err != nil {
		return nil, err
	}

	logPath := e.LogPath(c.Name)
	log, err := openLog(logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "### %s: %s %s\n", time.Now().Format(time.RFC3339), image.Ref, strings.Join(args, " "))
	inst := &instance{log: log, logs: &logFollower{done: make(chan struct{})}}
	inst.ctr, err = Run(ctx, image.Ref, e.options(c, args, inst)...)
	if err == nil {
		return inst, nil
	}
	if inst.ctr == nil {
		_ = log.Close()
	} else {
		_ = inst.stop(context.WithoutCancel(ctx), e.opts.StopTimeout)
	}
	if errors.Is(err, ErrImageNotPresent) {
		name, _ := ProgramName(c.Program)
		return nil, fmt.Errorf("%w; %s", err, image.missingHint(name))
	}
	return nil, fmt.Errorf("%w; last lines of %s:\n%s", err, logPath, tail(logPath, 20))
}

// options are the component's own container options, applied after Run's defaults.
func (e *environment) options(c env.Component, args []string, inst *instance) []testcontainers.ContainerCustomizer {
	dir := e.layout.Dir(c.Name)
	ready, _ := e.layout.lookup(c.Name, c.Ready.Port) // Validate checked the port exists
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(componentLogger{log: e.tcLog, component: c.Name}),
		testcontainers.WithName("hopguard-" + e.runID + "-" + c.Name),
		testcontainers.WithLabels(map[string]string{LabelRun: e.opts.Dir, LabelComponent: c.Name}),
		testcontainers.WithEnv(envMap(c.Env)),
		testcontainers.WithConfigModifier(func(cfg *container.Config) {
			cfg.User = e.user.user
			cfg.WorkingDir = dir
		}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			// At the same paths as outside: the rendered files and arguments name them so.
			hc.Mounts = append(hc.Mounts,
				mount.Mount{Type: mount.TypeBind, Source: e.opts.ModuleRoot, Target: e.opts.ModuleRoot, ReadOnly: true},
				mount.Mount{Type: mount.TypeBind, Source: dir, Target: dir},
			)
		}),
		testcontainers.WithAdditionalLifecycleHooks(followLogs(e.follow, e.docker.Client(), inst.log, inst.logs)),
		// The strategy's own timeout comes first, with its last probe error in the message.
		testcontainers.WithWaitStrategyAndDeadline(e.opts.ReadyTimeout+5*time.Second, ForProbe(c.Ready, ready, e.opts.ReadyTimeout)),
	}
	if args != nil {
		opts = append(opts, testcontainers.WithCmd(args...))
	}
	return opts
}

// stop stops the container (SIGTERM, then SIGKILL after grace), copies its last output to its
// log and removes it.
func (i *instance) stop(ctx context.Context, grace time.Duration) error {
	defer i.log.Close()
	stopErr := i.ctr.Stop(ctx, &grace)
	drain, cancel := context.WithTimeout(ctx, logDrainTimeout)
	i.logs.wait(drain)
	cancel()
	if err := i.ctr.Terminate(ctx); err != nil {
		return errors.Join(stopErr, fmt.Errorf("remove container: %w", err))
	}
	return stopErr
}

func envMap(vars []string) map[string]string {
	m := make(map[string]string, len(vars))
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// nonRootID is the user and group hopguard's images run as (docker/*.Dockerfile).
const nonRootID = 65532

// containerUserSpec is who a container runs as, and who must own what is mounted into it.
type containerUserSpec struct {
	user  string // uid:gid
	owner int    // -1 leaves ownership as it is
}

// containerUser never runs a container as root: run by a user, containers run as that user,
// so the files they share are the user's own; run by root, they run as the images' non-root
// user, and each component directory is handed to it.
func containerUser() containerUserSpec {
	if uid := os.Getuid(); uid != 0 {
		return containerUserSpec{user: fmt.Sprintf("%d:%d", uid, os.Getgid()), owner: -1}
	}
	return containerUserSpec{user: fmt.Sprintf("%d:%d", nonRootID, nonRootID), owner: nonRootID}
}

func (u containerUserSpec) own(paths ...string) error {
	if u.owner < 0 {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, u.owner, u.owner); err != nil {
			return fmt.Errorf("hand %s to the container's user: %w", p, err)
		}
	}
	return nil
}

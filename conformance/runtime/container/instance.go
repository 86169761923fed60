package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
)

// logDrainTimeout bounds the wait for a stopped container's last output.
const logDrainTimeout = 5 * time.Second

// instance is one started component container.
type instance struct {
	ctr     *Container
	log     *componentLog
	logs    *logFollower
	logPath string
	ready   Strategy
}

var _ runtime.Instance = (*instance)(nil)

// startContainer renders the component's files into its directory, then runs its container
// with the directory and the source tree mounted, and waits until it is ready. On failure
// nothing of it is left running, and the error quotes its log.
func (e *environment) startContainer(ctx context.Context, c env.Component, image Image) (*instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("not started: %w", context.Cause(ctx))
	}
	prepared, err := e.layout.Prepare(c)
	if err != nil {
		return nil, err
	}
	if err := e.user.of(c).own(append([]string{prepared.Dir}, prepared.Files...)...); err != nil {
		return nil, err
	}

	logPath := e.layout.LogPath(c.Name)
	log, err := openLog(logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "### %s: %s %s\n", time.Now().Format(time.RFC3339), image.Ref, strings.Join(prepared.Args, " "))
	inst := &instance{
		log:     log,
		logs:    &logFollower{done: make(chan struct{})},
		logPath: logPath,
		ready:   ForProbe(c.Ready, e.layout.ReadyAddr(c), e.opts.ReadyTimeout),
	}
	inst.ctr, err = Run(ctx, image.Ref, e.spec(c, prepared, inst))
	if err == nil {
		return inst, nil
	}
	if inst.ctr == nil {
		_ = log.Close()
	} else {
		_ = inst.Stop(context.WithoutCancel(ctx), e.opts.StopTimeout)
	}
	if errors.Is(err, ErrImageNotPresent) {
		name, _ := ProgramName(c.Program)
		return nil, fmt.Errorf("%w; %s", err, image.missingHint(name))
	}
	return nil, fmt.Errorf("%w; %s", err, runtime.LastLines(logPath))
}

// AwaitReady implements runtime.Instance.
func (i *instance) AwaitReady(ctx context.Context) error {
	if err := i.ready.WaitUntilReady(ctx, i.ctr); err != nil {
		return fmt.Errorf("%w; %s", err, runtime.LastLines(i.logPath))
	}
	return nil
}

// spec is the component's container: its name, labels, command, environment and user, its
// directory and the source tree mounted at their own paths (and read-only the directories it
// reaches), the sandbox's network when there is one, the host's processes when it inspects
// them, its output followed into its log and its readiness probe.
func (e *environment) spec(c env.Component, prepared runtime.Prepared, inst *instance) Spec {
	dir := prepared.Dir
	spec := Spec{
		Name:   "hopguard-" + e.runID + "-" + c.Name,
		Cmd:    prepared.Args,
		Env:    envList(c.Env),
		Labels: map[string]string{LabelRun: e.opts.Dir, LabelComponent: c.Name},
		User:   e.user.of(c).user,
		// At the same paths as outside: the rendered files and arguments name them so.
		WorkingDir: dir,
		Mounts: []mount.Mount{
			{Type: mount.TypeBind, Source: e.opts.ModuleRoot, Target: e.opts.ModuleRoot, ReadOnly: true},
			{Type: mount.TypeBind, Source: dir, Target: dir},
		},
		Started: followLogs(e.follow, inst.log, inst.logs),
		Ready:   inst.ready,
		// The strategy's own timeout comes first, with its last probe error in the message.
		ReadyDeadline: e.opts.ReadyTimeout + 5*time.Second,
		Log:           e.runLog,
		Component:     c.Name,
	}
	for _, reached := range c.Reaches {
		d := e.layout.Dir(reached)
		spec.Mounts = append(spec.Mounts, mount.Mount{Type: mount.TypeBind, Source: d, Target: d, ReadOnly: true})
	}
	if holder := e.opts.NetworkHolder; holder != "" {
		spec.NetworkMode = container.NetworkMode("container:" + holder)
	}
	if c.InspectsProcesses {
		spec.HostPID, spec.CapAdd = true, []string{"CAP_SYS_PTRACE"}
	}
	return spec
}

// PID implements runtime.Instance: the container's first process, as the engine reports it.
func (i *instance) PID(ctx context.Context) (int, error) {
	return i.ctr.PID(ctx)
}

// Stop implements runtime.Instance: it stops the container (SIGTERM, then SIGKILL after grace),
// copies its last output to its log and removes it.
func (i *instance) Stop(ctx context.Context, grace time.Duration) error {
	defer i.log.Close()
	stopErr := i.ctr.Stop(ctx, grace)
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), logDrainTimeout)
	i.logs.wait(drain)
	cancel()
	if err := i.ctr.Remove(ctx); err != nil {
		return errors.Join(stopErr, fmt.Errorf("remove container: %w", err))
	}
	return stopErr
}

// envList is vars as the engine takes them, KEY=value, the last of a repeated key winning and
// a bare KEY meaning KEY= (set, empty), sorted.
func envList(vars []string) []string {
	m := make(map[string]string, len(vars))
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// nonRootID is the user and group hopguard's images run as (docker/*.Dockerfile).
const nonRootID = 65532

// containerUserSpec is who a container runs as, and who must own what is mounted into it.
type containerUserSpec struct {
	user  string // uid:gid
	uid   int
	owner int // -1 leaves ownership as it is
}

// containerUser never runs a container as root: run by a user, containers run as that user,
// so the files they share are the user's own; run by root, they run as the images' non-root
// user, and each component directory is handed to it.
func containerUser() containerUserSpec {
	if uid := os.Getuid(); uid != 0 {
		return containerUserSpec{user: fmt.Sprintf("%d:%d", uid, os.Getgid()), uid: uid, owner: -1}
	}
	return containerUserSpec{user: fmt.Sprintf("%d:%d", nonRootID, nonRootID), uid: nonRootID, owner: nonRootID}
}

// of is who component c's container runs as. One that inspects other users' processes runs as
// root: an unprivileged user never holds the CAP_SYS_PTRACE it is given back. Its directory is
// root's too, because root without CAP_DAC_OVERRIDE writes only where it owns; the run's
// directories are root's when the harness is, and otherwise stay the harness user's.
func (u containerUserSpec) of(c env.Component) containerUserSpec {
	if !c.InspectsProcesses {
		return u
	}
	owner := -1
	if os.Getuid() == 0 {
		owner = 0
	}
	return containerUserSpec{user: "0:0", uid: 0, owner: owner}
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

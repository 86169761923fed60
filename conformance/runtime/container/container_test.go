package container_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/runtime/container"
)

// Images these tests run; docker/build-images.sh builds them.
var testImages = []string{container.LocalImage("cerbos"), container.LocalImage("mockllm")}

// requireEngine skips the test when no Docker engine answers or the images are not built,
// except where the container runtime was asked for (HOPGUARD_RUNTIME=container, as
// `make container-test` sets it): there a missing engine is a failure.
func requireEngine(t *testing.T) {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("HOPGUARD_RUNTIME") == "container" {
		skip = t.Fatalf
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	docker, err := container.Engine(ctx)
	if err != nil {
		skip("container runtime: not run (no Docker engine answers: %v)", err)
		return
	}
	for _, image := range testImages {
		if _, err := docker.ImageInspect(ctx, image); err != nil {
			skip("container runtime: not run (image %s: %v; build it with docker/build-images.sh)", image, err)
			return
		}
	}
}

// localImages runs hopguard's locally built images, whatever the environment says.
func localImages(p env.Program) (container.Image, error) {
	name, err := container.ProgramName(p)
	if err != nil {
		return container.Image{}, err
	}
	if strings.HasPrefix(name, "missing") {
		return container.Image{Ref: "hopguard/" + name + ":dev", Variable: container.ImageEnv(name)}, nil
	}
	return container.Image{Ref: container.LocalImage(name), Variable: container.ImageEnv(name)}, nil
}

type recorder struct {
	mu     sync.Mutex
	events []runtime.Event
}

func (r *recorder) observe(e runtime.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) phases(component string) []runtime.Phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Phase
	for _, e := range r.events {
		if e.Component == component {
			out = append(out, e.Phase)
		}
	}
	return out
}

func newRuntime(t *testing.T, rec *recorder, readyTimeout time.Duration) *container.Runtime {
	t.Helper()
	root, err := binaries.ModuleRoot()
	require.NoError(t, err)
	rt, err := container.New(container.Options{
		Dir:          t.TempDir(),
		ModuleRoot:   root,
		Image:        localImages,
		Observe:      rec.observe,
		ReadyTimeout: readyTimeout,
	})
	require.NoError(t, err)
	return rt
}

// cerbos is real Cerbos reading a config rendered into its directory, the policies from the
// read-only source tree, and writing its decision log into its directory.
func cerbos() env.Component {
	const name = "cerbos"
	return env.Component{
		Name:    name,
		Program: env.Program{Tool: "cerbos"},
		Ports:   []string{"http", "grpc"},
		Files: []env.File{{Name: "cerbos.yaml", Render: func(l env.Layout) ([]byte, error) {
			return fmt.Appendf(nil, `server:
  httpListenAddr: %q
  grpcListenAddr: %q
storage:
  driver: disk
  disk: {directory: %q}
audit:
  enabled: true
  backend: file
  decisionLogsEnabled: true
  file: {path: %q}
telemetry: {disabled: true}
`, l.Addr(name, "http"), l.Addr(name, "grpc"), filepath.Join(l.ModuleRoot(), "policies", "bundle"), filepath.Join(l.Dir(name), "decisions.log")), nil
		}}},
		Args: func(l env.Layout) []string {
			return []string{"server", "--config=" + filepath.Join(l.Dir(name), "cerbos.yaml"), "--debug-listen-addr=127.0.0.1:0"}
		},
		Ready: env.Probe{Kind: env.ProbeHTTP, Port: "http", Path: "/_cerbos/health"},
	}
}

// llm is the mock LLM; args replaces its command line when not nil.
func llm(name string, args ...string) env.Component {
	return env.Component{
		Name:    name,
		Program: env.Program{Package: "./mockservers/cmd/mockllm"},
		Ports:   []string{"http"},
		Args: func(l env.Layout) []string {
			if args != nil {
				return args
			}
			return []string{"--addr=" + l.Addr(name, "http").String()}
		},
		Ready: env.Probe{Kind: env.ProbeHTTP, Port: "http", Path: "/_journal"},
	}
}

func get(t *testing.T, running runtime.Environment, component, port, path string) (int, error) {
	t.Helper()
	addr, err := running.Endpoint(component, port)
	require.NoError(t, err)
	resp, err := http.Get("http://" + addr.String() + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

func TestStartStopRestartClose(t *testing.T) {
	requireEngine(t)
	rec := &recorder{}
	rt := newRuntime(t, rec, 60*time.Second)
	running, err := rt.Start(t.Context(), env.Environment{Components: []env.Component{cerbos(), llm("llm")}})
	if running != nil {
		t.Cleanup(func() { _ = running.Close(context.Background()) })
	}
	require.NoError(t, err)

	status, err := get(t, running, "cerbos", "http", "/_cerbos/health")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assertHardened(t, running.Dir(), "cerbos")
	cerbosAddr, _ := running.Endpoint("cerbos", "http")
	assert.True(t, cerbosAddr.Addr().IsLoopback(), "host networking: the container listens on the host's loopback")
	// A decision is written to the decision log in the component's mounted directory.
	check := `{"requestId":"t","principal":{"id":"p","roles":["user"]},"resources":[{"actions":["read"],"resource":{"kind":"nothing","id":"1"}}]}`
	resp, err := http.Post("http://"+cerbosAddr.String()+"/api/check/resources", "application/json", strings.NewReader(check))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// Cerbos writes its decision log behind the response; give it time, not a deadline to race.
	decisionLog := filepath.Join(running.Dir(), "cerbos", "decisions.log")
	require.Eventually(t, func() bool {
		decisions, err := os.ReadFile(decisionLog)
		return err == nil && strings.Contains(string(decisions), `"kind":"nothing"`)
	}, 30*time.Second, 50*time.Millisecond, "the container writes its decision into its mounted directory")

	require.NoError(t, running.Stop(t.Context(), "llm"))
	_, err = get(t, running, "llm", "http", "/_journal")
	require.Error(t, err, "a stopped component must not answer")
	require.NoError(t, running.Restart(t.Context(), "llm"))
	status, err = get(t, running, "llm", "http", "/_journal")
	require.NoError(t, err, "a restarted component answers on the same port")
	assert.Equal(t, http.StatusOK, status)
	require.NoError(t, running.Ready(t.Context(), "llm"))

	images := running.(interface{ Images() map[string]string }).Images()
	assert.Equal(t, map[string]string{"cerbos": "hopguard/cerbos:dev", "llm": "hopguard/mockllm:dev"}, images)

	require.NoError(t, running.Close(t.Context()))
	_, err = get(t, running, "cerbos", "http", "/_cerbos/health")
	require.Error(t, err)
	require.NoError(t, running.Close(t.Context()), "Close is idempotent")
	assertNoContainers(t, running.Dir())

	log, err := os.ReadFile(running.LogPath("llm"))
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(log), "listening on http://"), "the log holds both runs' output")
	assert.NotContains(t, string(log), "\x00", "stdout and stderr are demultiplexed: no stream headers in the log")
	runLog, err := os.ReadFile(filepath.Join(running.Dir(), "logs", container.ContainersLog))
	require.NoError(t, err)
	for _, says := range []string{"cerbos: created container", "llm: started container", "llm: waiting for container", "llm: stopping container", "llm: removed container"} {
		assert.Contains(t, string(runLog), says, "the run's containers.log says what was done with each container")
	}
	assert.Equal(t, []runtime.Phase{runtime.Starting, runtime.Ready, runtime.Stopped, runtime.Starting, runtime.Ready, runtime.Stopped}, rec.phases("llm"))
}

func TestStartFailsWithTheComponentsOwnWords(t *testing.T) {
	requireEngine(t)
	rec := &recorder{}
	rt := newRuntime(t, rec, 30*time.Second)
	running, err := rt.Start(t.Context(), env.Environment{Components: []env.Component{
		llm("alpha"),
		llm("broken", "--addr=0.0.0.0:1"),
		llm("never"),
	}})
	require.Error(t, err)
	require.NotNil(t, running)
	t.Cleanup(func() { _ = running.Close(context.Background()) })
	assert.Contains(t, err.Error(), "start broken")
	assert.Contains(t, err.Error(), "exited before it was ready (exit code 1)")
	assert.Contains(t, err.Error(), "the host must be a loopback address", "the error quotes the component's log")
	_, getErr := get(t, running, "alpha", "http", "/_journal")
	require.NoError(t, getErr, "what started is left for the caller to close")
	assert.Empty(t, rec.phases("never"), "nothing after the failure starts")
	require.NoError(t, running.Close(t.Context()))
	assertNoContainers(t, running.Dir())
}

func TestReadinessTimeoutRemovesTheContainer(t *testing.T) {
	requireEngine(t)
	rt := newRuntime(t, &recorder{}, 2*time.Second)
	slow := llm("slow")
	slow.Ready.Path = "/not-ready"
	running, err := rt.Start(t.Context(), env.Environment{Components: []env.Component{slow}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status 404")
	addr, _ := running.Endpoint("slow", "http")
	_, dialErr := net.DialTimeout("tcp", addr.String(), time.Second)
	require.Error(t, dialErr, "a component that never got ready is not left running")
	assertNoContainers(t, running.Dir())
}

func TestMissingImageIsNotPulled(t *testing.T) {
	requireEngine(t)
	rt := newRuntime(t, &recorder{}, 30*time.Second)
	missing := llm("gateway")
	missing.Program = env.Program{Tool: "missing-gateway"}
	missing.Optional = true
	running, err := rt.Start(t.Context(), env.Environment{Components: []env.Component{missing, llm("llm")}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = running.Close(context.Background()) })
	notRunning := running.NotRunning()
	require.Contains(t, notRunning, "gateway")
	assert.True(t, errors.Is(notRunning["gateway"], container.ErrImageNotPresent), notRunning["gateway"].Error())
	assert.Contains(t, notRunning["gateway"].Error(), "docker/build-images.sh")
	assert.Contains(t, notRunning["gateway"].Error(), "HOPGUARD_IMAGE_MISSING_GATEWAY")
}

func TestMissingOfficialImageSaysHowToGetIt(t *testing.T) {
	requireEngine(t)
	root, err := binaries.ModuleRoot()
	require.NoError(t, err)
	rt, err := container.New(container.Options{
		Dir:        t.TempDir(),
		ModuleRoot: root,
		Image:      container.Images(func(string) (string, bool) { return "", false }),
	})
	require.NoError(t, err)
	gateway := llm("agentgateway")
	gateway.Program = env.Program{Tool: "agentgateway"}
	gateway.Optional = true
	running, err := rt.Start(t.Context(), env.Environment{Components: []env.Component{gateway}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = running.Close(context.Background()) })
	reason := running.NotRunning()["agentgateway"]
	require.Error(t, reason)
	assert.True(t, errors.Is(reason, container.ErrImageNotPresent), reason.Error())
	assert.Contains(t, reason.Error(), "HOPGUARD_AGENTGATEWAY=", "names the first way to get it")
	assert.Contains(t, reason.Error(), "`docker pull cr.agentgateway.dev/agentgateway:v1.4.1`", "names the second")
}

func TestCancelledStartLeavesNothingRunning(t *testing.T) {
	requireEngine(t)
	rt := newRuntime(t, &recorder{}, 30*time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	running, err := rt.Start(ctx, env.Environment{Components: []env.Component{llm("alpha")}})
	require.Error(t, err)
	require.True(t, errors.Is(err, context.Canceled), err.Error())
	require.NoError(t, running.Close(t.Context()))
	assertNoContainers(t, running.Dir())
}

// assertNoContainers checks that no container of the run is left, running or not.
func assertNoContainers(t *testing.T, runDir string) {
	t.Helper()
	docker, err := container.Engine(t.Context())
	require.NoError(t, err)
	list, err := docker.ContainerList(t.Context(), client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", container.LabelRun+"="+runDir),
	})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "containers left behind")
}

// inspectComponent is what the engine knows of the run's container of component.
func inspectComponent(t *testing.T, runDir, component string) mobycontainer.InspectResponse {
	t.Helper()
	docker, err := container.Engine(t.Context())
	require.NoError(t, err)
	list, err := docker.ContainerList(t.Context(), client.ContainerListOptions{
		Filters: make(client.Filters).Add("label", container.LabelRun+"="+runDir, container.LabelComponent+"="+component),
	})
	require.NoError(t, err)
	require.Len(t, list.Items, 1, "one running container of %s", component)
	info, err := docker.ContainerInspect(t.Context(), list.Items[0].ID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	return info.Container
}

// assertHardened checks the defaults every component's container runs with, its name and what
// is mounted into it.
func assertHardened(t *testing.T, runDir, component string) {
	t.Helper()
	info := inspectComponent(t, runDir, component)
	assert.Regexp(t, `^/hopguard-[0-9a-f]{8}-`+component+`$`, info.Name)
	hc := info.HostConfig
	require.NotNil(t, hc)
	assert.Equal(t, []string{"ALL"}, hc.CapDrop, "no capabilities")
	assert.Contains(t, hc.SecurityOpt, "no-new-privileges")
	assert.True(t, hc.ReadonlyRootfs, "a read-only root file system")
	assert.Equal(t, map[string]string{"/tmp": "rw,noexec,nosuid,size=64m"}, hc.Tmpfs)
	assert.Equal(t, "host", string(hc.NetworkMode), "the host's network without a sandbox")
	require.NotNil(t, info.Config)
	assert.NotEqual(t, "", info.Config.User)
	assert.NotContains(t, []string{"0", "root", "0:0"}, info.Config.User, "never root")
	root, err := binaries.ModuleRoot()
	require.NoError(t, err)
	dir := filepath.Join(runDir, component)
	mounts := map[string]bool{} // destination: read-write
	for _, m := range info.Mounts {
		if m.Source == m.Destination {
			mounts[m.Destination] = m.RW
		}
	}
	assert.Equal(t, map[string]bool{root: false, dir: true}, mounts, "the source tree read-only and the component's directory, each at its own path")
	assert.Equal(t, dir, info.Config.WorkingDir)
}

func TestSandboxHoldsALoopbackOnlyNamespace(t *testing.T) {
	requireEngine(t)
	ctx := t.Context()
	docker, err := container.Engine(ctx)
	require.NoError(t, err)
	if _, err := docker.ImageInspect(ctx, container.LocalImage("pause")); err != nil {
		t.Skipf("image %s: %v; build it with docker/build-images.sh", container.LocalImage("pause"), err)
	}
	runDir := t.TempDir()
	sandbox, err := container.StartSandbox(ctx, runDir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sandbox.Remove(context.Background()) })
	assert.NotZero(t, sandbox.PID)
	info, err := docker.ContainerInspect(ctx, sandbox.ID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, "none", string(info.Container.HostConfig.NetworkMode))
	assert.Equal(t, "sandbox", info.Container.Config.Labels[container.LabelComponent])

	// A member joins the sandbox's namespace: the same one, with loopback only.
	member, err := container.Run(ctx, container.LocalImage("mockllm"), container.Spec{
		Cmd:         []string{"--addr=127.0.0.1:18080"},
		Labels:      map[string]string{container.LabelRun: runDir, container.LabelComponent: "member"},
		NetworkMode: mobycontainer.NetworkMode("container:" + sandbox.ID),
	})
	t.Cleanup(func() { _ = member.Terminate(context.Background()) })
	require.NoError(t, err)
	pid, err := member.PID(ctx)
	require.NoError(t, err)
	sandboxNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", sandbox.PID))
	if err != nil {
		t.Skipf("cannot read the sandbox's network namespace: %v", err)
	}
	memberNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	require.NoError(t, err)
	assert.Equal(t, sandboxNS, memberNS, "the member is in the sandbox's network namespace")
	dev, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", sandbox.PID))
	require.NoError(t, err)
	var interfaces []string
	for _, line := range strings.Split(string(dev), "\n")[2:] {
		if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			interfaces = append(interfaces, name)
		}
	}
	assert.Equal(t, []string{"lo"}, interfaces, "loopback only")

	require.NoError(t, member.Terminate(ctx))
	require.NoError(t, sandbox.Remove(ctx))
	assertNoContainers(t, runDir)
}

func TestRunNeverPulls(t *testing.T) {
	requireEngine(t)
	ctr, err := container.Run(t.Context(), "hopguard/never-built:dev", container.Spec{})
	require.ErrorIs(t, err, container.ErrImageNotPresent)
	assert.Nil(t, ctr, "nothing is created")
	docker, err := container.Engine(t.Context())
	require.NoError(t, err)
	_, err = docker.ImageInspect(t.Context(), "hopguard/never-built:dev")
	require.Error(t, err, "and nothing is pulled")
}

// TestProgramExecutableIsWhatTheContainerRuns checks the digest and user read out of an image
// against what /proc says of its running container's process, which is what SPIRE's agent
// attests the container by.
func TestProgramExecutableIsWhatTheContainerRuns(t *testing.T) {
	requireEngine(t)
	if os.Getuid() != 0 {
		t.Skip("reading another user's /proc/<pid>/exe needs root")
	}
	component := llm("llm")
	exe, err := container.ProgramExecutable(t.Context(), component.Program)
	require.NoError(t, err)
	assert.Equal(t, container.LocalImage("mockllm"), exe.Image)

	running, err := newRuntime(t, &recorder{}, 30*time.Second).Start(t.Context(), env.Environment{Components: []env.Component{component}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = running.Close(context.WithoutCancel(t.Context())) })
	pids, err := running.PIDs(t.Context())
	require.NoError(t, err)
	pid := pids["llm"]
	require.NotZero(t, pid)

	sum, err := fileSHA256(fmt.Sprintf("/proc/%d/exe", pid))
	require.NoError(t, err)
	assert.Equal(t, sum, exe.SHA256, "the digest read from the image is the running executable's")
	info, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	require.NoError(t, err)
	assert.Equal(t, uint32(exe.UID), info.Sys().(*syscall.Stat_t).Uid, "the user is the one the runtime runs it as")
}

// TestComponentPrivilegesReachTheContainer checks what the description's knobs become: a
// component that reaches another's directory has it mounted read-only, and one that inspects
// processes shares the host's PID namespace as root with CAP_SYS_PTRACE alone. The rest keep
// the defaults.
func TestComponentPrivilegesReachTheContainer(t *testing.T) {
	requireEngine(t)
	ctx := t.Context()
	owner, inspector := llm("owner"), llm("inspector")
	inspector.Reaches, inspector.InspectsProcesses = []string{"owner"}, true
	running, err := newRuntime(t, &recorder{}, 30*time.Second).Start(ctx, env.Environment{Components: []env.Component{owner, inspector}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = running.Close(context.WithoutCancel(t.Context())) })

	docker, err := container.Engine(ctx)
	require.NoError(t, err)
	inspect := func(component string) mobycontainer.InspectResponse {
		list, err := docker.ContainerList(ctx, client.ContainerListOptions{
			Filters: make(client.Filters).Add("label", container.LabelRun+"="+running.Dir(), container.LabelComponent+"="+component),
		})
		require.NoError(t, err)
		require.Len(t, list.Items, 1, "one container of %s", component)
		got, err := docker.ContainerInspect(ctx, list.Items[0].ID, client.ContainerInspectOptions{})
		require.NoError(t, err)
		return got.Container
	}

	got := inspect("inspector")
	assert.True(t, got.HostConfig.PidMode.IsHost(), "it sees the host's processes")
	assert.Equal(t, "0:0", got.Config.User)
	assert.ElementsMatch(t, []string{"CAP_SYS_PTRACE"}, got.HostConfig.CapAdd)
	assert.Contains(t, got.HostConfig.CapDrop, "ALL")
	reached := filepath.Join(running.Dir(), "owner")
	var mounted bool
	for _, m := range got.Mounts {
		if m.Destination == reached {
			mounted = true
			assert.False(t, m.RW, "the reached directory is mounted read-only")
		}
	}
	assert.True(t, mounted, "the reached directory %s is mounted", reached)

	plain := inspect("owner")
	assert.False(t, plain.HostConfig.PidMode.IsHost())
	assert.NotEqual(t, "0:0", plain.Config.User)
	assert.Empty(t, plain.HostConfig.CapAdd)
	for _, m := range plain.Mounts {
		assert.NotEqual(t, filepath.Join(running.Dir(), "inspector"), m.Destination, "nothing else is mounted")
	}
}

func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

package process_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/runtime/process"
)

// helperEnv makes the test binary act as a component instead of running the tests.
const helperEnv = "HOPGUARD_PROCESS_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runHelper is a tiny component: "serve" answers GET /ready with 200 on --addr (after reading
// --config from its directory); "exit" fails at once; "hang" listens but never answers 2xx.
func runHelper(mode string, args []string) int {
	fs := flag.NewFlagSet("helper", flag.ContinueOnError)
	addr := fs.String("addr", "", "listen address")
	config := fs.String("config", "", "config file to require")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if mode == "exit" {
		fmt.Fprintln(os.Stderr, "helper: refusing to start on purpose")
		return 3
	}
	if *config != "" {
		data, err := os.ReadFile(*config)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 4
		}
		fmt.Printf("helper: config %s\n", data)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 5
	}
	status := http.StatusOK
	if mode == "hang" {
		status = http.StatusServiceUnavailable
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	fmt.Println("helper: serving on", *addr)
	_ = srv.Serve(ln)
	fmt.Println("helper: stopped")
	return 0
}

func helper(name, mode string, optional bool) env.Component {
	self, _ := os.Executable()
	return env.Component{
		Name:    name,
		Program: env.Program{Path: self},
		Ports:   []string{"http"},
		Env:     []string{helperEnv + "=" + mode},
		Files: []env.File{{Name: "config.txt", Render: func(l env.Layout) ([]byte, error) {
			return []byte("my port is " + l.Addr(name, "http").String()), nil
		}}},
		Args: func(l env.Layout) []string {
			return []string{"--addr", l.Addr(name, "http").String(), "--config", filepath.Join(l.Dir(name), "config.txt")}
		},
		Ready:    env.Probe{Kind: env.ProbeHTTP, Port: "http", Path: "/ready"},
		Optional: optional,
	}
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

func newRuntime(t *testing.T, rec *recorder) *process.Runtime {
	t.Helper()
	rt, err := process.New(process.Options{
		Dir:          t.TempDir(),
		ModuleRoot:   t.TempDir(),
		Resolve:      func(p env.Program) (string, error) { return p.Path, nil },
		Observe:      rec.observe,
		ReadyTimeout: 10 * time.Second,
	})
	require.NoError(t, err)
	return rt
}

func get(t *testing.T, running runtime.Environment, component string) error {
	t.Helper()
	addr, err := running.Endpoint(component, "http")
	require.NoError(t, err)
	resp, err := http.Get("http://" + addr.String() + "/ready")
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func TestStartStopRestartClose(t *testing.T) {
	rec := &recorder{}
	rt := newRuntime(t, rec)
	running, err := rt.Start(t.Context(), env.Environment{Components: []env.Component{
		helper("alpha", "serve", false),
		helper("beta", "serve", false),
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = running.Close(context.Background()) })

	require.NoError(t, get(t, running, "alpha"))
	require.NoError(t, get(t, running, "beta"))
	alpha, _ := running.Endpoint("alpha", "http")
	beta, _ := running.Endpoint("beta", "http")
	assert.NotEqual(t, alpha.Port(), beta.Port())
	assert.True(t, alpha.Addr().IsLoopback())

	config, err := os.ReadFile(filepath.Join(running.Dir(), "alpha", "config.txt"))
	require.NoError(t, err)
	assert.Equal(t, "my port is "+alpha.String(), string(config))

	require.NoError(t, running.Stop(t.Context(), "beta"))
	require.Error(t, get(t, running, "beta"), "a stopped component must not answer")
	require.NoError(t, get(t, running, "alpha"))

	require.NoError(t, running.Restart(t.Context(), "beta"))
	require.NoError(t, get(t, running, "beta"), "a restarted component answers on the same port")

	require.NoError(t, running.Close(t.Context()))
	require.Error(t, get(t, running, "alpha"))
	require.NoError(t, running.Close(t.Context()), "Close is idempotent")

	log, err := os.ReadFile(running.LogPath("beta"))
	require.NoError(t, err)
	assert.Contains(t, string(log), "helper: serving on")
	assert.Contains(t, string(log), "helper: stopped", "SIGTERM lets the component shut down gracefully")
	assert.Equal(t, []runtime.Phase{runtime.Starting, runtime.Ready, runtime.Stopped, runtime.Starting, runtime.Ready, runtime.Stopped}, rec.phases("beta"))
}

func TestStartFailsWithTheComponentsOwnWords(t *testing.T) {
	rec := &recorder{}
	rt := newRuntime(t, rec)
	running, err := rt.Start(t.Context(), env.Environment{Components: []env.Component{
		helper("alpha", "serve", false),
		helper("broken", "exit", false),
		helper("never", "serve", false),
	}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "start broken")
	assert.Contains(t, err.Error(), "exited before it was ready")
	assert.Contains(t, err.Error(), "refusing to start on purpose", "the error quotes the component's log")
	require.NotNil(t, running)
	require.NoError(t, get(t, running, "alpha"), "what started is left for the caller to close")
	assert.Empty(t, rec.phases("never"), "nothing after the failure starts")
	require.NoError(t, running.Close(t.Context()))
	require.Error(t, get(t, running, "alpha"))
}

func TestOptionalComponentIsReportedNotRunning(t *testing.T) {
	rt := newRuntime(t, &recorder{})
	running, err := rt.Start(t.Context(), env.Environment{Components: []env.Component{
		helper("broken", "exit", true),
		helper("alpha", "serve", false),
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = running.Close(context.Background()) })
	notRunning := running.NotRunning()
	require.Contains(t, notRunning, "broken")
	assert.Contains(t, notRunning["broken"].Error(), "refusing to start on purpose")
	require.NoError(t, get(t, running, "alpha"))
}

func TestReadinessTimeoutStopsTheComponent(t *testing.T) {
	rt, err := process.New(process.Options{
		Dir:          t.TempDir(),
		ModuleRoot:   t.TempDir(),
		Resolve:      func(p env.Program) (string, error) { return p.Path, nil },
		ReadyTimeout: 300 * time.Millisecond,
	})
	require.NoError(t, err)
	running, err := rt.Start(t.Context(), env.Environment{Components: []env.Component{helper("slow", "hang", false)}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status 503")
	addr, _ := running.Endpoint("slow", "http")
	_, dialErr := net.DialTimeout("tcp", addr.String(), time.Second)
	require.Error(t, dialErr, "a component that never got ready is not left running")
}

func TestCancelledStartLeavesNothingRunning(t *testing.T) {
	rt := newRuntime(t, &recorder{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	running, err := rt.Start(ctx, env.Environment{Components: []env.Component{helper("alpha", "serve", false)}})
	require.Error(t, err)
	require.True(t, errors.Is(err, context.Canceled), err.Error())
	require.NoError(t, running.Close(t.Context()))
	require.Error(t, get(t, running, "alpha"))
}

func TestDescriptionErrors(t *testing.T) {
	rt := newRuntime(t, &recorder{})
	typo := helper("alpha", "serve", false)
	typo.Args = func(l env.Layout) []string { return []string{"--addr", l.Addr("alpha", "htp").String()} }
	_, err := rt.Start(t.Context(), env.Environment{Components: []env.Component{typo}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "undeclared ports alpha/htp")

	dup := env.Environment{Components: []env.Component{helper("alpha", "serve", false), helper("alpha", "serve", false)}}
	_, err = rt.Start(t.Context(), dup)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listed twice")
}

package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/sandbox"
	"github.com/hopguard/hopguard/conformance/sandbox/reach"
)

// helperEnv makes the test binary, started inside a sandbox, act as the program under test
// instead of running tests: "reach" tries the attempts on stdin, "whoami" prints its user and
// network interfaces.
const helperEnv = "HOPGUARD_SANDBOX_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "reach":
		var attempts []reach.Attempt
		if err := json.NewDecoder(os.Stdin).Decode(&attempts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = json.NewEncoder(os.Stdout).Encode(reach.Try(context.Background(), attempts, 2*time.Second))
		os.Exit(0)
	case "whoami":
		ifaces, err := net.Interfaces()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var names []string
		for _, i := range ifaces {
			names = append(names, i.Name)
		}
		fmt.Printf("%d %s\n", os.Getuid(), strings.Join(names, ","))
		os.Exit(0)
	}
}

// recorder is an upstream outside the sandbox that remembers what reached it.
type recorder struct {
	mu   sync.Mutex
	seen []*http.Request
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Clone(context.Background()))
	r.mu.Unlock()
	w.Header().Set("x-hopguard-decision", "allow")
	fmt.Fprint(w, "hello from outside")
}

func (r *recorder) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.seen...)
}

func open(t *testing.T, cfg sandbox.Config) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Open(t.Context(), cfg)
	if err != nil && os.Getuid() != 0 {
		t.Skipf("no sandbox without root here: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, sb.Close()) })
	return sb
}

// run starts this test binary in sb as helper, with stdin, and returns its stdout.
func run(t *testing.T, sb *sandbox.Sandbox, helper string, stdin []byte) []byte {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd, err := sb.Command(ctx, exe)
	require.NoError(t, err)
	cmd.Env = append(cmd.Env, helperEnv+"="+helper)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, sb.Start(cmd))
	require.NoError(t, cmd.Wait(), "the helper inside the sandbox: %s", stderr.String())
	return stdout.Bytes()
}

func tryFromInside(t *testing.T, sb *sandbox.Sandbox, attempts ...reach.Attempt) map[string]reach.Outcome {
	t.Helper()
	in, err := json.Marshal(attempts)
	require.NoError(t, err)
	var outcomes []reach.Outcome
	require.NoError(t, json.Unmarshal(run(t, sb, "reach", in), &outcomes))
	byName := map[string]reach.Outcome{}
	for _, o := range outcomes {
		byName[o.Name] = o
	}
	return byName
}

func TestOnlyTheExitsAnswerInside(t *testing.T) {
	exposed, hidden := &recorder{}, &recorder{}
	exposedSrv, hiddenSrv := httptest.NewServer(exposed), httptest.NewServer(hidden)
	t.Cleanup(exposedSrv.Close)
	t.Cleanup(hiddenSrv.Close)
	exposedAddr, hiddenAddr := exposedSrv.Listener.Addr().String(), hiddenSrv.Listener.Addr().String()
	sb := open(t, sandbox.Config{Exits: []sandbox.Exit{{Name: "gateway", Addr: exposedAddr}}})

	got := tryFromInside(t, sb,
		reach.Attempt{Name: "exit", Kind: reach.HTTP, Target: exposedAddr, Path: "/v1/models"},
		reach.Attempt{Name: "hidden over tcp", Kind: reach.TCP, Target: hiddenAddr},
		reach.Attempt{Name: "hidden over http", Kind: reach.HTTP, Target: hiddenAddr},
		reach.Attempt{Name: "ipv6 loopback", Kind: reach.TCP, Target: "[::1]" + exposedAddr[strings.LastIndex(exposedAddr, ":"):]},
	)

	assert.Equal(t, http.StatusOK, got["exit"].Status, "the exit forwards: %+v", got["exit"])
	assert.Equal(t, "allow", got["exit"].Header["x-hopguard-decision"], "the answer's headers come back")
	for _, name := range []string{"hidden over tcp", "hidden over http", "ipv6 loopback"} {
		assert.False(t, got[name].Answered(), "%s answered inside the sandbox: %+v", name, got[name])
		assert.NotEmpty(t, got[name].Error, name)
	}
	assert.Empty(t, hidden.requests(), "a server that is no exit was reached")
	require.Len(t, exposed.requests(), 1)
}

func TestAnExitRefusesWhatItDoesNotAllow(t *testing.T) {
	upstream := &recorder{}
	srv := httptest.NewServer(upstream)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	sb := open(t, sandbox.Config{Exits: []sandbox.Exit{{
		Name: "sts", Addr: addr,
		Allow: func(r *http.Request) error {
			if r.Method == http.MethodPost && r.URL.Path == "/oauth2/token" {
				return nil
			}
			return errors.New("only POST /oauth2/token")
		},
	}}})

	got := tryFromInside(t, sb,
		reach.Attempt{Name: "token", Kind: reach.HTTP, Target: addr, Method: http.MethodPost, Path: "/oauth2/token"},
		reach.Attempt{Name: "jwks", Kind: reach.HTTP, Target: addr, Path: "/.well-known/jwks.json"},
		reach.Attempt{Name: "token by GET", Kind: reach.HTTP, Target: addr, Path: "/oauth2/token"},
	)

	assert.Equal(t, http.StatusOK, got["token"].Status)
	for _, name := range []string{"jwks", "token by GET"} {
		assert.Equal(t, http.StatusForbidden, got[name].Status, name)
		assert.Equal(t, "refused", got[name].Header[sandbox.RefusedHeader], name)
	}
	seen := upstream.requests()
	require.Len(t, seen, 1, "only the allowed request left the sandbox")
	assert.Equal(t, "/oauth2/token", seen[0].URL.Path)
}

func TestRequestsLeaveThroughTheTransportUnchanged(t *testing.T) {
	upstream := &recorder{}
	srv := httptest.NewServer(upstream)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	var mu sync.Mutex
	var carried []string
	transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		carried = append(carried, r.Method+" "+r.URL.Path)
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})
	sb := open(t, sandbox.Config{Exits: []sandbox.Exit{{Name: "gateway", Addr: addr}}, Transport: transport})

	got := tryFromInside(t, sb, reach.Attempt{Name: "exit", Kind: reach.HTTP, Target: addr, Path: "/mcp/tickets"})

	require.Equal(t, http.StatusOK, got["exit"].Status)
	assert.Equal(t, []string{"GET /mcp/tickets"}, carried)
	seen := upstream.requests()
	require.Len(t, seen, 1)
	assert.Equal(t, addr, seen[0].Host, "the Host the program sent")
	assert.Empty(t, seen[0].Header.Values("X-Forwarded-For"), "the exit adds no forwarding headers")
}

func TestProgramsRunUnprivilegedWithLoopbackAlone(t *testing.T) {
	srv := httptest.NewServer(&recorder{})
	t.Cleanup(srv.Close)
	sb := open(t, sandbox.Config{Exits: []sandbox.Exit{{Name: "gateway", Addr: srv.Listener.Addr().String()}}})

	fields := strings.Fields(string(run(t, sb, "whoami", nil)))

	require.Len(t, fields, 2)
	if os.Getuid() == 0 {
		assert.Equal(t, fmt.Sprint(sandbox.Unprivileged), fields[0], "the program's user")
	}
	assert.Equal(t, "lo", fields[1], "the program's network interfaces")
}

func TestCloseEndsTheSandboxesPrograms(t *testing.T) {
	srv := httptest.NewServer(&recorder{})
	t.Cleanup(srv.Close)
	sb, err := sandbox.Open(t.Context(), sandbox.Config{Exits: []sandbox.Exit{{Name: "gateway", Addr: srv.Listener.Addr().String()}}})
	if err != nil && os.Getuid() != 0 {
		t.Skipf("no sandbox without root here: %v", err)
	}
	require.NoError(t, err)
	cmd, err := sb.Command(t.Context(), "/bin/sleep", "60")
	require.NoError(t, err)
	require.NoError(t, sb.Start(cmd))

	require.NoError(t, sb.Close())

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		assert.Error(t, err, "sleep 60 ended by a signal")
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("a program outlived its sandbox")
	}
	_, err = sb.Command(t.Context(), "/bin/true")
	assert.Error(t, err, "a closed sandbox's directory is gone")
}

func TestOpenRejectsBadExits(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  sandbox.Config
		want string
	}{
		{name: "no exit", cfg: sandbox.Config{}, want: "at least one exit"},
		{name: "no port", cfg: sandbox.Config{Exits: []sandbox.Exit{{Name: "gateway", Addr: "127.0.0.1"}}}, want: "exit gateway"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sandbox.Open(t.Context(), tt.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAvailableAsRoot(t *testing.T) {
	err := sandbox.Available()
	if os.Getuid() != 0 {
		t.Skipf("not root: %v", err)
	}
	assert.NoError(t, err)
}

// A sandbox must leave this process's threads as it found them: a thread that ended would take
// with it every process started from it with a parent-death signal, as the harness starts the
// environment's components.
func TestSandboxesLeaveOtherProcessesAlive(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skipf("no sandbox here: %v", err)
	}
	// Each sleeper is started from a thread of its own, all of which go back to Go's pool,
	// where the sandboxes' goroutines will find them.
	const sleepers = 16
	ended := make(chan error, sleepers)
	var started, release sync.WaitGroup
	started.Add(sleepers)
	release.Add(1)
	for range sleepers {
		go func() {
			goruntime.LockOSThread()
			defer goruntime.UnlockOSThread()
			cmd := exec.Command("/bin/sleep", "60")
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			err := cmd.Start()
			started.Done()
			if err != nil {
				ended <- err
				return
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			go func() { ended <- cmd.Wait() }()
			release.Wait()
		}()
	}
	started.Wait()
	release.Done()
	srv := httptest.NewServer(&recorder{})
	t.Cleanup(srv.Close)

	for range 20 {
		require.NoError(t, sandbox.Available())
		sb, err := sandbox.Open(t.Context(), sandbox.Config{Exits: []sandbox.Exit{{Name: "gateway", Addr: srv.Listener.Addr().String()}}})
		require.NoError(t, err)
		require.NoError(t, sb.Close())
	}

	select {
	case err := <-ended:
		t.Fatalf("a process started before the sandboxes ended: %v", err)
	case <-time.After(200 * time.Millisecond): // a parent-death signal is sent at once
	}
	resp, err := http.Get(srv.URL)
	require.NoError(t, err, "this process's own network is still the one it had")
	_ = resp.Body.Close()
}

// Package cerbostest runs the real Cerbos PDP (bin/cerbos) for tests, on free
// 127.0.0.1 ports, and stops it with the test.
package cerbostest

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/internal/syncbuf"
)

// Options say which policies and which config to run.
type Options struct {
	// Config is the Cerbos config file; defaults to policies/cerbos.yaml.
	Config string
	// PolicyDir overrides storage.disk.directory; defaults to policies/bundle.
	PolicyDir string
	// Env is added to Cerbos's environment (its OpenTelemetry settings are OTEL_* variables).
	Env []string
}

// Cerbos is a running PDP.
type Cerbos struct {
	// GRPCAddr is the gRPC API (host:port).
	GRPCAddr string
	// HTTPAddr is the HTTP API (host:port).
	HTTPAddr string
	// DecisionLog is the file its decision log is written to.
	DecisionLog string

	cmd    *exec.Cmd
	output *syncbuf.Buffer
	once   sync.Once
	done   chan struct{}
}

// RepoRoot finds the module root (the directory holding go.mod) above the
// working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Binary returns the path of bin/cerbos, or skips the test when it is not
// installed.
func Binary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), "bin", "cerbos")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("Cerbos is not installed at %s: run `make tools` to install it", bin)
	}
	return bin
}

// Start runs Cerbos and waits until /_cerbos/health answers. The process is
// stopped when the test ends.
func Start(t testing.TB, opts Options) *Cerbos {
	t.Helper()
	bin := Binary(t)
	root := RepoRoot(t)
	if opts.Config == "" {
		opts.Config = filepath.Join(root, "policies", "cerbos.yaml")
	}
	if opts.PolicyDir == "" {
		opts.PolicyDir = filepath.Join(root, "policies", "bundle")
	}
	c := &Cerbos{
		GRPCAddr:    freeAddr(t),
		HTTPAddr:    freeAddr(t),
		DecisionLog: filepath.Join(t.TempDir(), "decisions.log"),
		output:      &syncbuf.Buffer{},
		done:        make(chan struct{}),
	}
	c.cmd = exec.Command(bin, "server",
		"--config="+opts.Config,
		"--debug-listen-addr="+freeAddr(t),
		"--set=server.grpcListenAddr="+c.GRPCAddr,
		"--set=server.httpListenAddr="+c.HTTPAddr,
		"--set=storage.disk.directory="+opts.PolicyDir,
		"--set=audit.file.path="+c.DecisionLog,
	)
	c.cmd.Dir = root
	if len(opts.Env) > 0 {
		c.cmd.Env = append(os.Environ(), opts.Env...)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.output, c.output
	require.NoError(t, c.cmd.Start(), "start cerbos")
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.Stop)

	healthURL := "http://" + c.HTTPAddr + "/_cerbos/health"
	require.Eventually(t, func() bool {
		select {
		case <-c.done:
			return true // exited: reported below
		default:
		}
		resp, err := http.Get(healthURL)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "cerbos did not become healthy")
	select {
	case <-c.done:
		t.Fatalf("cerbos exited during start:\n%s", c.output.String())
	default:
	}
	return c
}

// Stop ends the PDP (SIGTERM, then SIGKILL) and waits for it. Safe to call
// more than once; tests of "Cerbos down" call it mid-test.
func (c *Cerbos) Stop() {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
}

// PID is the Cerbos process's id: a benchmark reads its CPU time from /proc.
func (c *Cerbos) PID() int { return c.cmd.Process.Pid }

// Output is what Cerbos printed so far, for failure messages.
func (c *Cerbos) Output() string { return c.output.String() }

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// Package pgtest runs a real PostgreSQL for tests: a data directory of its own, listening on a
// free loopback port, stopped when the test ends. It can be stopped and started again on the
// same data and port, to test what synapse does while PostgreSQL is away.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Binaries is the directory of PostgreSQL's server programs (initdb, postgres): the one `make
// tools` installs (bin/postgresql/bin), else Debian's newest (/usr/lib/postgresql/<version>/bin).
// It skips the test when there is none.
func Binaries(t testing.TB) string {
	t.Helper()
	var candidates []string
	if dir := os.Getenv("HOPGUARD_BIN"); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "postgresql", "bin"))
	}
	if root, err := repoRoot(); err == nil {
		candidates = append(candidates, filepath.Join(root, "bin", "postgresql", "bin"))
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(debian, func(a, b string) int { return version(b) - version(a) })
	for _, dir := range append(candidates, debian...) {
		if isFile(filepath.Join(dir, "postgres")) && isFile(filepath.Join(dir, "initdb")) {
			return dir
		}
	}
	t.Skip("PostgreSQL is not installed (bin/postgresql/bin or /usr/lib/postgresql/<version>/bin): run `make tools`")
	return ""
}

// Server is one PostgreSQL server.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cred *syscall.Credential

	mu     sync.Mutex
	cmd    *exec.Cmd
	output *bytes.Buffer
	done   chan struct{}
}

// Start initialises a database cluster and starts PostgreSQL on it.
func Start(t testing.TB) *Server {
	t.Helper()
	// Not t.TempDir: its parent is root's alone, and PostgreSQL may run as nobody.
	dir, err := os.MkdirTemp("", "hopguard-pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := &Server{t: t, bin: Binaries(t), dir: dir, port: freePort(t)}
	// PostgreSQL refuses to run as root: as root, it runs as nobody.
	if os.Geteuid() == 0 {
		s.cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		if err := os.Chown(s.dir, 65534, 65534); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	initdb := exec.Command(filepath.Join(s.bin, "initdb"), "-D", s.data(), "-U", "hopguard", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// DSN connects as the cluster's superuser to its postgres database.
func (s *Server) DSN() string {
	return fmt.Sprintf("postgres://hopguard@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Start starts PostgreSQL (again) and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	s.output = &bytes.Buffer{}
	// fsync off: durability is PostgreSQL's own, tested by others; these tests need speed.
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.data(), "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-k", s.dir, "-c", "fsync=off", "-c", "max_connections=50")
	cmd.Stdout, cmd.Stderr = s.output, s.output
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("pgtest: start postgres: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSN())
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return
		}
		select {
		case <-done:
			s.t.Fatalf("pgtest: postgres exited during start:\n%s", s.output)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("pgtest: postgres did not accept connections within 15s: %v\n%s", err, s.output)
		}
	}
}

// Stop stops PostgreSQL (a fast shutdown: open connections are cut) and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

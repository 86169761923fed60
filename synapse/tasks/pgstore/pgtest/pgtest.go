// Package pgtest runs a real PostgreSQL for tests: a data directory of its own, listening on a
// free loopback port, stopped when the test ends. It can be stopped and started again on the
// same data and port, to test what synapse does while PostgreSQL is away.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hopguard/hopguard/internal/pgserver"
	"github.com/hopguard/hopguard/internal/syncbuf"
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
	dir, err := pgserver.FindBinaries(append(candidates, pgserver.DebianBinaries()...))
	if err != nil {
		t.Skip("PostgreSQL is not installed (bin/postgresql/bin or /usr/lib/postgresql/<version>/bin): run `make tools`")
	}
	return dir
}

// Server is one PostgreSQL server.
type Server struct {
	t    testing.TB
	pg   *pgserver.Server
	port int

	mu     sync.Mutex
	stop   context.CancelFunc
	output *syncbuf.Buffer
	done   chan struct{}
}

// Start initialises a database cluster and starts PostgreSQL on it.
func Start(t testing.TB) *Server {
	t.Helper()
	// Not t.TempDir: its parent is root's alone, and PostgreSQL may run as nobody, who must reach
	// the data directory through this one.
	dir, err := os.MkdirTemp("", "hopguard-pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	port := freePort(t)
	pg, err := pgserver.New(pgserver.Options{
		Bin:  Binaries(t),
		Data: filepath.Join(dir, "data"),
		Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		User: "hopguard",
		// Trust and fsync off: authentication and durability are PostgreSQL's own, tested by
		// others; these tests need speed.
		Trust:    true,
		Settings: []string{"fsync=off", "max_connections=50"},
	})
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	var initOutput bytes.Buffer
	if _, err := pg.Init(context.Background(), &initOutput); err != nil {
		t.Fatalf("pgtest: %v\n%s", err, initOutput.String())
	}
	s := &Server{t: t, pg: pg, port: port}
	t.Cleanup(s.Stop)
	s.Start()
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
	if s.stop != nil {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	output := &syncbuf.Buffer{}
	cmd := s.pg.Command(ctx)
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		stop()
		s.t.Fatalf("pgtest: start postgres: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.stop, s.output, s.done = stop, output, done
	wait, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := pgserver.WaitAccepting(wait, s.DSN(), done); err != nil {
		s.t.Fatalf("pgtest: %v\n%s", err, output.String())
	}
}

// Stop stops PostgreSQL (a fast shutdown: open connections are cut) and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop == nil {
		return
	}
	// Cancelling its context sends SIGINT, and SIGKILL if it has not exited 30s later.
	s.stop()
	<-s.done
	s.stop = nil
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if info, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !info.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/internal/pgserver"
	"github.com/hopguard/hopguard/internal/syncbuf"
)

// postgresUser is the role the registry connects as, as in the environment (stack.PostgresUser).
const postgresUser = "hopguard"

// postgresSearchPath is where PostgreSQL's server programs are looked for: the ones `make tools`
// installs (bin/postgresql/bin), else Debian's, newest first.
func postgresSearchPath() []string {
	var dirs []string
	if dir, err := binaries.Dir(); err == nil {
		dirs = append(dirs, filepath.Join(dir, "postgresql", "bin"))
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(debian, func(a, b string) int { return debianMajor(b) - debianMajor(a) })
	return append(dirs, debian...)
}

func debianMajor(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

// postgresServer is a PostgreSQL of the registry measurement's own: a cluster in a directory of
// its own, served on a free loopback port, with a password as the environment's is.
type postgresServer struct {
	dsn     string
	version string
	stop    func()
}

// startPostgres initialises a cluster in data (which must not exist yet; its parent must) and
// serves it, returning once it accepts connections. stop shuts it down (fast: open connections
// are cut) and waits for it.
func startPostgres(ctx context.Context, bin, data string) (*postgresServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("postgres password: %w", err)
	}
	password := hex.EncodeToString(secret)
	server, err := pgserver.New(pgserver.Options{
		Bin: bin, Data: data, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port)),
		User: postgresUser, Password: password,
		// Only the seeding writes, and it is not measured; the lookups read.
		Settings: []string{"fsync=off"},
	})
	if err != nil {
		return nil, err
	}
	var output syncbuf.Buffer
	if _, err := server.Init(ctx, &output); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, output.String())
	}
	version, err := exec.CommandContext(ctx, filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("postgres --version: %w", err)
	}
	// Cancelling runCtx is what asks postgres for its fast shutdown (pgserver.Command).
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd := server.Command(runCtx)
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s := &postgresServer{
		dsn: (&url.URL{
			Scheme: "postgres", User: url.UserPassword(postgresUser, password),
			Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/postgres", RawQuery: "sslmode=disable",
		}).String(),
		version: "PostgreSQL " + postgresVersion.FindString(string(version)),
		stop:    func() { cancel(); <-done },
	}
	if err := waitReady(ctx, s.dsn, done, &output); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady waits until the server at dsn accepts connections, exits (done), or 15 s pass.
func waitReady(ctx context.Context, dsn string, done <-chan struct{}, output *syncbuf.Buffer) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(attempt, dsn)
		cancelAttempt()
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-done:
			return fmt.Errorf("postgres exited during start:\n%s", output.String())
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections: %w (last: %v)\n%s", ctx.Err(), err, output.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// postgresVersion finds the version in `postgres --version`'s "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)".
var postgresVersion = regexp.MustCompile(`[0-9]+\.[0-9]+`)

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

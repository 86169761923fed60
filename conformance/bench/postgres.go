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
	"strconv"
	"time"

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
	return append(dirs, pgserver.DebianBinaries()...)
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
	wait, cancelWait := context.WithTimeout(ctx, 15*time.Second)
	defer cancelWait()
	if err := pgserver.WaitAccepting(wait, s.dsn, done); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, output.String())
	}
	return s, nil
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

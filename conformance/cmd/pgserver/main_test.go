package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/internal/syncbuf"
	"github.com/hopguard/hopguard/synapse/tasks/pgstore/pgtest"
)

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}
	password := write("password", "s3cret")
	withNewline := write("password-nl", "s3cret\n")
	withCRLF := write("password-crlf", "s3cret\r\n")
	empty := write("empty", "")
	twoLines := write("two-lines", "s3cret\nmore\n")
	missing := filepath.Join(dir, "nonexistent")

	// args is a valid command line with the named flags replaced (an empty value drops one).
	args := func(replace ...string) []string {
		flags := map[string]string{
			"addr": "127.0.0.1:5432", "data-dir": filepath.Join(dir, "data"), "user": "hopguard",
			"password-file": password, "bin-path": "/opt/pg/bin:/usr/lib/postgresql/15/bin",
		}
		for i := 0; i+1 < len(replace); i += 2 {
			flags[replace[i]] = replace[i+1]
		}
		var out []string
		for _, name := range []string{"addr", "data-dir", "user", "password-file", "bin-path"} {
			if v, ok := flags[name]; ok && v != "" {
				out = append(out, "--"+name+"="+v)
			}
		}
		return out
	}

	tests := []struct {
		name         string
		args         []string
		want         config
		wantErr      []string
		wantHelp     bool
		wantExitCode int
	}{
		{name: "valid", args: args(), want: config{
			addr: mustAddr("127.0.0.1:5432"), dataDir: filepath.Join(dir, "data"), user: "hopguard",
			password: "s3cret", binPath: []string{"/opt/pg/bin", "/usr/lib/postgresql/15/bin"},
		}},
		{name: "password file ending in a newline", args: args("password-file", withNewline), want: config{
			addr: mustAddr("127.0.0.1:5432"), dataDir: filepath.Join(dir, "data"), user: "hopguard",
			password: "s3cret", binPath: []string{"/opt/pg/bin", "/usr/lib/postgresql/15/bin"},
		}},
		{name: "password file ending in CRLF", args: args("password-file", withCRLF, "addr", "[::1]:6000", "bin-path", "::/pg/bin:"), want: config{
			addr: mustAddr("[::1]:6000"), dataDir: filepath.Join(dir, "data"), user: "hopguard",
			password: "s3cret", binPath: []string{"/pg/bin"},
		}},
		{name: "relative data directory made absolute", args: args("data-dir", "pgdata"), want: config{
			addr: mustAddr("127.0.0.1:5432"), dataDir: mustAbs(t, "pgdata"), user: "hopguard",
			password: "s3cret", binPath: []string{"/opt/pg/bin", "/usr/lib/postgresql/15/bin"},
		}},
		{name: "version", args: []string{"--version"}, want: config{version: true}},
		{name: "help", args: []string{"--help"}, wantHelp: true},
		{name: "nothing", args: nil, wantExitCode: 2, wantErr: []string{
			"--addr: required", "--data-dir is required", "--user: no user name", "--password-file: required", "--bin-path is required", "see --help"}},
		{name: "unknown flag", args: append(args(), "--port=5432"), wantExitCode: 2, wantErr: []string{"flag provided but not defined: -port", "see --help"}},
		{name: "positional argument", args: append(args(), "start"), wantExitCode: 2, wantErr: []string{`unexpected arguments ["start"]`}},
		{name: "host name", args: args("addr", "localhost:5432"), wantExitCode: 2, wantErr: []string{`--addr: "localhost:5432": want a loopback IP:PORT`}},
		{name: "no port", args: args("addr", "127.0.0.1"), wantExitCode: 2, wantErr: []string{`--addr: "127.0.0.1": want a loopback IP:PORT`}},
		{name: "port 0", args: args("addr", "127.0.0.1:0"), wantExitCode: 2, wantErr: []string{"want a port, not 0"}},
		{name: "every interface", args: args("addr", "0.0.0.0:5432"), wantExitCode: 2, wantErr: []string{`--addr: "0.0.0.0:5432": want a loopback IP:PORT`}},
		{name: "user with a space", args: args("user", "hop guard"), wantExitCode: 2, wantErr: []string{`--user: user name "hop guard"`}},
		{name: "reserved user", args: args("user", "pg_monitor"), wantExitCode: 2, wantErr: []string{"--user: user name \"pg_monitor\": names beginning with pg_"}},
		{name: "missing password file", args: args("password-file", missing), wantExitCode: 2, wantErr: []string{"--password-file: open " + missing}},
		{name: "empty password", args: args("password-file", empty), wantExitCode: 2, wantErr: []string{"--password-file: " + empty + ": empty password"}},
		{name: "password of two lines", args: args("password-file", twoLines), wantExitCode: 2, wantErr: []string{"line break"}},
		{name: "bin-path of separators alone", args: args("bin-path", ":::"), wantExitCode: 2, wantErr: []string{"--bin-path is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got, err := parseFlags(tt.args, &stderr)
			switch {
			case tt.wantHelp:
				require.ErrorIs(t, err, flag.ErrHelp)
				for _, want := range []string{"Usage: pgserver", "fast shutdown", "-addr IP:PORT", "-bin-path directories", "-password-file file"} {
					assert.Contains(t, stderr.String(), want)
				}
				assert.Equal(t, 0, exitCode(err, io.Discard))
			case len(tt.wantErr) > 0:
				require.Error(t, err)
				for _, want := range tt.wantErr {
					assert.ErrorContains(t, err, want)
				}
				assert.Empty(t, stderr.String(), "the error is printed once, by exitCode")
				var printed bytes.Buffer
				assert.Equal(t, tt.wantExitCode, exitCode(err, &printed))
				assert.Equal(t, "pgserver: "+err.Error()+"\n", printed.String())
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	exitWith := func(script string) error {
		err := exec.Command("/bin/sh", "-c", script).Run()
		require.Error(t, err)
		return fmt.Errorf("postgres: %w", err)
	}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "success", err: nil, want: 0},
		{name: "help", err: flag.ErrHelp, want: 0},
		{name: "usage", err: usageError{errors.New("--addr: required")}, want: 2},
		{name: "anything else", err: errors.New("initdb: exit status 1"), want: 1},
		{name: "postgres's status", err: exitWith("exit 3"), want: 3},
		{name: "postgres killed", err: exitWith("kill -KILL $$"), want: 128 + 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, exitCode(tt.err, io.Discard))
		})
	}
}

// TestServesKeepsItsDataAndStopsOnSIGTERM runs pgserver on the installed PostgreSQL twice on one
// data directory, as the environment's runtimes do across a restart.
func TestServesKeepsItsDataAndStopsOnSIGTERM(t *testing.T) {
	bin := pgtest.Binaries(t)
	// As the runtimes lay it out: a component directory of 0755 that is this user's, holding the
	// password file, 0600, and the data directory to be. Not t.TempDir, whose parent is this
	// user's alone: run as root, postgres runs as nobody and must reach the data directory.
	dir, err := os.MkdirTemp("", "hopguard-pgserver-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	const password = "correct horse battery staple"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "password"), []byte(password), 0o600))
	port := freePort(t)
	args := []string{
		"--addr=127.0.0.1:" + strconv.Itoa(port),
		"--data-dir=" + filepath.Join(dir, "data"),
		"--user=hopguard",
		"--password-file=" + filepath.Join(dir, "password"),
		"--bin-path=" + filepath.Join(dir, "nonexistent") + ":" + bin,
	}
	dsn := func(password string) string {
		u := url.URL{Scheme: "postgres", User: url.UserPassword("hopguard", password),
			Host: "127.0.0.1:" + strconv.Itoa(port), Path: "/postgres", RawQuery: "sslmode=disable"}
		return u.String()
	}

	// The first start initialises the cluster; a real SIGTERM stops it, through main's own
	// signal handling.
	ctx, stop := signalContext(t.Context())
	defer stop()
	first := start(t, ctx, args)
	conn := first.connect(t, dsn(password))
	_, err = conn.Exec(t.Context(), `CREATE TABLE kept (note text); INSERT INTO kept VALUES ('before the restart')`)
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))

	for name, pw := range map[string]string{"wrong password": "wrong", "no password": ""} {
		connectCtx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := pgx.Connect(connectCtx, dsn(pw))
		cancel()
		var pgErr *pgconn.PgError
		if assert.ErrorAs(t, err, &pgErr, name) {
			assert.Equal(t, "28P01", pgErr.Code, "%s: invalid_password: %v", name, err)
		}
	}

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	require.NoError(t, first.wait(t), first.out.String())
	for _, want := range []string{"initialised a new cluster", "stopping postgres: fast shutdown", "received fast shutdown request", "database system is shut down", "postgres stopped"} {
		assert.Contains(t, first.out.String(), want)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"data", "password"}, names, "initdb's copy of the password is gone")

	// The second start serves the same cluster; ending its context stops it.
	ctx2, cancel := context.WithCancel(t.Context())
	defer cancel()
	second := start(t, ctx2, args)
	conn = second.connect(t, dsn(password))
	var note string
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT note FROM kept`).Scan(&note))
	assert.Equal(t, "before the restart", note)
	require.NoError(t, conn.Close(t.Context()))
	cancel()
	require.NoError(t, second.wait(t), second.out.String())
	assert.Contains(t, second.out.String(), "serving the cluster already there")
	assert.NotContains(t, second.out.String(), "initialised a new cluster")
	assert.Contains(t, second.out.String(), "database system is shut down")
}

// started is one run of pgserver in this process.
type started struct {
	out  *syncbuf.Buffer
	done chan error
}

func start(t *testing.T, ctx context.Context, args []string) *started {
	t.Helper()
	s := &started{out: &syncbuf.Buffer{}, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, args, io.Discard, s.out) }()
	return s
}

// connect waits until the server accepts dsn's connection, failing if pgserver returns first.
func (s *started) connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		cancel()
		if err == nil {
			return conn
		}
		select {
		case runErr := <-s.done:
			t.Fatalf("pgserver returned before accepting connections: %v\n%s", runErr, s.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgserver did not accept connections within 60s: %v\n%s", err, s.out.String())
		}
	}
}

func (s *started) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("pgserver did not return within 60s of being stopped:\n%s", s.out.String())
		return nil
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func mustAddr(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func mustAbs(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	return abs
}

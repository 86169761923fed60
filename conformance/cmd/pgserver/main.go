// Command pgserver runs PostgreSQL for hopguard's conformance environment (the task registry
// the synapse replicas share): a cluster initialised on the first start and kept across
// restarts, served on one loopback address, as a process or in its container image
// (docker/postgres.Dockerfile).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hopguard/hopguard/internal/pgserver"
	"github.com/hopguard/hopguard/internal/version"
)

const usage = `pgserver runs a PostgreSQL server from the distribution's own binaries.

On the first start, when --data-dir is absent or empty, it initialises a cluster there with
initdb: the superuser --user, whose password is the first line of --password-file, password
authentication (scram-sha-256) for every connection, UTF-8 and the C locale. Every later start
serves the cluster that is there, so the data outlives the server. The data directory's parent
must exist.

postgres listens on --addr alone (TCP; no unix socket); its own log goes to stderr with
pgserver's. SIGTERM or SIGINT asks it for a fast shutdown (SIGINT to postgres: connections
are cut, a checkpoint is written, then it exits), and pgserver exits with postgres's status.
Run as root, pgserver runs initdb and postgres as nobody (65534): PostgreSQL refuses root.

Usage: pgserver --addr IP:PORT --data-dir DIR --user NAME --password-file FILE --bin-path DIR[:DIR...]
       pgserver --version

Flags:
`

func main() {
	ctx, stop := signalContext(context.Background())
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// signalContext ends on SIGTERM (a container engine's stop, the process runtime's) or SIGINT.
func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
}

// usageError is a command line pgserver cannot run: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode is pgserver's exit status for run's error, which it prints: postgres's own status
// when postgres failed, 128+n when a signal n killed it.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "pgserver:", err)
	var exit *exec.ExitError
	var bad usageError
	switch {
	case errors.As(err, &exit):
		if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			return 128 + int(status.Signal())
		}
		if code := exit.ExitCode(); code > 0 {
			return code
		}
		return 1
	case errors.As(err, &bad):
		return 2
	default:
		return 1
	}
}

// config is a validated command line.
type config struct {
	addr     netip.AddrPort
	dataDir  string
	user     string
	password string
	binPath  []string
	version  bool
}

// parseFlags parses and checks args, reading the password file; every problem is reported at
// once. --help prints the usage on stderr and returns flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("pgserver", flag.ContinueOnError)
	// The flag package's own messages would come before the usage; exitCode prints the error,
	// once, and the usage is for --help.
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "", "loopback `IP:PORT` postgres listens on, the only address it listens on")
	dataDir := fs.String("data-dir", "", "the cluster's data `directory`: initialised when absent or empty, else served as it is")
	user := fs.String("user", "", "the superuser `role` initdb creates (letters, digits, _)")
	passwordFile := fs.String("password-file", "", "`file` whose first line is the superuser's password (a trailing newline is not part of it)")
	binPath := fs.String("bin-path", "", "`directories` to look for postgres and initdb in, separated by "+string(filepath.ListSeparator)+"; the first holding both is used")
	showVersion := version.Flag(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprint(stderr, usage)
			fs.PrintDefaults()
			return config{}, err
		}
		return config{}, usageError{fmt.Errorf("%w (see --help)", err)}
	}
	if *showVersion {
		return config{version: true}, nil
	}

	var cfg config
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if a, err := parseAddr(*addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr: %w", err))
	} else {
		cfg.addr = a
	}
	if *dataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	} else if abs, err := filepath.Abs(*dataDir); err != nil {
		errs = append(errs, fmt.Errorf("--data-dir: %w", err))
	} else {
		cfg.dataDir = abs
	}
	if err := pgserver.CheckRole(*user); err != nil {
		errs = append(errs, fmt.Errorf("--user: %w", err))
	}
	cfg.user = *user
	if p, err := readPassword(*passwordFile); err != nil {
		errs = append(errs, fmt.Errorf("--password-file: %w", err))
	} else {
		cfg.password = p
	}
	for _, dir := range filepath.SplitList(*binPath) {
		if dir != "" {
			cfg.binPath = append(cfg.binPath, dir)
		}
	}
	if len(cfg.binPath) == 0 {
		errs = append(errs, errors.New("--bin-path is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, usageError{fmt.Errorf("%w\n(see --help)", err)}
	}
	return cfg, nil
}

// parseAddr takes a loopback IP:PORT: the server is for the run on this machine, and nothing of
// a run listens beyond loopback.
func parseAddr(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, errors.New("required")
	}
	a, err := netip.ParseAddrPort(s)
	switch {
	case err != nil:
		return netip.AddrPort{}, fmt.Errorf("%q: want a loopback IP:PORT: %w", s, err)
	case !a.Addr().IsLoopback():
		return netip.AddrPort{}, fmt.Errorf("%q: want a loopback IP:PORT (127.0.0.1, [::1])", s)
	case a.Port() == 0:
		return netip.AddrPort{}, fmt.Errorf("%q: want a port, not 0", s)
	case a.Addr().Zone() != "":
		return netip.AddrPort{}, fmt.Errorf("%q: want no IPv6 zone", s)
	}
	return a, nil
}

// readPassword is the password in path: its content less one trailing line ending, as initdb
// takes the first line of its password file.
func readPassword(path string) (string, error) {
	if path == "" {
		return "", errors.New("required")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	p := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if err := pgserver.CheckPassword(p); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// run is pgserver: it initialises the cluster when there is none, then runs postgres until it
// exits or ctx ends, and then asks it for a fast shutdown and waits for it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.version {
		fmt.Fprintln(stdout, version.Line("pgserver"))
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	bin, err := pgserver.FindBinaries(cfg.binPath)
	if err != nil {
		return fmt.Errorf("--bin-path: %w", err)
	}
	pg, err := pgserver.New(pgserver.Options{
		Bin: bin, Data: cfg.dataDir, Addr: cfg.addr, User: cfg.user, Password: cfg.password,
	})
	if err != nil {
		return err
	}
	log.Info("looking for a cluster", "data", pg.Data(), "bin", bin)
	created, err := pg.Init(ctx, stderr)
	if err != nil {
		return err
	}
	if created {
		log.Info("initialised a new cluster", "data", pg.Data(), "user", cfg.user)
	} else {
		log.Info("serving the cluster already there", "data", pg.Data())
	}

	cmd := pg.Command(ctx)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	log.Info("started postgres", "pid", cmd.Process.Pid, "addr", cfg.addr.String())
	stopping := context.AfterFunc(ctx, func() {
		log.Info("stopping postgres: fast shutdown (SIGINT)", "cause", context.Cause(ctx).Error())
	})
	defer stopping()

	err = cmd.Wait()
	// Asked to stop, postgres exits 0, and Wait reports the context's end instead.
	if cmd.ProcessState != nil && cmd.ProcessState.Success() {
		log.Info("postgres stopped", "status", 0)
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

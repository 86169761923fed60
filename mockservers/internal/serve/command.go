package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hopguard/hopguard/internal/version"
)

// RunFunc is a mock command's body: it parses args, serves until ctx ends and returns nil after
// a clean shutdown, flag.ErrHelp when asked for --help, or ErrVersion when asked for --version.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// ErrVersion is what Flags.Parse returns for --version; Main then prints the version line.
var ErrVersion = errors.New("version requested")

// Main runs a mock command as the process: SIGINT and SIGTERM end run's context (a graceful
// shutdown), --help exits 0, --version prints the version line on stdout and exits 0, and any
// other error is printed as "NAME: error" with exit status 1.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitCode(name, run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stdout, os.Stderr)
	stop()
	if code != 0 {
		os.Exit(code)
	}
}

// exitCode is the exit status of a mock whose run returned err, after printing what err asks for.
func exitCode(name string, err error, stdout, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrVersion):
		fmt.Fprintln(stdout, version.Line(name))
		return 0
	default:
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
}

// Flags is a mock's command line: the flags every mock has (--addr, --log-level) on a flag set
// the mock adds its own to.
type Flags struct {
	*flag.FlagSet
	// Addr is the parsed --addr.
	Addr    *string
	level   *string
	version *bool
}

// NewFlags returns the flag set of the mock named name, writing to stderr. Its --help prints
// usage, then every flag; --addr defaults to defaultAddr; --version makes Parse return
// ErrVersion.
func NewFlags(name, usage, defaultAddr string, stderr io.Writer) *Flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return &Flags{
		FlagSet: fs,
		Addr:    fs.String("addr", defaultAddr, "loopback `host:port` to listen on; port 0 picks a free port"),
		level:   fs.String("log-level", "info", "log `level`: debug, info, warn, error"),
		version: version.Flag(fs),
	}
}

// Parse parses args, refuses positional arguments, and returns the logger --log-level asks
// for, writing to the flag set's output. With --version it returns ErrVersion and checks
// nothing else.
func (f *Flags) Parse(args []string) (*slog.Logger, error) {
	if err := f.FlagSet.Parse(args); err != nil {
		return nil, err
	}
	if *f.version {
		return nil, ErrVersion
	}
	if f.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", f.Args())
	}
	return NewLogger(f.Output(), *f.level)
}

package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/hopguard/hopguard/internal/version"
	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/config"
)

// Main is the synapse command: `synapse [flags]` serves, `synapse audit`
// filters a decision log, `synapse --version` prints the version line. It
// returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && args[0] == "audit" {
		return audit.RunCommand(args[1:], stdin, stdout, stderr, time.Now())
	}
	cfg, err := config.Load(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, config.ErrVersion) {
		fmt.Fprintln(stdout, version.Line("synapse"))
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "synapse: %v\n", err)
		return 2
	}
	log := newLogger(stderr, cfg.Log.Level)
	if n := cfg.Runtime.GOMAXPROCS; n > 0 {
		runtime.GOMAXPROCS(n)
	}
	if _, set := os.LookupEnv("GOGC"); !set && cfg.Runtime.GCPercent > 0 {
		debug.SetGCPercent(cfg.Runtime.GCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg, stdout, log); err != nil {
		log.Error("synapse failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by config
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

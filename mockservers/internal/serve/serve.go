// Package serve runs a mock's http.Handler as a process: loopback-only
// listener, the "listening on" line a harness reads, graceful shutdown, and
// the command line every mock shares (--addr, --log-level, --help, signals).
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Options describes one server process.
type Options struct {
	// Addr is host:port; the host must be a loopback address, port 0 picks
	// a free port.
	Addr    string
	Handler http.Handler
	Logger  *slog.Logger
	// Stdout receives exactly one line, "listening on http://HOST:PORT"
	// (https:// with TLS), once the listener is bound.
	Stdout io.Writer
	// TLS, when set, serves over TLS with it (its Certificates); nil serves plaintext.
	TLS *tls.Config
	// BeforeShutdown runs when ctx ends, before the server drains, and again while it drains
	// (it must be safe to call more than once); mocks
	// use it to end long-lived streams that would hold the drain up.
	BeforeShutdown func(context.Context)
	// ShutdownTimeout bounds the drain; zero means five seconds.
	ShutdownTimeout time.Duration
}

// Run serves until ctx ends, then shuts down gracefully. It returns nil
// after a clean shutdown.
func Run(ctx context.Context, opts Options) error {
	if err := CheckLoopback(opts.Addr); err != nil {
		return err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	timeout := opts.ShutdownTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	srv := &http.Server{
		Handler:           opts.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		TLSConfig:         opts.TLS,
	}
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	logger.Info("listening", "addr", ln.Addr().String(), "tls", opts.TLS != nil)
	if opts.Stdout != nil {
		if _, err := fmt.Fprintf(opts.Stdout, "listening on %s\n", url); err != nil {
			_ = ln.Close()
			return fmt.Errorf("announce address: %w", err)
		}
	}

	served := make(chan error, 1)
	go func() {
		if opts.TLS != nil {
			// The certificates are in TLSConfig, so ServeTLS is given no files.
			served <- srv.ServeTLS(ln, "", "")
			return
		}
		served <- srv.Serve(ln)
	}()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := drain(shutdownCtx, srv, opts.BeforeShutdown); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// CheckLoopback refuses any address that is not on a loopback interface:
// the mocks must never be reachable from another machine.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: the host must be a loopback address such as 127.0.0.1", addr)
	}
	return nil
}

// NewLogger returns a text logger at the named level (debug, info, warn,
// error).
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// drainInterval is how often drain calls beforeShutdown again while the server drains.
const drainInterval = 5 * time.Millisecond

// drain shuts srv down, calling beforeShutdown first and then again every drainInterval until
// the drain ends: a stream that a client opened just as the shutdown began (an MCP GET
// stream registered after the first call) is ended too, rather than holding the drain until
// its timeout. This is what mcp-go's own StreamableHTTPServer.Shutdown does.
func drain(ctx context.Context, srv *http.Server, beforeShutdown func(context.Context)) error {
	if beforeShutdown == nil {
		return srv.Shutdown(ctx)
	}
	beforeShutdown(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	tick := time.NewTicker(drainInterval)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			beforeShutdown(ctx)
		}
	}
}

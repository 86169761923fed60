package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hopguard/hopguard/mockservers/internal/serve"
)

// tlsOptions is serve.Options over TLS: how a gateway's TLS origination to a real provider
// (api.openai.com:443, say) is tested here, against this mock and a local CA.
type tlsOptions struct {
	Addr              string // loopback host:port, as for serve.Run
	CertFile, KeyFile string // the server's certificate chain and key, PEM
	Handler           http.Handler
	Logger            *slog.Logger
	Stdout            io.Writer // gets "listening on https://HOST:PORT" once bound
}

// runTLS is serve.Run over TLS: loopback only, the same announcement with https://, HTTP/2 and
// HTTP/1.1 offered by ALPN as real providers do, and a graceful shutdown when ctx ends.
func runTLS(ctx context.Context, opts tlsOptions) error {
	if err := serve.CheckLoopback(opts.Addr); err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
	if err != nil {
		return fmt.Errorf("load the TLS certificate and key: %w", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	srv := &http.Server{
		Handler:           opts.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		},
	}
	url := "https://" + ln.Addr().String()
	opts.Logger.Info("listening", "addr", ln.Addr().String(), "tls", true)
	if opts.Stdout != nil {
		if _, err := fmt.Fprintf(opts.Stdout, "listening on %s\n", url); err != nil {
			_ = ln.Close()
			return fmt.Errorf("announce address: %w", err)
		}
	}

	served := make(chan error, 1)
	// Certificates are in TLSConfig already, so ServeTLS is given no files.
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	opts.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

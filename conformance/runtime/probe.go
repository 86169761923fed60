package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hopguard/hopguard/conformance/env"
)

// probeTimeout bounds one readiness attempt, so a hung component is retried, not waited on.
const probeTimeout = time.Second

// Probe checks once whether the component behind addr is ready; nil means ready.
func Probe(ctx context.Context, p env.Probe, addr netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	switch p.Kind {
	case env.ProbeTCP:
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr.String())
		if err != nil {
			return fmt.Errorf("tcp %s: %w", addr, err)
		}
		return conn.Close()
	case env.ProbeHTTP:
		return probeHTTP(ctx, "http://"+addr.String()+p.Path)
	case env.ProbeGRPC:
		return probeGRPC(ctx, addr, p.Service)
	default:
		return fmt.Errorf("unknown probe kind %v", p.Kind)
	}
}

func probeHTTP(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("http probe %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("http probe %s: %w", url, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("http probe %s: status %d", url, resp.StatusCode)
	}
	return nil
}

func probeGRPC(ctx context.Context, addr netip.AddrPort, service string) error {
	conn, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("grpc probe %s: %w", addr, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("grpc health %s: %w", addr, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("grpc health %s: %s", addr, resp.GetStatus())
	}
	return nil
}

// ErrExited is returned by WaitReady when the component exited before it was ready.
var ErrExited = errors.New("exited before it was ready")

// WaitReady probes until the component is ready, exits (exited is closed), the timeout passes
// or ctx ends. The error carries the last probe failure.
func WaitReady(ctx context.Context, p env.Probe, addr netip.AddrPort, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		err := Probe(ctx, p, addr)
		if err == nil {
			return nil
		}
		// A probe cut short by the deadline says less than the one before it.
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			if parent := context.Cause(ctx); errors.Is(parent, context.Canceled) {
				return fmt.Errorf("not ready: %w", parent)
			}
			return fmt.Errorf("not ready after %s: %w (last probe: %v)", timeout, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

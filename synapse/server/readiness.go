package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Dependency is something synapse cannot decide without (Cerbos).
type Dependency interface {
	Ready(ctx context.Context) error
}

// Readiness probes a dependency at an interval and publishes the result to
// the gRPC health service and to /readyz.
type Readiness struct {
	dep      Dependency
	health   *health.Server
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	lastErr error
}

var errNotProbed = errors.New("cerbos not probed yet")

// NewReadiness returns a probe that reports not ready until the first
// successful probe. health may be nil.
func NewReadiness(dep Dependency, hs *health.Server, interval time.Duration, log *slog.Logger) *Readiness {
	if interval <= 0 {
		interval = time.Second
	}
	return &Readiness{dep: dep, health: hs, interval: interval, log: log, lastErr: errNotProbed}
}

// Run probes until ctx ends.
func (r *Readiness) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		r.Probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Probe checks the dependency once and publishes the result.
func (r *Readiness) Probe(ctx context.Context) {
	err := r.dep.Ready(ctx)
	r.mu.Lock()
	changed := (err == nil) != (r.lastErr == nil)
	r.lastErr = err
	r.mu.Unlock()
	if !changed {
		return
	}
	st := healthpb.HealthCheckResponse_SERVING
	if err != nil {
		st = healthpb.HealthCheckResponse_NOT_SERVING
		r.log.WarnContext(ctx, "not ready: cerbos does not answer", "err", err)
	} else {
		r.log.InfoContext(ctx, "ready: cerbos answers")
	}
	if r.health != nil {
		r.health.SetServingStatus("", st)
		r.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, st)
	}
}

// Err is nil when the last probe succeeded, else why synapse is not ready.
func (r *Readiness) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

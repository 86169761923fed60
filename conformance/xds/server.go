// Package xds serves a fixed set of xDS resources to one Envoy node over ADS, with
// go-control-plane's server and snapshot cache. The snapshot is checked for consistency (every
// route a listener names, every endpoint set a cluster names, is in it) before it is set, so
// Envoy never waits on a resource that will not come. gRPC health reports SERVING once the
// snapshot is in place, which is what the environment's readiness probe asks.
package xds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Config is what one server serves.
type Config struct {
	// NodeID is the node.id of the one Envoy served; any other node is refused.
	NodeID string
	// Version names the snapshot; Envoy echoes it when it accepts a response.
	Version string
	// Resources by type URL (resource.ListenerType, ...).
	Resources map[resource.Type][]types.Resource
	// Logger receives connections, accepts and rejections; nil discards them.
	Logger *slog.Logger
}

// Server is an ADS server holding one snapshot.
type Server struct {
	cache     cache.SnapshotCache
	callbacks *callbacks
	logger    *slog.Logger
}

// New checks the resources and sets them as the node's snapshot.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.NodeID == "" || cfg.Version == "" {
		return nil, errors.New("xds: node id and snapshot version are required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	snap, err := cache.NewSnapshot(cfg.Version, cfg.Resources)
	if err != nil {
		return nil, fmt.Errorf("xds: snapshot: %w", err)
	}
	if err := snap.Consistent(); err != nil {
		return nil, fmt.Errorf("xds: snapshot is not consistent: %w", err)
	}
	c := cache.NewSnapshotCache(true, cache.IDHash{}, cacheLogger{logger})
	if err := c.SetSnapshot(ctx, cfg.NodeID, snap); err != nil {
		return nil, fmt.Errorf("xds: set snapshot for %s: %w", cfg.NodeID, err)
	}
	return &Server{
		cache:     c,
		callbacks: newCallbacks(cfg.NodeID, cfg.Version, logger),
		logger:    logger,
	}, nil
}

// Connected is closed once the node has opened its ADS stream and asked for something.
func (s *Server) Connected() <-chan struct{} { return s.callbacks.connected }

// stopGrace bounds the graceful stop; the ADS streams end with ctx, so it is rarely needed.
const stopGrace = 2 * time.Second

// Serve serves ADS and gRPC health on lis until ctx ends, then stops and returns nil; any other
// return is the error that stopped it.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	// The xDS server ends its streams when this context ends, so a graceful stop does not wait
	// on Envoy's never-ending ADS stream.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	xds := server.NewServer(ctx, s.cache, s.callbacks)
	gs := grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, xds)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)

	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	select {
	case err := <-served:
		gs.Stop()
		return fmt.Errorf("xds: serve: %w", err)
	case <-ctx.Done():
	}
	hs.Shutdown()
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(stopGrace):
		gs.Stop()
		<-stopped
	}
	s.logger.Info("xds server stopped")
	return nil
}

package runtime_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
)

func addrOf(t *testing.T, hostport string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(hostport)
	require.NoError(t, err)
	return ap
}

func TestProbeHTTP(t *testing.T) {
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	addr := addrOf(t, srv.Listener.Addr().String())
	probe := env.Probe{Kind: env.ProbeHTTP, Path: "/readyz"}

	err := runtime.Probe(t.Context(), probe, addr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status 503")
	ready.Store(true)
	require.NoError(t, runtime.Probe(t.Context(), probe, addr))
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := addrOf(t, ln.Addr().String())
	require.NoError(t, runtime.Probe(t.Context(), env.Probe{Kind: env.ProbeTCP}, addr))
	require.NoError(t, ln.Close())
	require.Error(t, runtime.Probe(t.Context(), env.Probe{Kind: env.ProbeTCP}, addr))
}

func TestProbeGRPCHealth(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	addr := addrOf(t, ln.Addr().String())
	probe := env.Probe{Kind: env.ProbeGRPC}

	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	err = runtime.Probe(t.Context(), probe, addr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NOT_SERVING")
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	require.NoError(t, runtime.Probe(t.Context(), probe, addr))
}

func TestWaitReadyStopsWhenTheComponentExits(t *testing.T) {
	exited := make(chan struct{})
	close(exited)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := addrOf(t, ln.Addr().String())
	require.NoError(t, ln.Close())
	err = runtime.WaitReady(t.Context(), env.Probe{Kind: env.ProbeTCP}, addr, time.Minute, exited)
	require.ErrorIs(t, err, runtime.ErrExited)
}

package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hopguard/hopguard/synapse/server"
)

type panickyAuthz struct {
	authv3.UnimplementedAuthorizationServer
}

func (panickyAuthz) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	var m map[string]int
	m["boom"]++ // a nil map write: a real runtime panic
	return nil, nil
}

var discard = slog.New(slog.DiscardHandler)

func serve(t *testing.T, authz authv3.AuthorizationServer, failClosed server.FailClosed) (*grpc.ClientConn, *health.Server) {
	t.Helper()
	srv, hs := server.NewGRPC(authz, failClosed, discard)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn, hs
}

func TestPanicInCheckIsADenial(t *testing.T) {
	denial := &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.Unavailable), Message: "fail closed"}}
	var recovered any
	conn, _ := serve(t, panickyAuthz{}, func(_ context.Context, p any) *authv3.CheckResponse {
		recovered = p
		return denial
	})
	resp, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), &authv3.CheckRequest{})
	require.NoError(t, err)
	assert.Equal(t, int32(codes.Unavailable), resp.GetStatus().GetCode())
	assert.Equal(t, "fail closed", resp.GetStatus().GetMessage())
	assert.NotNil(t, recovered)
}

func TestPanicWithoutFailClosedIsAnInternalError(t *testing.T) {
	conn, _ := serve(t, panickyAuthz{}, nil)
	_, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), &authv3.CheckRequest{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Internal")
}

type switchableDep struct {
	mu  sync.Mutex
	err error
}

func (d *switchableDep) Ready(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

func (d *switchableDep) set(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err = err
}

func TestReadinessDrivesGRPCHealthAndReadyz(t *testing.T) {
	conn, hs := serve(t, panickyAuthz{}, nil)
	dep := &switchableDep{err: errors.New("connection refused")}
	ready := server.NewReadiness(dep, hs, 0, discard)
	httpSrv := httptest.NewServer(server.NewHTTPHandler(ready.Err, http.NotFoundHandler()))
	t.Cleanup(httpSrv.Close)
	hc := healthpb.NewHealthClient(conn)
	ctx := context.Background()

	grpcStatus := func() healthpb.HealthCheckResponse_ServingStatus {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: authv3.Authorization_ServiceDesc.ServiceName})
		require.NoError(t, err)
		return resp.GetStatus()
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(httpSrv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	assert.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, grpcStatus(), "not serving before any probe")
	code, body := get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "not probed")

	ready.Probe(ctx)
	assert.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, grpcStatus())
	code, body = get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "connection refused")

	dep.set(nil)
	ready.Probe(ctx)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, grpcStatus())
	code, _ = get("/readyz")
	assert.Equal(t, http.StatusOK, code)

	dep.set(errors.New("gone"))
	ready.Probe(ctx)
	assert.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, grpcStatus(), "a lost Cerbos is noticed")

	code, _ = get("/healthz")
	assert.Equal(t, http.StatusOK, code, "liveness does not depend on Cerbos")
}

package server_test

import (
	"context"
	"net"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hopguard/hopguard/internal/cpubench"
	"github.com/hopguard/hopguard/synapse/server"
)

// forwardingAuthz answers each Check after one gRPC call of its own, as synapse's Check asks
// Cerbos: the handler's stack and the server's transport are what the benchmark measures.
type forwardingAuthz struct {
	authv3.UnimplementedAuthorizationServer
	backend healthpb.HealthClient
}

func (a forwardingAuthz) Check(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	if _, err := a.backend.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		return nil, err
	}
	return &authv3.CheckResponse{Status: &rpcstatus.Status{}}, nil
}

func listenAndServe(b *testing.B, srv *grpc.Server) *grpc.ClientConn {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(b, err)
	b.Cleanup(func() { _ = conn.Close() })
	return conn
}

// BenchmarkCheck calls NewGRPC's server over loopback, one call at a time and eight at a time.
// cpu-ns/op is the CPU of this whole process per Check (client, server, handler, backend):
// of it, only the server's share changes with the server's options.
func BenchmarkCheck(b *testing.B) {
	backend := grpc.NewServer()
	healthpb.RegisterHealthServer(backend, health.NewServer())
	authz := forwardingAuthz{backend: healthpb.NewHealthClient(listenAndServe(b, backend))}
	srv, _ := server.NewGRPC(authz, nil, discard)
	client := authv3.NewAuthorizationClient(listenAndServe(b, srv))
	ctx := context.Background()
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/mcp/payments", Host: "gateway.local",
			Headers: map[string]string{
				"authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
				"content-type":  "application/json", "mcp-session-id": "s-1",
			},
			Body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund_issue","arguments":{"ticket_id":"T-1001","amount_cents":900000}}}`,
		}},
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{}},
	}}
	for range 100 { // connect and warm up
		_, err := client.Check(ctx, req)
		require.NoError(b, err)
	}
	cpubench.SerialAndParallel(b, func() error {
		_, err := client.Check(ctx, req)
		return err
	})
}

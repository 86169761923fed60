// Package server is synapse's transport: the ext_authz gRPC server with its
// health service, the HTTP server of /healthz, /readyz and /metrics, and the
// readiness probe that ties both to Cerbos. The decision logic lives in
// synapse/authz.
package server

import (
	"context"
	"log/slog"
	"runtime/debug"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// CheckMethod is the full gRPC method name of ext_authz Check.
const CheckMethod = "/envoy.service.auth.v3.Authorization/Check"

// FailClosed turns a panic recovered during Check into the response sent
// instead: a denial, never an allow.
type FailClosed func(ctx context.Context, recovered any) *authv3.CheckResponse

// NewGRPC builds the ext_authz gRPC server. Its health service reports
// NOT_SERVING until the readiness probe says otherwise.
func NewGRPC(authz authv3.AuthorizationServer, failClosed FailClosed, log *slog.Logger, opts ...grpc.ServerOption) (*grpc.Server, *health.Server) {
	opts = append(defaultServerOptions(failClosed, log), opts...)
	srv := grpc.NewServer(opts...)
	authv3.RegisterAuthorizationServer(srv, authz)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	return srv, hs
}

// staticWindow is the HTTP/2 flow-control window, per stream and per connection, that the
// gateway may fill. A fixed window turns off gRPC's bandwidth estimator, which otherwise
// answers nearly every request with a WINDOW_UPDATE and a PING that the gateway must read and
// acknowledge: more writes and reads per Check on both sides. 1 MiB takes a whole request
// body at the gateways' limit (max_request_bytes 1 MiB) in one window, and is no more than
// the estimator may grow to.
const staticWindow = 1 << 20

// streamWorkers is how many long-lived goroutines serve Checks. A goroutine per Check (gRPC's
// default) starts with a small stack and grows it again on every call, deep in the call to
// Cerbos; a worker keeps its grown stack. When every worker is busy, gRPC starts a goroutine
// for the Check as before, so this bounds nothing.
const streamWorkers = 16

// defaultServerOptions come before the caller's options, which may override them.
func defaultServerOptions(failClosed FailClosed, log *slog.Logger) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(recoverInterceptor(failClosed, log)),
		grpc.StaticStreamWindowSize(staticWindow),
		grpc.StaticConnWindowSize(staticWindow),
		grpc.NumStreamWorkers(streamWorkers),
	}
}

// recoverInterceptor keeps a panic from killing synapse or from reaching the
// gateway as a transport error: Check answers with failClosed's denial.
func recoverInterceptor(failClosed FailClosed, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			log.ErrorContext(ctx, "panic in gRPC handler", "method", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
			if info.FullMethod == CheckMethod && failClosed != nil {
				resp, err = failClosed(ctx, p), nil
				return
			}
			resp, err = nil, status.Error(codes.Internal, "internal error")
		}()
		return handler(ctx, req)
	}
}

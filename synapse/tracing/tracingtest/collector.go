// Package tracingtest is an in-process OpenTelemetry collector for tests: an OTLP gRPC trace
// receiver on loopback that keeps every span with the service that sent it.
package tracingtest

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// Span is one span received, with the service.name of the resource that sent it.
type Span struct {
	Service string
	*tracev1.Span
}

// Collector receives spans.
type Collector struct {
	collectortrace.UnimplementedTraceServiceServer
	// Addr is where it listens (host:port), for OTLP gRPC without TLS.
	Addr string

	mu    sync.Mutex
	spans []Span
}

// Start runs a collector until the test ends.
func Start(t testing.TB) *Collector {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("tracingtest: %v", err)
	}
	c := &Collector{Addr: l.Addr().String()}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, c)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return c
}

// CerbosEnv is the environment that makes Cerbos send its spans here at once (OTLP without
// TLS, batches every 100 ms), as the service "cerbos", recording what its caller sampled.
func (c *Collector) CerbosEnv() []string {
	return []string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://" + c.Addr, "OTEL_EXPORTER_OTLP_TRACES_INSECURE=true",
		"OTEL_SERVICE_NAME=cerbos", "OTEL_TRACES_SAMPLER=parentbased_always_on", "OTEL_BSP_SCHEDULE_DELAY=100",
	}
}

// Export implements the OTLP trace service.
func (c *Collector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				c.spans = append(c.spans, Span{Service: service, Span: sp})
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// InTrace returns the spans of one trace received so far.
func (c *Collector) InTrace(traceID []byte) []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Span
	for _, s := range c.spans {
		if slices.Equal(s.GetTraceId(), traceID) {
			out = append(out, s)
		}
	}
	return out
}

// Spans returns every span received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.spans)
}

package app_test

import (
	"context"
	"encoding/hex"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/pdp/cerbostest"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// receivedSpan is one span an OTLP collector received, with the service that sent it.
type receivedSpan struct {
	service string
	span    *tracev1.Span
}

// collector is an in-process OTLP trace receiver.
type collector struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []receivedSpan
}

func (c *collector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
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
				c.spans = append(c.spans, receivedSpan{service, sp})
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (c *collector) inTrace(traceID []byte) []receivedSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []receivedSpan
	for _, s := range c.spans {
		if slices.Equal(s.span.GetTraceId(), traceID) {
			out = append(out, s)
		}
	}
	return out
}

func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := &collector{}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, c)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return c, l.Addr().String()
}

// TestOneHopIsOneTrace: the gateway's traceparent on a check makes synapse's spans (the check
// and its stages) and Cerbos's one trace with the gateway's, in the collector both send to.
func TestOneHopIsOneTrace(t *testing.T) {
	col, addr := startCollector(t)
	// Batches leave every 100 ms rather than 5 s, in both processes.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	cerbos := cerbostest.Start(t, cerbostest.Options{Env: []string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://" + addr, "OTEL_EXPORTER_OTLP_TRACES_INSECURE=true",
		"OTEL_SERVICE_NAME=cerbos", "OTEL_TRACES_SAMPLER=parentbased_always_on", "OTEL_BSP_SCHEDULE_DELAY=100",
	}})
	iss := identitytest.NewIssuer(t)
	cfg := testConfig(t, cerbos.GRPCAddr, iss.JWKSURL())
	cfg.Tracing.OTLPEndpoint, cfg.Tracing.Insecure, cfg.Tracing.SampleRatio = addr, true, 0
	require.NoError(t, cfg.Validate())
	syn := startSynapse(t, cfg)
	_, err := syn.admin.Create(context.Background(), tasks.NewTask{ID: "task-traced", Principal: "alice", AgentID: "support-agent", TicketID: "T-1001"})
	require.NoError(t, err)
	token := iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm", Roles: []string{"tier-1-support"},
		AgentID: "support-agent", HarnessVersion: "test-1", TaskID: "task-traced"})

	traceID, gatewaySpan := "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := checktest.Envoy("llm", "POST", "/v1/chat/completions", token, checktest.ChatBody("gpt-4o-mini"))
	req.Attributes.Request.Http.Headers["traceparent"] = "00-" + traceID + "-" + gatewaySpan + "-01"
	require.Equal(t, int32(codes.OK), syn.check(t, req).GetStatus().GetCode())

	want, err := hex.DecodeString(traceID)
	require.NoError(t, err)
	var spans []receivedSpan
	require.Eventually(t, func() bool {
		spans = col.inTrace(want)
		return slices.ContainsFunc(spans, func(s receivedSpan) bool { return s.service == "cerbos" }) &&
			slices.ContainsFunc(spans, func(s receivedSpan) bool { return s.span.GetName() == "synapse.cerbos" })
	}, 10*time.Second, 50*time.Millisecond, "synapse's and Cerbos's spans in the gateway's trace")

	byName := map[string]*tracev1.Span{}
	for _, s := range spans {
		if s.service == "synapse" {
			byName[s.span.GetName()] = s.span
		}
	}
	check := byName["synapse.check"]
	require.NotNil(t, check)
	assert.Equal(t, gatewaySpan, hex.EncodeToString(check.GetParentSpanId()), "the check is a child of the gateway's span")
	for _, stage := range []string{"synapse.map", "synapse.verify", "synapse.task_lookup", "synapse.cerbos"} {
		require.Contains(t, byName, stage)
		assert.Equal(t, check.GetSpanId(), byName[stage].GetParentSpanId(), "%s is a stage of the check", stage)
	}
}

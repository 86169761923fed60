package app_test

import (
	"context"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/pdp/cerbostest"
	"github.com/hopguard/hopguard/synapse/tasks"
	"github.com/hopguard/hopguard/synapse/tracing/tracingtest"
)

// TestOneHopIsOneTrace: the gateway's traceparent on a check makes synapse's spans (the check
// and its stages) and Cerbos's one trace with the gateway's, in the collector both send to.
func TestOneHopIsOneTrace(t *testing.T) {
	col := tracingtest.Start(t)
	addr := col.Addr
	// Batches leave every 100 ms rather than 5 s, in both processes.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	cerbos := cerbostest.Start(t, cerbostest.Options{Env: col.CerbosEnv()})
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
	var spans []tracingtest.Span
	require.Eventually(t, func() bool {
		spans = col.InTrace(want)
		return slices.ContainsFunc(spans, func(s tracingtest.Span) bool { return s.Service == "cerbos" }) &&
			slices.ContainsFunc(spans, func(s tracingtest.Span) bool { return s.GetName() == "synapse.cerbos" })
	}, 10*time.Second, 50*time.Millisecond, "synapse's and Cerbos's spans in the gateway's trace")

	byName := map[string]tracingtest.Span{}
	for _, s := range spans {
		if s.Service == "synapse" {
			byName[s.GetName()] = s
		}
	}
	check, ok := byName["synapse.check"]
	require.True(t, ok)
	assert.Equal(t, gatewaySpan, hex.EncodeToString(check.GetParentSpanId()), "the check is a child of the gateway's span")
	for _, stage := range []string{"synapse.map", "synapse.verify", "synapse.task_lookup", "synapse.cerbos"} {
		require.Contains(t, byName, stage)
		assert.Equal(t, check.GetSpanId(), byName[stage].GetParentSpanId(), "%s is a stage of the check", stage)
	}
}

package authz_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/internal/syncbuf"
	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/authz"
	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/metrics"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/tasks"
)

const decisionID = "0123456789abcdef0123456789abcdef"

type auditRecorder struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (a *auditRecorder) Write(r audit.Record) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, r)
	return nil
}

func (a *auditRecorder) only(t *testing.T) audit.Record {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Len(t, a.recs, 1, "one audit record per decision")
	return a.recs[0]
}

type fixture struct {
	logs    *syncbuf.Buffer
	iss     *identitytest.Issuer
	pdp     *MockPDP
	tasks   *MockTaskStore
	audit   *auditRecorder
	metrics *metrics.Metrics
	svc     *authz.Service
}

// newFixture is a Service behind mocks; each option adjusts its Options first.
func newFixture(t *testing.T, options ...func(*authz.Options)) *fixture {
	t.Helper()
	f := &fixture{
		logs:    &syncbuf.Buffer{},
		iss:     identitytest.NewIssuer(t),
		pdp:     NewMockPDP(t),
		tasks:   NewMockTaskStore(t),
		audit:   &auditRecorder{},
		metrics: metrics.New(),
	}
	keys := identity.NewKeySet(identity.KeySetConfig{URL: f.iss.JWKSURL()})
	opts := authz.Options{
		Routes:  mapping.RouteTable{{PathPrefix: "/v1/", Resource: "llm"}},
		Tokens:  identity.NewVerifier(keys, identitytest.DefaultIssuer, 30*time.Second),
		Tasks:   f.tasks,
		PDP:     f.pdp,
		Audit:   f.audit,
		Metrics: f.metrics,
		Log:     slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		NewID:   func() string { return decisionID },
	}
	for _, option := range options {
		option(&opts)
	}
	svc, err := authz.New(opts)
	require.NoError(t, err)
	f.svc = svc
	return f
}

// alice is a tier-1 support agent run by the triage harness on task-1.
func (f *fixture) alice(t *testing.T, audience string) string {
	return f.iss.Mint(t, identitytest.Token{
		Subject: "alice", Audience: audience, Roles: []string{"tier-1-support"},
		AgentID: "triage", HarnessVersion: "1.0.0", TaskID: "task-1",
		Actor: "spiffe://hopguard.local/ns/agents/sa/triage",
	})
}

var aliceTask = tasks.Task{ID: "task-1", Principal: "alice", AgentID: "triage", TicketID: "T-1001", Status: tasks.StatusActive}

// answer builds Cerbos's answer for a request: effect per action, plus
// outputs and validation errors on the first result.
func answer(effect pdp.Effect, outputs []pdp.Output, violations []pdp.ValidationError) func(context.Context, pdp.Request) (*pdp.Response, error) {
	return func(_ context.Context, req pdp.Request) (*pdp.Response, error) {
		resp := &pdp.Response{RequestID: req.RequestID, CallID: "cerbos-call-1"}
		for _, r := range req.Resources {
			actions := map[string]pdp.Effect{}
			for _, a := range r.Actions {
				actions[a] = effect
			}
			resp.Results = append(resp.Results, pdp.Result{Kind: r.Kind, ID: r.ID, Actions: actions})
		}
		resp.Results[0].Outputs, resp.Results[0].ValidationErrors = outputs, violations
		return resp, nil
	}
}

var capOutput = pdp.Output{
	Source: "resource.mcp_payments.vdefault#tier-1-refund-cap", Action: "tools/call/refund_issue",
	Value: map[string]any{
		"decision": "deny", "code": "refund_cap_exceeded", "reason": "tier-1-support refund cap exceeded",
		"remediation": map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"},
	},
}

func header(hs []*corev3.HeaderValueOption, name string) (string, bool) {
	for _, h := range hs {
		if h.GetHeader().GetKey() == name {
			return h.GetHeader().GetValue(), true
		}
	}
	return "", false
}

// assertDenied checks what every denial carries, whatever its shape.
func assertDenied(t *testing.T, resp *authv3.CheckResponse, httpStatus int) {
	t.Helper()
	require.NotNil(t, resp.GetStatus(), "status is always set")
	assert.NotEqual(t, int32(codes.OK), resp.GetStatus().GetCode())
	denied := resp.GetDeniedResponse()
	require.NotNil(t, denied)
	assert.EqualValues(t, httpStatus, denied.GetStatus().GetCode())
	v, ok := header(denied.GetHeaders(), "x-hopguard-decision")
	assert.True(t, ok)
	assert.Equal(t, "deny", v)
	v, _ = header(denied.GetHeaders(), "x-hopguard-decision-id")
	assert.Equal(t, decisionID, v)
	if httpStatus >= 500 {
		v, _ = header(denied.GetHeaders(), "x-should-retry")
		assert.Equal(t, "false", v)
	}
}

func counter(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			return metric.GetCounter().GetValue()
		}
	}
	return 0
}

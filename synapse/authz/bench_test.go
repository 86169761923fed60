package authz_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/authz"
	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/metrics"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/tasks"
)

type pdpFunc func(context.Context, pdp.Request) (*pdp.Response, error)

func (f pdpFunc) Check(ctx context.Context, req pdp.Request) (*pdp.Response, error) {
	return f(ctx, req)
}

type oneTask tasks.Task

func (t oneTask) Get(context.Context, string) (tasks.Task, error) { return tasks.Task(t), nil }

// BenchmarkCheck measures synapse's own share of a decision (mapping, token
// verification, enrichment, judging, audit, metrics) with Cerbos answered
// in-process.
func BenchmarkCheck(b *testing.B) {
	iss := identitytest.NewIssuer(b)
	keys := identity.NewKeySet(identity.KeySetConfig{URL: iss.JWKSURL()})
	svc, err := authz.New(authz.Options{
		Tokens:  identity.NewVerifier(keys, identitytest.DefaultIssuer, 30*time.Second),
		Tasks:   oneTask(aliceTask),
		PDP:     pdpFunc(answer(pdp.EffectDeny, []pdp.Output{capOutput}, nil)),
		Audit:   audit.Discard(),
		Metrics: metrics.New(),
		Log:     slog.New(slog.DiscardHandler),
		Routes:  mapping.RouteTable{},
	})
	if err != nil {
		b.Fatal(err)
	}
	tok := iss.Mint(b, identitytest.Token{Subject: "alice", Audience: "mcp:payments", Roles: []string{"tier-1-support"}, AgentID: "triage", TaskID: "task-1"})
	req := checktest.Envoy("mcp:payments", "POST", "/mcp/payments", tok,
		checktest.ToolCallBody(b, 7, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": 900000}))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := svc.Check(ctx, req)
		if err != nil || resp.GetDeniedResponse() == nil {
			b.Fatalf("want a denial, got %v, %v", resp, err)
		}
	}
}

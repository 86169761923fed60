package authz_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hopguard/hopguard/policies/provenance"
	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/authz"
	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/server"
	"github.com/hopguard/hopguard/synapse/tasks"
)

func TestCheckAllows(t *testing.T) {
	for _, gw := range checktest.Gateways {
		t.Run(gw.Name, func(t *testing.T) {
			f := newFixture(t)
			f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
			var got pdp.Request
			f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(
				func(ctx context.Context, req pdp.Request) (*pdp.Response, error) {
					got = req
					return answer(pdp.EffectAllow, nil, nil)(ctx, req)
				}).Once()

			resp, err := f.svc.Check(context.Background(), gw.Build("llm", "POST", "/v1/chat/completions", f.alice(t, "llm"), checktest.ChatBody("gpt-4o-mini")))
			require.NoError(t, err)
			assert.Equal(t, int32(codes.OK), resp.GetStatus().GetCode())
			require.NotNil(t, resp.GetOkResponse())
			v, _ := header(resp.GetOkResponse().GetResponseHeadersToAdd(), "x-hopguard-decision-id")
			assert.Equal(t, decisionID, v)
			assert.Contains(t, resp.GetOkResponse().GetHeadersToRemove(), "authorization")

			// The one Cerbos request: identity from the token, task from the registry.
			assert.Equal(t, decisionID, got.RequestID)
			assert.Equal(t, pdp.Principal{ID: "alice", Roles: []string{"tier-1-support"}, Attr: map[string]any{
				"agent_id": "triage", "harness_version": "1.0.0", "task_id": "task-1",
				"acting_for": "alice", "actor": "spiffe://hopguard.local/ns/agents/sa/triage",
				"task": map[string]any{"id": "task-1", "status": "active", "ticket_id": "T-1001"},
			}}, got.Principal)
			require.Len(t, got.Resources, 2, "the check, then the policy set's version")
			assert.Equal(t, pdp.Resource{Kind: provenance.Kind, ID: provenance.ID, Actions: []string{provenance.Action}}, got.Resources[1])
			assert.Equal(t, "llm", got.Resources[0].Kind)
			assert.Equal(t, "gpt-4o-mini", got.Resources[0].ID)
			assert.Equal(t, []string{"completion"}, got.Resources[0].Actions)
			assert.Equal(t, pdp.Metadata{DecisionID: decisionID, AgentID: "triage", HarnessVersion: "1.0.0", TaskID: "task-1"}, got.Metadata)

			rec := f.audit.only(t)
			assert.Equal(t, "allow", rec.Effect)
			assert.Equal(t, decisionID, rec.DecisionID)
			assert.Equal(t, "cerbos-call-1", rec.CerbosCallID)
			assert.Equal(t, "alice", rec.Principal)
			assert.Equal(t, []string{"tier-1-support"}, rec.Roles)
			assert.Equal(t, "triage", rec.AgentID)
			assert.Equal(t, "1.0.0", rec.HarnessVersion)
			assert.Equal(t, "task-1", rec.Task)
			assert.Equal(t, "active", rec.TaskStatus)
			assert.Equal(t, "T-1001", rec.Ticket)
			assert.Equal(t, "llm", rec.Kind)
			assert.Equal(t, []audit.Resource{{Kind: "llm", ID: "gpt-4o-mini", Actions: []string{"completion"}}}, rec.Resources)
			assert.Empty(t, rec.Code)
			assert.Empty(t, rec.Failure)
			assert.False(t, rec.Time.IsZero())
		})
	}
}

// The task named by the token is the principal's only when it was created
// for this very principal and agent.
func TestTaskEnrichment(t *testing.T) {
	tests := []struct {
		name     string
		task     tasks.Task
		err      error
		wantTask any
	}{
		{"own active task", aliceTask, nil, map[string]any{"id": "task-1", "status": "active", "ticket_id": "T-1001"}},
		{"own revoked task", func() tasks.Task { t := aliceTask; t.Status = tasks.StatusRevoked; return t }(), nil,
			map[string]any{"id": "task-1", "status": "revoked", "ticket_id": "T-1001"}},
		{"another principal's task", func() tasks.Task { t := aliceTask; t.Principal = "bob"; return t }(), nil, nil},
		{"another agent's task", func() tasks.Task { t := aliceTask; t.AgentID = "rogue"; return t }(), nil, nil},
		{"unknown task", tasks.Task{}, tasks.ErrNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(tt.task, tt.err).Once()
			var got pdp.Request
			f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(func(ctx context.Context, req pdp.Request) (*pdp.Response, error) {
				got = req
				return answer(pdp.EffectDeny, nil, nil)(ctx, req)
			}).Once()
			_, err := f.svc.Check(context.Background(), checktest.Envoy("llm", "POST", "/v1/chat/completions", f.alice(t, "llm"), checktest.ChatBody("gpt-4o")))
			require.NoError(t, err)
			task, has := got.Principal.Attr["task"]
			if tt.wantTask == nil {
				assert.False(t, has, "no task attribute: %v", task)
				assert.Empty(t, f.audit.only(t).TaskStatus)
				return
			}
			assert.Equal(t, tt.wantTask, task)
		})
	}
}

func TestTokenWithoutTaskIsNotLookedUp(t *testing.T) {
	f := newFixture(t)
	f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(answer(pdp.EffectDeny, nil, nil)).Once()
	raw := f.iss.Mint(t, identitytest.Token{Subject: "carol", Audience: "mcp:payroll", Roles: []string{"payroll-admin"}})
	resp, err := f.svc.Check(context.Background(), checktest.Envoy("mcp:payroll", "POST", "/mcp/payroll", raw, checktest.InitializeBody))
	require.NoError(t, err)
	assertDenied(t, resp, 200)
}

// A batch is allowed only if every message is.
func TestBatchNeedsEveryCheckAllowed(t *testing.T) {
	f := newFixture(t)
	f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
	f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(func(ctx context.Context, req pdp.Request) (*pdp.Response, error) {
		resp, _ := answer(pdp.EffectAllow, nil, nil)(ctx, req)
		require.Len(t, resp.Results, 3, "two checks and the policy set's version")
		resp.Results[1].Actions["tools/call/refund_issue"] = pdp.EffectDeny
		resp.Results[1].Outputs = []pdp.Output{capOutput}
		return resp, nil
	}).Once()
	body := `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},` +
		checktest.ToolCallBody(t, 2, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": 900000}) + `]`
	resp, err := f.svc.Check(context.Background(), checktest.Agentgateway("mcp:payments", "POST", "/mcp/payments", f.alice(t, "mcp:payments"), body))
	require.NoError(t, err)
	assertDenied(t, resp, 200)
	rec := f.audit.only(t)
	assert.Equal(t, "refund_cap_exceeded", rec.Code)
	assert.Len(t, rec.Resources, 2)
}

// A caller that goes away mid-check (the client closed its connection, the gateway cancelled
// its ext_authz call) is audited as client_cancelled, whatever step it interrupted: not as an
// outage of the registry or of Cerbos, not counted as a Cerbos error, not logged as an error.
// A Cerbos call that times out while the caller waits is an outage.
func TestCancelledCheckIsTheClients(t *testing.T) {
	tests := []struct {
		name        string
		expect      func(f *fixture, cancel context.CancelFunc)
		wantCode    string
		wantFailure string
		wantStatus  int
	}{
		{name: "cancelled while the task registry answers", expect: func(f *fixture, cancel context.CancelFunc) {
			f.tasks.EXPECT().Get(mock.Anything, "task-1").RunAndReturn(func(ctx context.Context, _ string) (tasks.Task, error) {
				cancel()
				return tasks.Task{}, ctx.Err()
			}).Once()
		}, wantCode: "client_cancelled", wantFailure: "client_cancelled", wantStatus: 403},
		{name: "cancelled while Cerbos decides", expect: func(f *fixture, cancel context.CancelFunc) {
			f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
			f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(func(ctx context.Context, _ pdp.Request) (*pdp.Response, error) {
				cancel()
				return nil, ctx.Err()
			}).Once()
		}, wantCode: "client_cancelled", wantFailure: "client_cancelled", wantStatus: 403},
		{name: "Cerbos times out, the caller still waiting", expect: func(f *fixture, _ context.CancelFunc) {
			f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
			f.pdp.EXPECT().Check(mock.Anything, mock.Anything).Return(nil, context.DeadlineExceeded).Once()
		}, wantCode: "pdp_unavailable", wantFailure: "pdp", wantStatus: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			raw := f.alice(t, "llm")
			tt.expect(f, cancel)
			resp, err := f.svc.Check(ctx, checktest.Envoy("llm", "POST", "/v1/chat/completions", raw, checktest.ChatBody("gpt-4o")))
			require.NoError(t, err)
			assertDenied(t, resp, tt.wantStatus)
			rec := f.audit.only(t) // logged even when the gateway gave up on the request
			assert.Equal(t, tt.wantCode, rec.Code)
			assert.Equal(t, tt.wantFailure, rec.Failure)
			if tt.wantCode == "client_cancelled" {
				assert.NotContains(t, f.logs.String(), "level=ERROR")
				assert.Zero(t, counter(t, f.metrics, "synapse_cerbos_errors_total", nil))
			}
		})
	}
}

func TestFailClosedAfterPanic(t *testing.T) {
	f := newFixture(t)
	resp := f.svc.FailClosed(context.Background(), "boom")
	assertDenied(t, resp, 503)
	rec := f.audit.only(t)
	assert.Equal(t, "internal_error", rec.Code)
	assert.Equal(t, "internal", rec.Failure)
}

func TestNewRequiresCollaborators(t *testing.T) {
	_, err := authz.New(authz.Options{})
	require.ErrorContains(t, err, "missing")
}

func TestNewDecisionIDIsUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := authz.NewDecisionID()
		assert.Len(t, id, 32)
		assert.False(t, seen[id])
		seen[id] = true
	}
}

// A panic anywhere in Check reaches the gateway as a 503 denial, through the
// server's interceptor and the service's FailClosed.
func TestPanicThroughTheServerIsADenial(t *testing.T) {
	f := newFixture(t)
	f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
	f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(func(context.Context, pdp.Request) (*pdp.Response, error) {
		panic("cerbos client bug")
	}).Once()
	srv, _ := server.NewGRPC(f.svc, f.svc.FailClosed, slog.New(slog.DiscardHandler))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })

	resp, err := authv3.NewAuthorizationClient(conn).Check(context.Background(),
		checktest.Envoy("llm", "POST", "/v1/chat/completions", f.alice(t, "llm"), checktest.ChatBody("gpt-4o")))
	require.NoError(t, err)
	assertDenied(t, resp, 503)
	assert.Equal(t, "internal_error", f.audit.only(t).Code)
}

// A principal over its budget of Cerbos work is denied principal_busy, its own doing, and
// Cerbos is not asked.
func TestCheckOverBudgetIsThePrincipals(t *testing.T) {
	budget, err := authz.NewBudget(1, 1, time.Millisecond, 10) // one byte a second: one check, then none
	require.NoError(t, err)
	f := newFixture(t, func(o *authz.Options) { o.Budget = budget })
	f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Twice()
	f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(answer(pdp.EffectAllow, nil, nil)).Once()
	gw := checktest.Gateways[0]
	check := func() *authv3.CheckResponse {
		resp, err := f.svc.Check(context.Background(), gw.Build("llm", "POST", "/v1/chat/completions", f.alice(t, "llm"), checktest.ChatBody("gpt-4o-mini")))
		require.NoError(t, err)
		return resp
	}

	require.NotNil(t, check().GetOkResponse(), "the first check is within the burst")
	denied := check()

	assertDenied(t, denied, 403)
	f.audit.mu.Lock()
	defer f.audit.mu.Unlock()
	require.Len(t, f.audit.recs, 2)
	rec := f.audit.recs[1]
	assert.Equal(t, "principal_busy", rec.Code)
	assert.Equal(t, "admission", rec.Failure)
	assert.Empty(t, rec.CerbosCallID, "Cerbos was not asked")
}

package authz_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/tasks"
)

func TestCheckDenials(t *testing.T) {
	refund := func(amount int) string {
		return checktest.ToolCallBody(t, 7, "refund_issue", map[string]any{"ticket_id": "T-1001", "charge_id": "ch_1001", "amount_cents": amount})
	}
	tests := []struct {
		name        string
		resource    string
		method      string
		path        string
		body        string
		token       func(f *fixture, t *testing.T) string
		setup       func(f *fixture)
		httpStatus  int // of the denial; 200 for MCP shapes
		wantCode    string
		wantReason  string
		wantFailure string
		wantRemedy  map[string]any
	}{
		{
			name: "tier-1 refund over the cap: the rule's output", resource: "mcp:payments", method: "POST", path: "/mcp/payments",
			body: refund(900000), token: func(f *fixture, t *testing.T) string { return f.alice(t, "mcp:payments") },
			setup: func(f *fixture) {
				f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
				f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(answer(pdp.EffectDeny, []pdp.Output{capOutput}, nil)).Once()
			},
			httpStatus: 200, wantCode: "refund_cap_exceeded", wantReason: "tier-1-support refund cap exceeded",
			wantRemedy: map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"},
		},
		{
			name: "no rule allows: default deny", resource: "llm", method: "POST", path: "/v1/chat/completions",
			body: checktest.ChatBody("gpt-5"), token: func(f *fixture, t *testing.T) string { return f.alice(t, "llm") },
			setup: func(f *fixture) {
				f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
				f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(answer(pdp.EffectDeny, nil, nil)).Once()
			},
			httpStatus: 403, wantCode: "no_matching_rule", wantReason: "denied by policy: no rule allows completion on llm",
		},
		{
			name: "schema violation", resource: "mcp:payments", method: "POST", path: "/mcp/payments",
			body:  checktest.ToolCallBody(t, 3, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": "lots"}),
			token: func(f *fixture, t *testing.T) string { return f.alice(t, "mcp:payments") },
			setup: func(f *fixture) {
				f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
				f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(answer(pdp.EffectDeny, nil,
					[]pdp.ValidationError{{Path: "/arguments/amount_cents", Message: "got string, want integer", Source: "resource"}})).Once()
			},
			httpStatus: 200, wantCode: "invalid_arguments", wantReason: "invalid arguments: resource /arguments/amount_cents: got string, want integer",
		},
		{
			name: "validation errors deny even an allow", resource: "llm", method: "POST", path: "/v1/chat/completions",
			body: checktest.ChatBody("gpt-4o"), token: func(f *fixture, t *testing.T) string { return f.alice(t, "llm") },
			setup: func(f *fixture) {
				f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
				f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(answer(pdp.EffectAllow, nil,
					[]pdp.ValidationError{{Path: "/task", Message: "missing", Source: "principal"}})).Once()
			},
			httpStatus: 403, wantCode: "invalid_arguments", wantReason: "principal /task: missing",
		},
		{
			name: "cerbos error fails closed", resource: "mcp:crm", method: "POST", path: "/mcp/crm",
			body: checktest.InitializeBody, token: func(f *fixture, t *testing.T) string { return f.alice(t, "mcp:crm") },
			setup: func(f *fixture) {
				f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
				f.pdp.EXPECT().Check(mock.Anything, mock.Anything).Return(nil, status.Error(codes.Unavailable, "connection refused")).Once()
			},
			// An MCP request: the JSON-RPC error -32011 with 200, which the MCP Go SDK reads (it
			// never reads a 503's body).
			httpStatus: 200, wantCode: "pdp_unavailable", wantReason: "policy decision point is unavailable", wantFailure: "pdp",
		},
		{
			name: "cerbos answers for fewer resources", resource: "llm", method: "POST", path: "/v1/chat/completions",
			body: checktest.ChatBody("gpt-4o"), token: func(f *fixture, t *testing.T) string { return f.alice(t, "llm") },
			setup: func(f *fixture) {
				f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
				f.pdp.EXPECT().Check(mock.Anything, mock.Anything).Return(&pdp.Response{}, nil).Once()
			},
			httpStatus: 503, wantCode: "pdp_unavailable", wantFailure: "pdp",
		},
		{
			name: "an action missing from the answer is denied", resource: "llm", method: "POST", path: "/v1/chat/completions",
			body: checktest.ChatBody("gpt-4o"), token: func(f *fixture, t *testing.T) string { return f.alice(t, "llm") },
			setup: func(f *fixture) {
				f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
				f.pdp.EXPECT().Check(mock.Anything, mock.Anything).Return(&pdp.Response{Results: []pdp.Result{{Kind: "llm", ID: "gpt-4o",
					Actions: map[string]pdp.Effect{"embedding": pdp.EffectAllow}}, {Kind: "hopguard:provenance"}}}, nil).Once()
			},
			httpStatus: 403, wantCode: "no_matching_rule",
		},
		{
			name: "no token", resource: "mcp:payments", method: "POST", path: "/mcp/payments", body: refund(4000),
			token:      func(*fixture, *testing.T) string { return "" },
			httpStatus: 200, wantCode: "unauthenticated", wantReason: `no bearer token: this route needs a token issued for "mcp:payments"`, wantFailure: "identity",
		},
		{
			name: "token replayed on another route", resource: "mcp:payments", method: "POST", path: "/mcp/payments", body: refund(4000),
			token:      func(f *fixture, t *testing.T) string { return f.alice(t, "mcp:crm") },
			httpStatus: 200, wantCode: "invalid_token", wantReason: `does not match route resource "mcp:payments"`, wantFailure: "identity",
		},
		{
			name: "expired token", resource: "llm", method: "POST", path: "/v1/chat/completions", body: checktest.ChatBody("gpt-4o"),
			token: func(f *fixture, t *testing.T) string {
				past := time.Now().Add(-time.Hour)
				return f.iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm", IssuedAt: past, NotBefore: past, Expiry: past.Add(5 * time.Minute)})
			},
			httpStatus: 403, wantCode: "invalid_token", wantReason: "token expired", wantFailure: "identity",
		},
		{
			name: "STS keys unavailable fails closed", resource: "llm", method: "POST", path: "/v1/chat/completions", body: checktest.ChatBody("gpt-4o"),
			token: func(f *fixture, t *testing.T) string {
				f.iss.SetDown(true)
				return f.alice(t, "llm")
			},
			httpStatus: 503, wantCode: "identity_unavailable", wantFailure: "identity_unavailable",
		},
		{
			name: "task registry failure fails closed", resource: "llm", method: "POST", path: "/v1/chat/completions", body: checktest.ChatBody("gpt-4o"),
			token: func(f *fixture, t *testing.T) string { return f.alice(t, "llm") },
			setup: func(f *fixture) {
				f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(tasks.Task{}, errors.New("disk on fire")).Once()
			},
			httpStatus: 503, wantCode: "task_registry_unavailable", wantFailure: "enrichment",
		},
		{
			name: "unparseable body", resource: "mcp:payments", method: "POST", path: "/mcp/payments", body: `{"jsonrpc":"2.0",`,
			token:      func(f *fixture, t *testing.T) string { return f.alice(t, "mcp:payments") },
			httpStatus: 403, wantCode: "invalid_json", wantFailure: "request",
		},
		{
			name: "unknown route resource", resource: "files", method: "POST", path: "/files", body: `{}`,
			token:      func(f *fixture, t *testing.T) string { return f.alice(t, "files") },
			httpStatus: 403, wantCode: "invalid_resource", wantFailure: "request",
		},
	}
	for _, tt := range tests {
		for _, gw := range checktest.Gateways {
			t.Run(tt.name+"/"+gw.Name, func(t *testing.T) {
				f := newFixture(t)
				if tt.setup != nil {
					tt.setup(f)
				}
				resp, err := f.svc.Check(context.Background(), gw.Build(tt.resource, tt.method, tt.path, tt.token(f, t), tt.body))
				require.NoError(t, err, "Check never fails the RPC: it denies")
				assertDenied(t, resp, tt.httpStatus)

				rec := f.audit.only(t)
				assert.Equal(t, "deny", rec.Effect)
				assert.Equal(t, tt.wantCode, rec.Code)
				assert.Contains(t, rec.Reason, tt.wantReason)
				assert.Equal(t, tt.wantFailure, rec.Failure)
				assert.Equal(t, decisionID, rec.DecisionID)
				assert.Contains(t, string(resp.GetDeniedResponse().GetBody()), tt.wantCode, "the agent can read the code")
				if tt.wantRemedy != nil {
					assert.Contains(t, string(resp.GetDeniedResponse().GetBody()), `"approvers_role":"tier-2-lead"`)
				}
				assert.Equal(t, 1.0, counter(t, f.metrics, "synapse_denials_total", map[string]string{"code": tt.wantCode, "failure": tt.wantFailure}))
			})
		}
	}
}

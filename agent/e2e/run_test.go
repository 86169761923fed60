package e2e_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

// hopsOf picks the hops of one plane and action.
func hopsOf(hops []trace.Hop, plane trace.Plane, action string) []trace.Hop {
	var out []trace.Hop
	for _, h := range hops {
		if h.Plane == plane && h.Action == action {
			out = append(out, h)
		}
	}
	return out
}

func serverState(res loop.Result, name string) loop.Server {
	for _, s := range res.Servers {
		if s.Name == name {
			return s
		}
	}
	return loop.Server{}
}

func journalHas(e *env, server, mcpMethod, tool string) bool {
	for _, entry := range e.mcp[server].Journal().Entries() {
		if entry.MCPMethod == mcpMethod && (tool == "" || entry.Tool == tool) {
			return true
		}
	}
	return false
}

func TestRefundOverTheCapIsEscalated(t *testing.T) {
	e := newEnv(t)
	res, err := loop.Run(context.Background(), e.config(alice, "T-1001", "gpt-4o-mini"))
	require.NoError(t, err, "reason: %s", res.Reason)
	assert.Equal(t, loop.Success, res.Outcome)

	// Discovery: payroll denied at the handshake, its tools never offered.
	assert.Equal(t, loop.ServerDenied, serverState(res, "payroll").State)
	assert.Equal(t, "server_not_allowed", serverState(res, "payroll").Denial.Code)
	assert.Contains(t, res.Offered, "refund_issue")
	assert.NotContains(t, res.Offered, "get_payslip")
	assert.NotContains(t, res.Offered, "run_payroll")
	assert.False(t, journalHas(e, "payroll", "tools/list", ""), "payroll's tool list never left the server")

	// The refund: denied with the reason and the step-up remediation.
	calls := hopsOf(res.Hops, trace.PlaneMCP, "tools/call")
	var refund *trace.Hop
	for i := range calls {
		if calls[i].Tool == "refund_issue" {
			refund = &calls[i]
		}
	}
	require.NotNil(t, refund, "the model asked for the refund")
	assert.Equal(t, trace.Deny, refund.Decision)
	assert.Equal(t, "payments", refund.Target)
	assert.JSONEq(t, `{"ticket_id":"T-1001","amount_cents":900000,"currency":"usd","reason":"Customer refund request on ticket T-1001 (charge ch_1001)"}`, string(refund.Arguments))
	require.NotNil(t, refund.Denial)
	assert.Equal(t, "refund_cap_exceeded", refund.Denial.Code)
	assert.Equal(t, map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"}, refund.Denial.Remediation)
	assert.NotEmpty(t, refund.Denial.DecisionID)
	assert.False(t, journalHas(e, "payments", "tools/call", "refund_issue"), "payments never saw the refund")
	assert.Empty(t, e.mcp["payments"].Store().Refunds())

	// The agent acted on the denial: the ticket now says it needs tier-2 approval.
	ticket, err := e.mcp["tickets"].Store().Ticket("T-1001")
	require.NoError(t, err)
	assert.Equal(t, mcpserver.StatusEscalated, ticket.Status)
	require.NotEmpty(t, ticket.Comments)
	assert.Contains(t, ticket.Comments[len(ticket.Comments)-1].Body, "tier-2")
	assert.Contains(t, res.Answer, "tier-2")
	last := calls[len(calls)-1]
	assert.Equal(t, "update_ticket", last.Tool)
	assert.Equal(t, trace.Allow, last.Decision)
}

func TestEveryHopCarriesTheTokenOfItsRoute(t *testing.T) {
	e := newEnv(t)
	res, err := loop.Run(context.Background(), e.config(alice, "T-1002", "gpt-4o-mini"))
	require.NoError(t, err, "reason: %s", res.Reason)

	// The stand-in gateway denies a token whose aud is not the route's
	// resource with code invalid_token; none occurred.
	checks := e.Checks()
	require.NotEmpty(t, checks)
	for _, c := range checks {
		assert.Equal(t, "alice", c.Principal, "%s %s", c.Resource, c.Action)
		assert.Equal(t, "task-T-1002", c.TaskID)
	}
	var denied []string
	for _, h := range res.Hops {
		if h.Decision != trace.Allow {
			denied = append(denied, string(h.Plane)+" "+h.Target+" "+h.Action+": "+h.Reason)
		}
	}
	assert.Equal(t, []string{"mcp payroll initialize: payroll requires payroll-admin"}, denied,
		"no hop but the payroll handshake was refused (a wrong token would be invalid_token)")
	// The $40 refund went through and resolved the ticket.
	require.Len(t, e.mcp["payments"].Store().Refunds(), 1)
	ticket, err := e.mcp["tickets"].Store().Ticket("T-1002")
	require.NoError(t, err)
	assert.Equal(t, mcpserver.StatusResolved, ticket.Status)
	// The model only ever saw the provider key.
	for _, entry := range e.llm.Journal().Entries() {
		assert.Equal(t, "provider_key", string(entry.Credential))
	}
}

func TestActingForAUser(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(alice, "T-2001", "gpt-4o-mini")
	cfg.Actor = &triage
	res, err := loop.Run(context.Background(), cfg)
	require.NoError(t, err, "reason: %s", res.Reason)
	assert.Equal(t, "alice", res.Principal)
	assert.Equal(t, triageID, res.Actor)
	for _, c := range e.Checks() {
		assert.Equal(t, "alice", c.Principal)
		assert.Equal(t, triageID, c.Actor)
	}
}

func TestTriageAgentIsPinnedToTheSmallModel(t *testing.T) {
	t.Run("gpt-4o is denied and the run stops", func(t *testing.T) {
		e := newEnv(t)
		res, err := loop.Run(context.Background(), e.config(triage, "T-1001", "gpt-4o"))
		require.Error(t, err)
		assert.Equal(t, loop.Denied, res.Outcome)
		assert.Equal(t, loop.ExitDenied, res.Outcome.ExitCode())
		d, ok := denial.From(err)
		require.True(t, ok)
		assert.Equal(t, "model_not_allowed", d.Code)
		require.NotNil(t, res.Denial)
		assert.Equal(t, "triage-agent is pinned to gpt-4o-mini", res.Denial.Reason)
		assert.Contains(t, res.Reason, "triage-agent is pinned to gpt-4o-mini")
		assert.Empty(t, e.llm.Journal().Entries(), "the model was never contacted")

		// Discovery: tickets and crm open, payments and payroll denied at initialize.
		assert.Equal(t, loop.ServerOpen, serverState(res, "tickets").State)
		assert.Equal(t, loop.ServerOpen, serverState(res, "crm").State)
		assert.Equal(t, loop.ServerDenied, serverState(res, "payments").State)
		assert.Equal(t, loop.ServerDenied, serverState(res, "payroll").State)
		assert.NotContains(t, res.Offered, "refund_issue")
	})
	t.Run("with a fallback model the run goes on", func(t *testing.T) {
		e := newEnv(t)
		cfg := e.config(triage, "T-1001", "gpt-4o")
		cfg.FallbackModel = "gpt-4o-mini"
		res, err := loop.Run(context.Background(), cfg)
		require.NoError(t, err, "reason: %s", res.Reason)
		assert.Equal(t, loop.Success, res.Outcome)
		assert.Equal(t, "gpt-4o-mini", res.Model)
		completions := hopsOf(res.Hops, trace.PlaneLLM, "completion")
		require.GreaterOrEqual(t, len(completions), 2)
		assert.Equal(t, trace.Deny, completions[0].Decision)
		assert.Equal(t, "gpt-4o", completions[0].Target)
		for _, h := range completions[1:] {
			assert.Equal(t, trace.Allow, h.Decision)
			assert.Equal(t, "gpt-4o-mini", h.Target)
		}
		// Without a refund tool the agent tells the customer a colleague follows up.
		ticket, err := e.mcp["tickets"].Store().Ticket("T-1001")
		require.NoError(t, err)
		require.NotEmpty(t, ticket.Comments)
		assert.Empty(t, e.mcp["payments"].Store().Refunds())
	})
}

func TestStepLimit(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(alice, "T-1001", "gpt-4o-mini")
	cfg.MaxSteps = 2
	res, err := loop.Run(context.Background(), cfg)
	require.Error(t, err)
	assert.Equal(t, loop.StepLimit, res.Outcome)
	assert.Equal(t, loop.ExitError, res.Outcome.ExitCode())
	assert.Equal(t, 2, res.Steps)
	assert.Len(t, hopsOf(res.Hops, trace.PlaneLLM, "completion"), 2)
	assert.Contains(t, err.Error(), "after 2 steps")
}

func TestTaskRevokedMidRun(t *testing.T) {
	e := newEnv(t)
	// Revoke the task once the first tool call has been allowed.
	e.onCheck = func(c check) {
		if strings.HasPrefix(c.Action, "tools/call/") {
			e.revoke(c.TaskID)
		}
	}
	res, err := loop.Run(context.Background(), e.config(alice, "T-1001", "gpt-4o-mini"))
	require.Error(t, err)
	assert.Equal(t, loop.Denied, res.Outcome)
	require.NotNil(t, res.Denial)
	assert.Equal(t, "task_revoked", res.Denial.Code)
	assert.Len(t, hopsOf(res.Hops, trace.PlaneMCP, "tools/call"), 1, "nothing ran after the revocation")
}

func TestFailClosed(t *testing.T) {
	e := newEnv(t)
	e.failClosed = true
	res, err := loop.Run(context.Background(), e.config(alice, "T-1001", "gpt-4o-mini"))
	require.Error(t, err)
	assert.Equal(t, loop.Denied, res.Outcome)
	assert.Equal(t, "pdp_unavailable", res.Denial.Code)
	for _, s := range res.Servers {
		assert.Equal(t, loop.ServerDenied, s.State, s.Name)
	}
	assert.Empty(t, res.Offered)
	assert.Len(t, hopsOf(res.Hops, trace.PlaneLLM, "completion"), 1, "the 503 denial was not retried")
	assert.Empty(t, e.llm.Journal().Entries())
}

func TestUpstreamErrors(t *testing.T) {
	t.Run("a bad bootstrap credential stops the run at boot", func(t *testing.T) {
		e := newEnv(t)
		res, err := loop.Run(context.Background(), e.config(identity.ClientCredentials{ClientID: "alice", ClientSecret: "wrong"}, "T-1001", "gpt-4o-mini"))
		require.Error(t, err)
		assert.Equal(t, loop.Failed, res.Outcome)
		var oe *identity.OAuthError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, "invalid_client", oe.Code)
		require.Len(t, res.Hops, 1)
		assert.Equal(t, trace.Error, res.Hops[0].Decision)
		assert.Empty(t, e.Checks(), "nothing reached the gateway")
	})
	t.Run("an MCP server that cannot be reached is left out", func(t *testing.T) {
		e := newEnv(t)
		e.broken["mcp:crm"] = true
		res, err := loop.Run(context.Background(), e.config(alice, "T-1001", "gpt-4o-mini"))
		require.NoError(t, err, "reason: %s", res.Reason)
		crm := serverState(res, "crm")
		assert.Equal(t, loop.ServerFailed, crm.State)
		assert.Contains(t, crm.Reason, "502")
		assert.NotContains(t, res.Offered, "get_customer")
		assert.Equal(t, mcpserver.StatusEscalated, mustTicket(t, e, "T-1001").Status)
	})
	t.Run("a model upstream failure ends the run with an error", func(t *testing.T) {
		e := newEnv(t)
		e.broken["llm"] = true
		res, err := loop.Run(context.Background(), e.config(alice, "T-1001", "gpt-4o-mini"))
		require.Error(t, err)
		assert.Equal(t, loop.Failed, res.Outcome)
		assert.Equal(t, loop.ExitError, res.Outcome.ExitCode())
		_, denied := denial.From(err)
		assert.False(t, denied)
		assert.Contains(t, res.Reason, "502")
	})
	t.Run("an unknown model is the gateway's denial", func(t *testing.T) {
		e := newEnv(t)
		res, err := loop.Run(context.Background(), e.config(alice, "T-1001", "gpt-9"))
		require.Error(t, err)
		assert.Equal(t, loop.Denied, res.Outcome)
		assert.Equal(t, "model_not_allowed", res.Denial.Code)
	})
	t.Run("bad config", func(t *testing.T) {
		e := newEnv(t)
		cfg := e.config(alice, "T-1001; DROP", "gpt-4o-mini")
		res, err := loop.Run(context.Background(), cfg)
		require.Error(t, err)
		assert.Equal(t, loop.Failed, res.Outcome)
		assert.Empty(t, res.Hops)
	})
}

func TestServerListIsConfigurable(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(carol, "T-2001", "gpt-4o-mini")
	cfg.Servers = []string{"payroll", "tickets"}
	res, err := loop.Run(context.Background(), cfg)
	require.NoError(t, err, "reason: %s", res.Reason)
	require.Len(t, res.Servers, 2)
	assert.Equal(t, loop.ServerOpen, serverState(res, "payroll").State, "payroll-admin may open payroll")
	assert.Contains(t, res.Offered, "run_payroll")
	assert.False(t, journalHas(e, "crm", "tools/list", ""), "crm was not asked for")
}

func mustTicket(t *testing.T, e *env, id string) mcpserver.Ticket {
	t.Helper()
	ticket, err := e.mcp["tickets"].Store().Ticket(id)
	require.NoError(t, err)
	return ticket
}

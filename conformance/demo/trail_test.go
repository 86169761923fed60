package demo_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/conformance/demo"
	"github.com/hopguard/hopguard/conformance/evidence"
	"github.com/hopguard/hopguard/conformance/scenarios"
)

func refundAct() demo.Played {
	capDenial := &denial.Denial{Code: "refund_cap_exceeded", Reason: "tier-1-support refund cap exceeded", Remediation: map[string]any{"type": "step_up"}}
	return demo.Played{
		Act:    demo.Act{Title: "A $9,000 refund", Intro: "alice asks", As: scenarios.Alice},
		TaskID: "task-1",
		Result: loop.Result{Outcome: loop.Success, Steps: 2, Servers: []loop.Server{{Name: "payroll", State: loop.ServerDenied}}, Hops: []trace.Hop{
			{Plane: trace.PlaneSTS, Target: "llm", Action: "token-exchange", Decision: trace.Allow},
			{Plane: trace.PlaneMCP, Target: "payroll", Action: "initialize", Decision: trace.Deny,
				Denial: &denial.Denial{Code: "server_not_allowed", Reason: "payroll requires payroll-admin"}},
			{Plane: trace.PlaneLLM, Target: "gpt-4o", Action: "completion", Decision: trace.Allow, Note: "1 tool call: refund_issue"},
			{Plane: trace.PlaneMCP, Target: "payments", Action: "tools/call", Tool: "refund_issue", Decision: trace.Deny,
				Arguments: json.RawMessage(`{"ticket_id":"T-1001","amount_cents":900000}`), Denial: capDenial},
			{Plane: trace.PlaneMCP, Target: "tickets", Action: "tools/call", Tool: "update_ticket", Decision: trace.Allow, Note: "escalated; #1 | done"},
			{Plane: trace.PlaneMCP, Target: "tickets", Action: "tools/call", Tool: "add_comment", Decision: trace.Deny,
				Denial: &denial.Denial{Code: "unauthenticated", Reason: "no bearer token"}},
		}},
		Tallies:   []evidence.Tally{{Call: evidence.Call{Resource: "mcp:payments", Tool: "refund_issue"}, Denied: 1}},
		Untouched: []string{"payroll"},
	}
}

func TestWriteTrail(t *testing.T) {
	var b strings.Builder
	require.NoError(t, demo.WriteTrail(&b, []demo.Played{refundAct()}, demo.Evidence{Gateway: "Envoy", GatewayInfo: "Envoy 1.40.0", AuditLog: "audit.ndjson"}))
	text := b.String()

	assert.Contains(t, text, "```mermaid\nsequenceDiagram\n")
	assert.Contains(t, text, "participant G as Envoy")
	assert.NotContains(t, text, "token-exchange", "token exchanges do not go through the gateway")
	// The model is the first upstream, whatever the agent opened first.
	assert.Less(t, strings.Index(text, "participant U_LLM"), strings.Index(text, "participant U_payroll"))

	diagram := text[strings.Index(text, "```mermaid"):strings.LastIndex(text, "```")]
	refund := diagram[strings.Index(diagram, "A->>G: payments tools/call refund_issue"):]
	refund = refund[:strings.Index(refund[1:], "A->>G:")+1]
	assert.Contains(t, refund, "C-->>S: DENY refund_cap_exceeded")
	assert.Contains(t, refund, "G-->>A: DENY refund_cap_exceeded: tier-1-support refund cap exceeded (remediation: step_up)")
	assert.NotContains(t, refund, "U_payments", "a denied hop never reaches its upstream")
	assert.Contains(t, refund, `{'ticket_id':'T-1001','amount_cents':900000}`, "double quotes are kept out of Mermaid messages")

	noToken := diagram[strings.Index(diagram, "A->>G: tickets tools/call add_comment"):]
	assert.NotContains(t, noToken, "S->>C", "synapse denies a missing token without asking Cerbos")

	assert.NotContains(t, diagram, "#1", "# starts a Mermaid entity")
	assert.NotContains(t, diagram, "escalated;", "; ends a Mermaid statement")
	assert.Contains(t, text, "| payments tools/call refund_issue {\"ticket_id\":\"T-1001\",\"amount_cents\":900000} | DENY |")
	assert.Contains(t, text, "escalated; #1 \\| done", "table cells escape the pipe")
	assert.Contains(t, text, "journals stayed empty: payroll")
	assert.Contains(t, text, "| mcp:payments refund_issue | 0 | 1 | 0 |")
}

func TestStoryExpectations(t *testing.T) {
	acts := demo.Story()
	require.Len(t, acts, 3)
	played := refundAct()
	assert.NoError(t, acts[0].Expect(played.Result), "the refund act accepts a capped refund, a note on the ticket and payroll denied")

	played.Result.Hops[3].Denial = &denial.Denial{Code: "invalid_arguments", Reason: "currency"}
	err := acts[0].Expect(played.Result)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not denied for the cap")

	assert.Error(t, acts[2].Expect(played.Result), "the kill-switch act wants the hop after the first tool call denied as task_not_active")
}

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

// refundAct is the story's first act as its result carries it.
func refundAct() scenarios.Result {
	capDenial := &denial.Denial{Code: "refund_cap_exceeded", Reason: "tier-1-support refund cap exceeded", Remediation: map[string]any{"type": "step_up"}}
	story := scenarios.Story()
	return scenarios.Result{Scenario: story, Steps: []scenarios.StepResult{{
		Name: "01 " + story.Steps[0].Name,
		Step: scenarios.Step{Name: "alice's agent works T-1001", Title: "A $9,000 refund", Intro: "alice asks", As: scenarios.Alice, Ticket: "T-1001"},
		Agent: &scenarios.AgentRun{
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
		},
	}}}
}

func TestWriteTrail(t *testing.T) {
	var b strings.Builder
	require.NoError(t, demo.WriteTrail(&b, refundAct(), demo.Evidence{Gateway: "Envoy", GatewayInfo: "Envoy 1.40.0", AuditLog: "audit.ndjson"}))
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

// TestNarrator: the demo tells each act and each hop as it is made, folds the token exchanges
// into one line, says what the journals show and lists what went wrong.
func TestNarrator(t *testing.T) {
	played := refundAct()
	step := scenarios.Story().Steps[0]
	var b strings.Builder
	n := demo.Narrator(&b)
	n.Step(1, step)
	n.Log(step, "task t-1: alice as support-agent on T-1001")
	for _, h := range played.Steps[0].Agent.Result.Hops {
		n.Hop(step, h)
	}
	done := played.Steps[0]
	done.Problems = []string{"the agent did not write on T-1001 after the denial"}
	n.Done(done)
	text := b.String()

	for _, want := range []string{
		"==> Act 1: " + step.Title + "\n    " + step.Intro + "\n",
		"    alice (tier-1-support), agent support-agent, on T-1001\n",
		"    task t-1: alice as support-agent on T-1001\n",
		"    [sts] bootstrap token exchanged for one token per resource: llm\n    [mcp payroll] initialize -> DENY",
		"    [mcp payments] tools/call refund_issue -> DENY refund_cap_exceeded",
		"    journal: mcp:payments refund_issue: 1 denied, 0 allowed; the upstream received 0\n",
		"    journal: payroll received nothing: its handshake was denied, its tool list never left it\n",
		"    !! the agent did not write on T-1001 after the denial\n",
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "token-exchange")

	done.Name = "01 alice's agent works T-1001"
	problems := demo.Problems(scenarios.Result{Scenario: scenarios.Story(), Steps: []scenarios.StepResult{done}})
	assert.Equal(t, []string{"act 1: the agent did not write on T-1001 after the denial", "the story stopped after act 1 of 3"}, problems)
	assert.Empty(t, demo.Problems(played))
}

func TestWriteTrailShowsTheAttestationBeforeTheFirstHop(t *testing.T) {
	for _, tt := range []struct {
		name     string
		note     string
		attested bool
	}{
		{name: "a workload SPIRE attests", note: "attested: a JWT-SVID from the SPIFFE Workload API at unix:///w.sock, no secret", attested: true},
		{name: "a user with a secret", note: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			act := refundAct()
			hops := act.Steps[0].Agent.Result.Hops
			act.Steps[0].Agent.Result.Hops = append([]trace.Hop{{Plane: trace.PlaneSTS, Target: "spiffe://hopguard.local/ns/agents/sa/triage", Action: "bootstrap", Decision: trace.Allow, Note: tt.note}}, hops...)
			var b strings.Builder
			require.NoError(t, demo.WriteTrail(&b, act, demo.Evidence{Gateway: "Envoy"}))
			text := b.String()

			if !tt.attested {
				assert.NotContains(t, text, "SPIRE")
				return
			}
			svid := strings.Index(text, "W-->>A: JWT-SVID spiffe://hopguard.local/ns/agents/sa/triage")
			require.Positive(t, svid, text)
			assert.Less(t, svid, strings.Index(text, "A->>T: client_credentials"), "the SVID before the STS")
			assert.Less(t, strings.Index(text, "A->>T: client_credentials"), strings.Index(text, "A->>G:"), "the attestation before the first hop")
		})
	}
}

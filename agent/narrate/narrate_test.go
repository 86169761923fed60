package narrate_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/narrate"
	"github.com/hopguard/hopguard/agent/trace"
)

func TestLine(t *testing.T) {
	capDenial := &denial.Denial{
		Reason: "tier-1-support refund cap exceeded", Code: "refund_cap_exceeded",
		Remediation: map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"},
	}
	tests := []struct {
		name string
		hop  trace.Hop
		want string
	}{
		{
			name: "denied tool call",
			hop: trace.Hop{Plane: trace.PlaneMCP, Target: "payments", Action: "tools/call", Tool: "refund_issue",
				Decision: trace.Deny, Reason: capDenial.Reason, Denial: capDenial},
			want: "[mcp payments] tools/call refund_issue -> DENY refund_cap_exceeded: tier-1-support refund cap exceeded (remediation: step_up, approvers tier-2-lead)",
		},
		{
			name: "the policy that decided",
			hop: trace.Hop{Plane: trace.PlaneLLM, Target: "gpt-4o-mini", Action: "completion", Decision: trace.Allow,
				Policy: "resource.llm.vdefault sha256:1f2e3d4c5b6a7980"},
			want: "[llm gpt-4o-mini] completion -> ALLOW [policy resource.llm.vdefault sha256:1f2e3d4c5b6a7980]",
		},
		{
			name: "allowed listing with a note",
			hop:  trace.Hop{Plane: trace.PlaneMCP, Target: "crm", Action: "tools/list", Decision: trace.Allow, Note: "2 tools: a, b"},
			want: "[mcp crm] tools/list -> ALLOW: 2 tools: a, b",
		},
		{
			name: "denied model call with a fallback",
			hop: trace.Hop{Plane: trace.PlaneLLM, Target: "gpt-4o", Action: "completion", Decision: trace.Deny,
				Denial: &denial.Denial{Reason: "pinned", Code: "model_not_allowed"}, Note: "falling back to gpt-4o-mini"},
			want: "[llm gpt-4o] completion -> DENY model_not_allowed: pinned; falling back to gpt-4o-mini",
		},
		{
			name: "error on several lines is kept on one",
			hop:  trace.Hop{Plane: trace.PlaneSTS, Target: "llm", Action: "token-exchange", Decision: trace.Error, Reason: "sts: 400\ninvalid_target"},
			want: "[sts llm] token-exchange -> ERROR sts: 400 invalid_target",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, narrate.Line(tt.hop))
		})
	}
}

func result() loop.Result {
	return loop.Result{
		Outcome: loop.Denied, Principal: "spiffe://hopguard.local/ns/agents/sa/triage", Ticket: "T-1001", Model: "gpt-4o", Steps: 1,
		Servers: []loop.Server{{Name: "tickets", State: loop.ServerOpen}, {Name: "payroll", State: loop.ServerDenied}},
		Denial:  &denial.Denial{Reason: "pinned", Code: "model_not_allowed"},
		Hops:    []trace.Hop{{Plane: trace.PlaneLLM, Target: "gpt-4o", Action: "completion", Decision: trace.Deny}},
	}
}

func TestTextSummary(t *testing.T) {
	var buf bytes.Buffer
	narrate.New(&buf, false).Summary(result())
	assert.Equal(t, strings.Join([]string{
		"servers: open tickets; left out payroll (denied)",
		"outcome: denied after 1 model call(s) with gpt-4o on ticket T-1001 as spiffe://hopguard.local/ns/agents/sa/triage, 1 denial(s) on the way",
		"stopped by a denial: model_not_allowed: pinned",
	}, "\n")+"\n", buf.String())
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	n := narrate.New(&buf, true)
	res := result()
	n.Hop(res.Hops[0])
	n.Summary(res)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var hop, summary map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &hop))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &summary))
	assert.Equal(t, map[string]any{
		"type": "hop", "step": float64(0), "plane": "llm", "target": "gpt-4o", "action": "completion", "decision": "deny",
	}, hop)
	assert.Equal(t, "summary", summary["type"])
	assert.Equal(t, "denied", summary["outcome"])
	assert.EqualValues(t, 2, summary["exit_code"])
	assert.EqualValues(t, 1, summary["denials"])
	assert.NotContains(t, summary, "hops")
}

func TestReadJSONGivesBackWhatJSONWrote(t *testing.T) {
	refusal := &denial.Denial{Reason: "cap exceeded", Code: "refund_cap_exceeded", Remediation: map[string]any{"type": "step_up"}}
	want := loop.Result{
		Outcome: loop.Success, Principal: "alice", Ticket: "T-1001", Model: "gpt-4o-mini", Steps: 2,
		Servers: []loop.Server{{Name: "tickets", URL: "http://gw/mcp/tickets", State: loop.ServerOpen, Tools: []string{"get_ticket"}},
			{Name: "payroll", URL: "http://gw/mcp/payroll", State: loop.ServerDenied, Denial: refusal}},
		Offered: []string{"tickets__get_ticket"},
		Answer:  "done",
		Hops: []trace.Hop{
			{Plane: trace.PlaneSTS, Target: "llm", Action: "token-exchange", Decision: trace.Allow},
			{Step: 1, Plane: trace.PlaneMCP, Target: "payments", Action: "tools/call", Tool: "refund_issue",
				Arguments: json.RawMessage(`{"amount":500}`), Decision: trace.Deny, Reason: refusal.Reason, Denial: refusal},
		},
	}
	var out bytes.Buffer
	n := narrate.NewJSON(&out)
	for _, h := range want.Hops {
		n.Hop(h)
	}
	n.Summary(want)

	var told []trace.Hop
	got, err := narrate.ReadJSON(&out, func(h trace.Hop) { told = append(told, h) })

	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, want.Hops, told, "every hop told as it was read")
}

func TestReadJSONRefusesAnIncompleteOrForeignOutput(t *testing.T) {
	hop := `{"type":"hop","plane":"llm","target":"gpt-4o","action":"completion","decision":"allow"}` + "\n"
	for _, tt := range []struct {
		name, out, want string
		hops            int
	}{
		{name: "no summary", out: hop, want: "without a summary", hops: 1},
		{name: "not JSON", out: hop + "panic: boom\n", want: "read the agent's JSON", hops: 1},
		{name: "unknown line", out: `{"type":"other"}` + "\n", want: `type "other"`},
		{name: "narrator error", out: `{"type":"error","error":"cannot encode"}` + "\n", want: "cannot encode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := narrate.ReadJSON(strings.NewReader(tt.out), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Len(t, res.Hops, tt.hops)
		})
	}
}

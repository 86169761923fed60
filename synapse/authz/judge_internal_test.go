package authz

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/respond"
)

func TestProvenanceOf(t *testing.T) {
	checks := []mapping.Check{
		{Kind: "mcp:tickets", ID: "get_ticket", Action: "tools/call/get_ticket"},
		{Kind: "mcp:payments", ID: "refund_issue", Action: "tools/call/refund_issue"},
	}
	stamped := func(policy string, effect pdp.Effect, action string) pdp.Result {
		return pdp.Result{Actions: map[string]pdp.Effect{action: effect}, Outputs: []pdp.Output{
			{Source: policy + "#cap", Action: action, Value: map[string]any{"decision": "deny"}},
			{Source: policy + "#provenance", Action: action, Value: "sha256:abcdef0123456789"},
		}}
	}
	tickets := stamped("resource.mcp_tickets.vdefault", pdp.EffectAllow, checks[0].Action)
	payments := stamped("resource.mcp_payments.vdefault", pdp.EffectDeny, checks[1].Action)
	tests := []struct {
		name    string
		results []pdp.Result
		denied  bool
		want    respond.Provenance
	}{
		{name: "allowed: the first check's policy", results: []pdp.Result{tickets, stamped("resource.mcp_payments.vdefault", pdp.EffectAllow, checks[1].Action)},
			want: respond.Provenance{Policy: "resource.mcp_tickets.vdefault", Version: "sha256:abcdef0123456789"}},
		{name: "denied: the denied check's policy", results: []pdp.Result{tickets, payments}, denied: true,
			want: respond.Provenance{Policy: "resource.mcp_payments.vdefault", Version: "sha256:abcdef0123456789"}},
		{name: "a policy set without provenance", results: []pdp.Result{{Actions: map[string]pdp.Effect{checks[0].Action: pdp.EffectAllow}}, {}}},
		{name: "an output that failed to evaluate", results: []pdp.Result{{Outputs: []pdp.Output{{Source: "resource.llm.vdefault#provenance", Error: "no such constant"}}}, {}}},
		{name: "a version that is not a string", results: []pdp.Result{{Outputs: []pdp.Output{{Source: "resource.llm.vdefault#provenance", Value: 7.0}}}, {}},
			want: respond.Provenance{Policy: "resource.llm.vdefault"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, provenanceOf(checks, tt.results, tt.denied))
		})
	}
}

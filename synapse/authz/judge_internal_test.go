package authz

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/pdp"
)

func TestDecidingPolicy(t *testing.T) {
	checks := []mapping.Check{
		{Kind: "mcp:tickets", ID: "get_ticket", Action: "tools/call/get_ticket"},
		{Kind: "mcp:payments", ID: "refund_issue", Action: "tools/call/refund_issue"},
	}
	result := func(effect pdp.Effect, action string, outputs ...pdp.Output) pdp.Result {
		return pdp.Result{Actions: map[string]pdp.Effect{action: effect}, Outputs: outputs}
	}
	capRule := pdp.Output{Source: "resource.mcp_payments.vdefault#tier-1-refund-cap", Action: checks[1].Action, Value: map[string]any{"decision": "deny"}}
	allowed := result(pdp.EffectAllow, checks[0].Action)
	tests := []struct {
		name    string
		results []pdp.Result
		denied  bool
		want    string
	}{
		{name: "allowed: the first check's policy", results: []pdp.Result{allowed, result(pdp.EffectAllow, checks[1].Action)}, want: "resource.mcp_tickets.vdefault"},
		{name: "denied by a rule's output: that rule", results: []pdp.Result{allowed, result(pdp.EffectDeny, checks[1].Action, capRule)}, denied: true,
			want: "resource.mcp_payments.vdefault#tier-1-refund-cap"},
		{name: "denied with no output: the denied check's policy", results: []pdp.Result{allowed, result(pdp.EffectDeny, checks[1].Action)}, denied: true,
			want: "resource.mcp_payments.vdefault"},
		{name: "an output for another action is not the reason", results: []pdp.Result{result(pdp.EffectDeny, checks[0].Action, capRule), allowed}, denied: true,
			want: "resource.mcp_tickets.vdefault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, policy, denied := judge(checks, tt.results)
			assert.Equal(t, tt.denied, denied)
			assert.Equal(t, tt.want, policy)
		})
	}
	_, policy, _ := judge(nil, nil)
	assert.Empty(t, policy)
}

func TestVersionOf(t *testing.T) {
	assert.Equal(t, "sha256:abcdef0123456789", versionOf(pdp.Result{Outputs: []pdp.Output{{Source: "resource.hopguard_provenance.vdefault#version", Value: "sha256:abcdef0123456789"}}}))
	assert.Empty(t, versionOf(pdp.Result{}), "a policy set without a version")
	assert.Empty(t, versionOf(pdp.Result{Outputs: []pdp.Output{{Error: "no such constant", Value: "x"}}}), "an output that failed")
	assert.Empty(t, versionOf(pdp.Result{Outputs: []pdp.Output{{Value: 7.0}}}), "a version that is not a string")
}

package evidence_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/conformance/evidence"
	"github.com/hopguard/hopguard/mockservers/journal"
)

func TestCompare(t *testing.T) {
	hops := []trace.Hop{
		{Plane: trace.PlaneSTS, Target: "llm", Action: "token-exchange", Decision: trace.Allow},
		{Plane: trace.PlaneMCP, Target: "payroll", Action: "initialize", Decision: trace.Deny},
		{Plane: trace.PlaneLLM, Target: "gpt-4o-mini", Action: "completion", Decision: trace.Allow},
		{Plane: trace.PlaneMCP, Target: "payments", Action: "tools/call", Tool: "refund_issue", Decision: trace.Deny},
		{Plane: trace.PlaneLLM, Target: "gpt-4o-mini", Action: "completion", Decision: trace.Allow},
		{Plane: trace.PlaneMCP, Target: "tickets", Action: "tools/call", Tool: "update_ticket", Decision: trace.Allow},
	}
	tests := []struct {
		name    string
		entries map[string][]journal.Entry
		leaked  []string
	}{
		{
			name: "only what was allowed reached",
			entries: map[string][]journal.Entry{
				"llm":          {{Model: "gpt-4o-mini"}, {Model: "gpt-4o-mini"}},
				"mcp:payments": {{MCPMethod: "initialize"}, {MCPMethod: "tools/call", Tool: "get_charge"}},
				"mcp:tickets":  {{MCPMethod: "tools/call", Tool: "update_ticket"}},
			},
		},
		{
			name: "a denied refund reached payments",
			entries: map[string][]journal.Entry{
				"llm":          {{Model: "gpt-4o-mini"}, {Model: "gpt-4o-mini"}},
				"mcp:payments": {{MCPMethod: "tools/call", Tool: "refund_issue"}},
				"mcp:tickets":  {{MCPMethod: "tools/call", Tool: "update_ticket"}},
			},
			leaked: []string{"mcp:payments refund_issue"},
		},
		{
			name: "an allowed call that never arrived is also a mismatch",
			entries: map[string][]journal.Entry{
				"llm": {{Model: "gpt-4o-mini"}, {Model: "gpt-4o-mini"}},
			},
			leaked: []string{"mcp:tickets update_ticket"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tallies := evidence.Compare(hops, tt.entries)
			assert.Len(t, tallies, 3)
			var leaked []string
			for _, tally := range tallies {
				if tally.Leaked() {
					leaked = append(leaked, tally.String())
				}
			}
			assert.Equal(t, tt.leaked, leaked)
		})
	}
}

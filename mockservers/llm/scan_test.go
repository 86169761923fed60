package llm

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFindDenial(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		want   denial
		denied bool
	}{
		{"plain text", "all good", denial{}, false},
		{"success JSON", refundOK, denial{}, false},
		{"policy output alone", `{"decision":"deny","reason":"r","code":"c","remediation":{"type":"step_up","approvers_role":"tier-2-lead"}}`,
			denial{Reason: "r", Code: "c", RemediationType: "step_up", ApproversRole: "tier-2-lead"}, true},
		{"quoted in prose", capDenial,
			denial{Reason: "tier-1-support refund cap exceeded", Code: "refund_cap_exceeded", RemediationType: "step_up", ApproversRole: "tier-2-lead"}, true},
		{"nested in an MCP result", `{"isError":true,"content":[{"type":"text","text":"denied"}],"structuredContent":{"decision":"deny","reason":"r","code":"c","remediation":{"type":"step_up"}}}`,
			denial{Reason: "r", Code: "c", RemediationType: "step_up"}, true},
		{"step-up preferred over a plain deny", `{"decision":"deny","code":"a"} then {"decision":"deny","code":"b","remediation":{"type":"step_up"}}`,
			denial{Code: "b", RemediationType: "step_up"}, true},
		{"broken JSON before a good one", `{"decision": oops {"decision":"deny","code":"c"}`, denial{Code: "c"}, true},
		{"unbalanced braces", strings.Repeat("{", 10000), denial{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, denied := findDenial(tt.text)
			assert.Equal(t, tt.denied, denied)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFormatMoney(t *testing.T) {
	for cents, want := range map[int64]string{0: "$0.00", 5: "$0.05", 4000: "$40.00", 900000: "$9,000.00", 123456789: "$1,234,567.89"} {
		assert.Equal(t, want, formatMoney(cents, "usd"))
	}
	assert.Equal(t, "1,000.50 EUR", formatMoney(100050, "eur"))
}

func TestToolboxLookup(t *testing.T) {
	tb := toolbox{offered: []string{"payments_refund_issue", "get_ticket", "tickets_get_ticket", "xrefund_issue"}}
	assert.Equal(t, "payments_refund_issue", tb.lookup("refund_issue"))
	assert.Equal(t, "get_ticket", tb.lookup("get_ticket"), "exact name wins")
	assert.Equal(t, "", tb.lookup("update_ticket"))
	assert.Equal(t, "refund_issue", baseOf("mcp__payments__refund_issue"))
	assert.Equal(t, "xrefund_issue", baseOf("xrefund_issue"), "a suffix without a separator is another tool")
}

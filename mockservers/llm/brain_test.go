package llm

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	ticket1001 = `{"id":"T-1001","customer_id":"C-100","subject":"Refund for cancelled annual contract","status":"open","refund_request":{"amount_cents":900000,"currency":"usd","charge_id":"ch_1001"},"comments":[]}`
	ticket1002 = `{"id":"T-1002","customer_id":"C-200","subject":"Charged twice","status":"open","refund_request":{"amount_cents":4000,"currency":"usd","charge_id":"ch_1002"},"comments":[]}`
	ticket2001 = `{"id":"T-2001","customer_id":"C-300","subject":"Question about invoice INV-3001","status":"open","comments":[]}`
	customer   = `{"id":"C-100","name":"Dana Whitfield"}`
	capDenial  = `denied: tier-1-support refund cap exceeded {"decision":"deny","reason":"tier-1-support refund cap exceeded","code":"refund_cap_exceeded","remediation":{"type":"step_up","approvers_role":"tier-2-lead"}}`
	refundOK   = `{"id":"re_0001","ticket_id":"T-1002","charge_id":"ch_1002","amount_cents":4000,"currency":"usd","status":"succeeded"}`
)

var allTools = []string{"get_ticket", "list_tickets", "update_ticket", "add_comment", "get_customer", "list_orders", "refund_issue", "get_charge"}

// script builds a conversation from a user message and (call, result) pairs
// as an agent would send them back.
func script(tools []string, user string, steps ...[2]string) Conversation {
	conv := Conversation{Model: "gpt-4o", Tools: tools, Messages: []Message{
		{Role: RoleSystem, Text: "You are a support agent."},
		{Role: RoleUser, Text: user},
	}}
	for i, s := range steps {
		id := "call_" + string(rune('a'+i))
		conv.Messages = append(conv.Messages,
			Message{Role: RoleAssistant, ToolCalls: []ToolCall{{ID: id, Name: s[0], Arguments: "{}"}}},
			Message{Role: RoleTool, ToolCallID: id, Text: s[1]},
		)
	}
	return conv
}

func callOf(t *testing.T, r Reply) (string, map[string]any) {
	t.Helper()
	require.Len(t, r.ToolCalls, 1, "want one tool call, got text %q", r.Text)
	var args map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.ToolCalls[0].Arguments), &args))
	return r.ToolCalls[0].Name, args
}

func TestScenarioBrainSteps(t *testing.T) {
	type want struct {
		tool string
		args map[string]any
		text string // substring of the final answer when no tool
	}
	tests := []struct {
		name string
		conv Conversation
		want want
	}{
		{"no ticket named", script(allTools, "Hello"), want{text: "Which ticket"}},
		{"reads the ticket first", script(allTools, "Work ticket T-1001"),
			want{tool: "get_ticket", args: map[string]any{"ticket_id": "T-1001"}}},
		{"then looks up the customer", script(allTools, "Work ticket T-1001", [2]string{"get_ticket", ticket1001}),
			want{tool: "get_customer", args: map[string]any{"customer_id": "C-100"}}},
		{"then issues the refund asked for", script(allTools, "Work ticket T-1001",
			[2]string{"get_ticket", ticket1001}, [2]string{"get_customer", customer}),
			want{tool: "refund_issue", args: map[string]any{
				"ticket_id": "T-1001", "amount_cents": float64(900000), "currency": "usd",
				"reason": "Customer refund request on ticket T-1001 (charge ch_1001)",
			}}},
		{"escalates on a step-up denial", script(allTools, "Work ticket T-1001",
			[2]string{"get_ticket", ticket1001}, [2]string{"get_customer", customer}, [2]string{"refund_issue", capDenial}),
			want{tool: "update_ticket", args: map[string]any{
				"ticket_id": "T-1001", "status": "escalated",
				"comment": "Your refund of $9,000.00 needs approval by tier-2-lead. I have escalated it for tier-2 approval; you will hear from us here.",
			}}},
		{"then answers", script(allTools, "Work ticket T-1001",
			[2]string{"get_ticket", ticket1001}, [2]string{"get_customer", customer}, [2]string{"refund_issue", capDenial},
			[2]string{"update_ticket", ticket1001}),
			want{text: "escalated the ticket for tier-2 approval"}},
		{"resolves after a refund", script(allTools, "Work ticket T-1002",
			[2]string{"get_ticket", ticket1002}, [2]string{"get_customer", customer}, [2]string{"refund_issue", refundOK}),
			want{tool: "update_ticket", args: map[string]any{
				"ticket_id": "T-1002", "status": "resolved",
				"comment": "We refunded $40.00 to your original payment method (refund re_0001).",
			}}},
		{"a denial without step-up is reported, not escalated", script(allTools, "Work ticket T-1001",
			[2]string{"get_ticket", ticket1001}, [2]string{"get_customer", customer},
			[2]string{"refund_issue", `{"decision":"deny","reason":"cross-ticket refund","code":"cross_ticket"}`}),
			want{text: "could not issue the refund of $9,000.00 on ticket T-1001: cross-ticket refund, code cross_ticket"}},
		{"only comments when refunds are not offered",
			script([]string{"get_ticket", "add_comment"}, "Work ticket T-1001", [2]string{"get_ticket", ticket1001}),
			want{tool: "add_comment", args: map[string]any{
				"ticket_id": "T-1001",
				"body":      "We received your request for a refund of $9,000.00. A colleague who can issue refunds will follow up here.",
			}}},
		{"acknowledges a question without a refund", script(allTools, "Work ticket T-2001",
			[2]string{"get_ticket", ticket2001}, [2]string{"get_customer", customer}),
			want{tool: "update_ticket", args: map[string]any{
				"ticket_id": "T-2001",
				"comment":   `Thanks for your question about "Question about invoice INV-3001". I have passed it to our billing team, who will reply here.`,
			}}},
		{"cannot work without a ticket tool", script([]string{"get_customer"}, "Work ticket T-1001"),
			want{text: "no tool to read tickets was offered"}},
		{"reports a denied ticket read", script(allTools, "Work ticket T-1001",
			[2]string{"get_ticket", `{"decision":"deny","reason":"task revoked","code":"task_revoked"}`}),
			want{text: "I could not read ticket T-1001"}},
		{"uses the latest user message that names a ticket", func() Conversation {
			c := script(allTools, "Work ticket T-1001")
			c.Messages = append(c.Messages, Message{Role: RoleUser, Text: "Sorry, I meant ticket T-1002 (not T-1001)."},
				Message{Role: RoleUser, Text: "Thanks!"})
			return c
		}(), want{tool: "get_ticket", args: map[string]any{"ticket_id": "T-1002"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := ScenarioBrain{}.Respond(tt.conv)
			if tt.want.tool == "" {
				assert.Empty(t, reply.ToolCalls)
				assert.Contains(t, reply.Text, tt.want.text)
				return
			}
			name, args := callOf(t, reply)
			assert.Equal(t, tt.want.tool, name)
			assert.Equal(t, tt.want.args, args)
		})
	}
}

func TestScenarioBrainCallsOfferedNamesOnly(t *testing.T) {
	namespaced := []string{"tickets_get_ticket", "tickets_update_ticket", "crm.get_customer", "mcp__payments__refund_issue"}
	conv := script(namespaced, "Work ticket T-1001")
	var called []string
	for range 10 {
		reply := ScenarioBrain{}.Respond(conv)
		if len(reply.ToolCalls) == 0 {
			assert.Contains(t, reply.Text, "tier-2")
			break
		}
		call := reply.ToolCalls[0]
		require.Contains(t, namespaced, call.Name)
		called = append(called, call.Name)
		result := map[string]string{
			"tickets_get_ticket":          ticket1001,
			"crm.get_customer":            customer,
			"mcp__payments__refund_issue": capDenial,
			"tickets_update_ticket":       ticket1001,
		}[call.Name]
		conv.Messages = append(conv.Messages,
			Message{Role: RoleAssistant, ToolCalls: []ToolCall{call}},
			Message{Role: RoleTool, ToolCallID: call.ID, Text: result})
	}
	assert.Equal(t, namespaced[:1], called[:1])
	assert.Equal(t, []string{"tickets_get_ticket", "crm.get_customer", "mcp__payments__refund_issue", "tickets_update_ticket"}, called)
}

func TestScenarioBrainIsDeterministic(t *testing.T) {
	conv := script(allTools, "Work ticket T-1001", [2]string{"get_ticket", ticket1001}, [2]string{"get_customer", customer})
	first := ScenarioBrain{}.Respond(conv)
	for range 20 {
		assert.Equal(t, first, ScenarioBrain{}.Respond(conv))
	}
}

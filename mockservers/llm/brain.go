package llm

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// ScenarioBrain plays the demo's support model. From the conversation alone
// it reads the ticket named in the user's message, looks up the customer,
// issues the refund the customer asked for and, when a tool result carries a
// refund-cap denial with a step-up remediation, tells the customer on the
// ticket that the refund is escalated for tier-2 approval; then it answers.
// It only calls tools the request offered, one per turn, and never calls the
// same tool twice, so every conversation ends.
type ScenarioBrain struct{}

var ticketIDPattern = regexp.MustCompile(`\bT-[0-9]{1,8}\b`)

// Respond implements Brain.
func (ScenarioBrain) Respond(conv Conversation) Reply {
	ticketID := latestTicketID(conv.Messages)
	if ticketID == "" {
		return Reply{Text: `Which ticket should I work on? Say for example "Work ticket T-1001".`}
	}
	run := &turn{
		ticketID: ticketID,
		tools:    toolbox{offered: conv.Tools},
		calls:    replay(conv.Messages),
		seq:      countToolCalls(conv.Messages),
	}
	return run.next()
}

// turn is the state of one Respond call.
type turn struct {
	ticketID string
	tools    toolbox
	calls    map[string]pastCall
	seq      int
}

// pastCall is a tool call the conversation already made, and its result
// (empty when no tool turn answered it).
type pastCall struct {
	Result string
}

func (t *turn) next() Reply {
	ticketResult, called := t.calls[toolGetTicket]
	if !called {
		if !t.tools.has(toolGetTicket) {
			return Reply{Text: fmt.Sprintf("I cannot work ticket %s: no tool to read tickets was offered.", t.ticketID)}
		}
		return t.call(toolGetTicket, map[string]any{"ticket_id": t.ticketID})
	}
	ticket, ok := findTicket(ticketResult.Result, t.ticketID)
	if !ok {
		return Reply{Text: fmt.Sprintf("I could not read ticket %s: %s", t.ticketID, summarize(ticketResult.Result))}
	}
	if _, called := t.calls[toolGetCustomer]; !called && ticket.CustomerID != "" && t.tools.has(toolGetCustomer) {
		return t.call(toolGetCustomer, map[string]any{"customer_id": ticket.CustomerID})
	}
	if !ticket.wantsRefund() {
		return t.tellCustomer("",
			fmt.Sprintf("Thanks for your question about %q. I have passed it to our billing team, who will reply here.", ticket.Subject),
			fmt.Sprintf("Ticket %s asks no refund; I acknowledged the customer's question on the ticket.", t.ticketID))
	}
	amount := formatMoney(ticket.AmountCents, ticket.Currency)
	if !t.tools.has(toolRefundIssue) {
		return t.tellCustomer("",
			fmt.Sprintf("We received your request for a refund of %s. A colleague who can issue refunds will follow up here.", amount),
			fmt.Sprintf("Ticket %s asks a refund of %s, but no refund tool was offered to me; I told the customer a colleague will follow up.", t.ticketID, amount))
	}
	refund, called := t.calls[toolRefundIssue]
	if !called {
		return t.call(toolRefundIssue, map[string]any{
			"ticket_id":    t.ticketID,
			"amount_cents": ticket.AmountCents,
			"currency":     strings.ToLower(ticket.Currency),
			"reason":       fmt.Sprintf("Customer refund request on ticket %s (charge %s)", t.ticketID, ticket.ChargeID),
		})
	}
	if d, denied := findDenial(refund.Result); denied {
		if d.stepUp() {
			approvers := d.ApproversRole
			if approvers == "" {
				approvers = "a tier-2 lead"
			}
			return t.tellCustomer("escalated",
				fmt.Sprintf("Your refund of %s needs approval by %s. I have escalated it for tier-2 approval; you will hear from us here.", amount, approvers),
				fmt.Sprintf("The refund of %s on ticket %s was denied (%s) and needs step-up approval by %s. I escalated the ticket for tier-2 approval and told the customer.", amount, t.ticketID, reasonOf(d), approvers))
		}
		return Reply{Text: fmt.Sprintf("I could not issue the refund of %s on ticket %s: %s.", amount, t.ticketID, reasonOf(d))}
	}
	if refundID := findString(refund.Result, "id"); strings.HasPrefix(refundID, "re_") {
		return t.tellCustomer("resolved",
			fmt.Sprintf("We refunded %s to your original payment method (refund %s).", amount, refundID),
			fmt.Sprintf("Refunded %s on ticket %s (refund %s) and resolved the ticket.", amount, t.ticketID, refundID))
	}
	return Reply{Text: fmt.Sprintf("The refund of %s on ticket %s did not go through: %s", amount, t.ticketID, summarize(refund.Result))}
}

// tellCustomer writes to the customer on the ticket (setting status when
// given) with whichever ticket tool was offered, then gives the final answer.
func (t *turn) tellCustomer(status, comment, final string) Reply {
	for _, tool := range []string{toolUpdateTicket, toolAddComment} {
		if _, called := t.calls[tool]; called {
			return Reply{Text: final}
		}
	}
	switch {
	case t.tools.has(toolUpdateTicket):
		args := map[string]any{"ticket_id": t.ticketID, "comment": comment}
		if status != "" {
			args["status"] = status
		}
		return t.call(toolUpdateTicket, args)
	case t.tools.has(toolAddComment):
		return t.call(toolAddComment, map[string]any{"ticket_id": t.ticketID, "body": comment})
	}
	return Reply{Text: final + " (I could not write on the ticket: no ticket tool was offered. Message for the customer: " + comment + ")"}
}

func (t *turn) call(base string, args map[string]any) Reply {
	raw, err := json.Marshal(args)
	if err != nil {
		return Reply{Text: fmt.Sprintf("internal error building %s arguments: %v", base, err)}
	}
	return Reply{ToolCalls: []ToolCall{{
		ID:        fmt.Sprintf("call_%03d", t.seq+1),
		Name:      t.tools.lookup(base),
		Arguments: string(raw),
	}}}
}

func reasonOf(d denial) string {
	switch {
	case d.Reason != "" && d.Code != "":
		return d.Reason + ", code " + d.Code
	case d.Reason != "":
		return d.Reason
	case d.Code != "":
		return d.Code
	}
	return "denied"
}

func summarize(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return "the tool returned nothing"
	}
	if r := []rune(text); len(r) > 300 {
		return string(r[:300]) + "..."
	}
	return text
}

// latestTicketID is the ticket named by the most recent user message that
// names one.
func latestTicketID(msgs []Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role != RoleUser {
			continue
		}
		if id := ticketIDPattern.FindString(msgs[i].Text); id != "" {
			return id
		}
	}
	return ""
}

// replay collects the demo tool calls of the conversation with their
// results, keyed by demo tool name; the first call of each tool counts.
func replay(msgs []Message) map[string]pastCall {
	results := map[string]string{}
	for _, m := range msgs {
		if m.Role == RoleTool && m.ToolCallID != "" {
			results[m.ToolCallID] += m.Text
		}
	}
	calls := map[string]pastCall{}
	for _, m := range msgs {
		for _, c := range m.ToolCalls {
			base := baseOf(c.Name)
			if _, seen := calls[base]; seen {
				continue
			}
			calls[base] = pastCall{Result: results[c.ID]}
		}
	}
	return calls
}

func countToolCalls(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.ToolCalls)
	}
	return n
}

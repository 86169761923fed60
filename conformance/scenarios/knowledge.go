package scenarios

import "github.com/hopguard/hopguard/mockservers/mcpserver"

// knowledge: the triage agent reads support's refund policy, is denied HR's salary table and a
// prompt it may not use, each with a reason it can act on, and is not even shown the salary
// table; HR's principal reads it. The server asks the agent mid-call too: a confirmation it may
// give (elicitation), a draft from its model it may not (sampling). An agent could take data away by reading a document, without
// calling a single tool: documents and prompts are decided one by one.
func knowledge() Scenario {
	const server = "knowledge"
	support := []string{mcpserver.RefundPolicyURI, mcpserver.EscalationURI}
	// Seen with agentgateway v1.4.1 and mcp-go v1.2.1's client (protocol 2026-07-28).
	const noInputRequests = "a tool result asking for input (resultType input_required, protocol 2026-07-28's multi round-trip requests) reaches the client without its inputRequests, so the client has nothing to answer: mcp-go retries the call three times and gives up"
	mrtrBroken := map[string]string{"agentgateway": noInputRequests}
	hrOnly := Want{Deny: true, Code: "resource_not_allowed", Reason: "payroll-admin only", Remediation: "request_access"}
	return Scenario{
		ID:    "knowledge",
		Title: "11. Documents, prompts and answers to the server decided one by one: the triage agent reads the refund policy, is denied the salary table and HR's prompt, is not shown the salary table, may confirm (elicitation) and may not lend its model (sampling)",
		Steps: []Step{
			{Name: "triage opens the knowledge server", As: Triage, Ticket: "T-2001", Hop: handshake(server), Want: allow()},
			{Name: "triage lists the documents: the salary table is not shown", As: Triage, Ticket: "T-2001", Hop: listResources(server),
				Want: Want{Resources: support}},
			{Name: "triage reads the refund policy", As: Triage, Ticket: "T-2001", Hop: readResource(server, mcpserver.RefundPolicyURI), Want: allow()},
			{Name: "triage reads the salary table", As: Triage, Ticket: "T-2001", Hop: readResource(server, mcpserver.SalaryTableURI), Want: hrOnly},
			{Name: "triage gets the triage summary prompt for its own ticket", As: Triage, Ticket: "T-2001",
				Hop: getPrompt(server, mcpserver.TriageSummaryPrompt, map[string]string{"ticket_id": "T-2001"}), Want: allow()},
			{Name: "triage gets the triage summary prompt for another ticket", As: Triage, Ticket: "T-2001",
				Hop:  getPrompt(server, mcpserver.TriageSummaryPrompt, map[string]string{"ticket_id": "T-1001"}),
				Want: Want{Deny: true, Code: "cross_ticket", Reason: "bound to ticket T-2001", Remediation: "use_task_ticket"}},
			{Name: "triage gets HR's compensation letter prompt", As: Triage, Ticket: "T-2001",
				Hop:  getPrompt(server, mcpserver.CompensationLetterPrompt, map[string]string{"employee_id": "E-001"}),
				Want: Want{Deny: true, Code: "prompt_not_allowed", Reason: "payroll-admin only", Remediation: "request_access"}},
			{Name: "triage confirms an escalation the server asks it to confirm (elicitation)", As: Triage, Ticket: "T-2001",
				Hop: callToolAnswering(server, mcpserver.ConfirmEscalationTool, `{"ticket_id":"T-2001"}`), Want: Want{BrokenBehind: mrtrBroken}},
			{Name: "triage answers the server's request for a draft from its model (sampling)", As: Triage, Ticket: "T-2001",
				Hop:  callToolAnswering(server, mcpserver.DraftReplyTool, `{"ticket_id":"T-2001"}`),
				Want: Want{Deny: true, Code: "sampling_not_allowed", Reason: "may not use the agent's model", Remediation: "use_own_model", BrokenBehind: mrtrBroken}},
			{Name: "alice (tier-1) reads the salary table", As: Alice, Ticket: "T-1001", Hop: readResource(server, mcpserver.SalaryTableURI), Want: hrOnly},
			{Name: "carol (payroll-admin) is shown every document", As: Carol, Ticket: "T-2001", Hop: listResources(server),
				Want: Want{Resources: append(support, mcpserver.SalaryTableURI)}},
			{Name: "carol reads the salary table", As: Carol, Ticket: "T-2001", Hop: readResource(server, mcpserver.SalaryTableURI), Want: allow()},
		},
	}
}

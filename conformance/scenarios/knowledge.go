package scenarios

import "github.com/hopguard/hopguard/mockservers/mcpserver"

// knowledge: the triage agent reads support's refund policy, is denied HR's salary table and a
// prompt it may not use, each with a reason it can act on, and is not even shown the salary
// table; HR's principal reads it. An agent could take data away by reading a document, without
// calling a single tool: documents and prompts are decided one by one.
func knowledge() Scenario {
	const server = "knowledge"
	support := []string{mcpserver.RefundPolicyURI, mcpserver.EscalationURI}
	hrOnly := Want{Deny: true, Code: "resource_not_allowed", Reason: "payroll-admin only", Remediation: "request_access"}
	return Scenario{
		ID:    "knowledge",
		Title: "11. Documents and prompts decided one by one: the triage agent reads the refund policy, is denied the salary table and HR's prompt, and is not shown the salary table",
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
			{Name: "alice (tier-1) reads the salary table", As: Alice, Ticket: "T-1001", Hop: readResource(server, mcpserver.SalaryTableURI), Want: hrOnly},
			{Name: "carol (payroll-admin) is shown every document", As: Carol, Ticket: "T-2001", Hop: listResources(server),
				Want: Want{Resources: append(support, mcpserver.SalaryTableURI)}},
			{Name: "carol reads the salary table", As: Carol, Ticket: "T-2001", Hop: readResource(server, mcpserver.SalaryTableURI), Want: allow()},
		},
	}
}

package scenarios

import (
	"context"
	"fmt"
	"strings"

	"github.com/hopguard/hopguard/conformance/stack"
)

// Suite returns the conformance scenarios in order, the seed's story among them. The policy
// scenarios change the policies live, put them back, and check that no component restarted
// meanwhile; fail closed comes last: it stops and restarts components.
func Suite() []Scenario {
	return []Scenario{
		refundCap(),
		payroll(),
		modelPinning(),
		taskRevocation(),
		credentials(),
		routing(),
		Story(),
		policyChange(),
		brokenPolicy(),
		toolVisibility(),
		knowledge(),
		failClosed(),
	}
}

// Refund arguments as the agent's model writes them (the mock LLM uses this shape).
func refund(ticket string, cents int) string {
	return fmt.Sprintf(`{"ticket_id":%q,"amount_cents":%d,"currency":"usd","reason":"Customer refund request on ticket %s"}`, ticket, cents, ticket)
}

func refundCap() Scenario {
	return Scenario{
		ID:    "refund-cap",
		Title: "1. Refund cap: tier-1 $9,000 denied with step-up, the agent escalates; $40 allowed",
		Steps: []Step{
			{Name: "alice opens payments", As: Alice, Ticket: "T-1001", Hop: handshake("payments"), Want: allow()},
			{Name: "alice refunds $9,000 on T-1001", As: Alice, Ticket: "T-1001",
				Hop:  callTool("payments", "refund_issue", refund("T-1001", 900000)),
				Want: Want{Deny: true, Code: "refund_cap_exceeded", Reason: "refund cap exceeded", Remediation: "step_up", Status: 200}},
			refundAct(), // the story's first act: alice's agent works T-1001
			{Name: "alice refunds $40 on T-1001", As: Alice, Ticket: "T-1001", Hop: callTool("payments", "refund_issue", refund("T-1001", 4000)), Want: allow()},
		},
	}
}

func payroll() Scenario {
	payrollDenied := deny("server_not_allowed", "payroll requires payroll-admin")
	return Scenario{
		ID:    "payroll",
		Title: "2. Payroll opens for payroll-admin only; the triage agent is denied payments",
		Steps: []Step{
			{Name: "alice (tier-1) opens payroll", As: Alice, Ticket: "T-2001", Hop: handshake("payroll"), Want: payrollDenied},
			{Name: "alice asks payroll for its tools", As: Alice, Ticket: "T-2001", Hop: listTools("payroll"), Want: payrollDenied},
			{Name: "bob (tier-2) opens payroll", As: Bob, Ticket: "T-2001", Hop: handshake("payroll"), Want: payrollDenied},
			{Name: "triage opens payroll", As: Triage, Ticket: "T-2001", Hop: handshake("payroll"), Want: payrollDenied},
			{Name: "carol (payroll-admin) opens payroll", As: Carol, Ticket: "T-2001", Hop: handshake("payroll"), Want: allow()},
			{Name: "carol lists payroll's tools", As: Carol, Ticket: "T-2001", Hop: listTools("payroll"), Want: allow()},
			{Name: "triage opens payments", As: Triage, Ticket: "T-2001", Hop: handshake("payments"),
				Want: deny("server_not_allowed", "payments is not available to the triage agent")},
			{Name: "triage opens tickets", As: Triage, Ticket: "T-2001", Hop: handshake("tickets"), Want: allow()},
		},
	}
}

func modelPinning() Scenario {
	notAllowed := Want{Deny: true, Code: "model_not_allowed", Remediation: "use_allowed_model", Status: 403}
	return Scenario{
		ID:    "model-pinning",
		Title: "3. Model pinning: triage gets gpt-4o-mini only; tiered support both; unknown models denied",
		Steps: []Step{
			{Name: "triage asks gpt-4o", As: Triage, Ticket: "T-2001", Hop: completion("gpt-4o"), Want: notAllowed},
			{Name: "triage asks gpt-4o-mini", As: Triage, Ticket: "T-2001", Hop: completion("gpt-4o-mini"), Want: allow()},
			{Name: "alice asks gpt-4o", As: Alice, Ticket: "T-2001", Hop: completion("gpt-4o"), Want: allow()},
			{Name: "alice asks gpt-4o-mini", As: Alice, Ticket: "T-2001", Hop: completion("gpt-4o-mini"), Want: allow()},
			{Name: "bob asks gpt-4o", As: Bob, Ticket: "T-2001", Hop: completion("gpt-4o"), Want: allow()},
			{Name: "alice asks an unknown model", As: Alice, Ticket: "T-2001", Hop: completion("gpt-5-ultra"), Want: notAllowed},
			{Name: "alice asks GPT-4o (ids are exact)", As: Alice, Ticket: "T-2001", Hop: completion("GPT-4o"), Want: notAllowed},
			{Name: "alice lists the models (GET /v1/models)", As: Alice, Ticket: "T-2001", Hop: Hop{Kind: ListModels}, Want: allow()},
		},
	}
}

func taskRevocation() Scenario {
	revoked := Want{Deny: true, Code: "task_not_active"}
	return Scenario{
		ID:    "task-revocation",
		Title: "4. Task revocation: the very next hop after revoking is denied",
		Steps: []Step{
			{Name: "alice asks gpt-4o-mini", As: Alice, Ticket: "T-2001", Hop: completion("gpt-4o-mini"), Want: allow()},
			{Name: "alice opens tickets", As: Alice, Ticket: "T-2001", Hop: handshake("tickets"), Want: allow()},
			{Name: "alice reads T-2001", As: Alice, Ticket: "T-2001", Hop: callTool("tickets", "get_ticket", `{"ticket_id":"T-2001"}`), Want: allow()},
			{Name: "the operator revokes alice's task", Do: func(ctx context.Context, r *Run) error { return r.Revoke(ctx, Alice, "T-2001") }},
			{Name: "alice reads T-2001 again, same session", As: Alice, Ticket: "T-2001", Hop: callTool("tickets", "get_ticket", `{"ticket_id":"T-2001"}`), Want: revoked},
			{Name: "alice asks gpt-4o-mini again", As: Alice, Ticket: "T-2001", Hop: completion("gpt-4o-mini"), Want: revoked},
			killSwitchAct(), // the story's third act: triage's task is revoked mid-run
		},
	}
}

func credentials() Scenario {
	replayed := Want{Deny: true, Code: "invalid_token", Reason: "does not match route resource"}
	expired := Want{Deny: true, Code: "invalid_token", Reason: "token expired"}
	missing := Want{Deny: true, Code: "unauthenticated", Reason: "no bearer token"}
	paymentsToken := Token{Kind: OtherResourceToken, Resource: "mcp:payments"}
	return Scenario{
		ID:    "credentials",
		Title: "5. Cross-ticket refund, token replayed on another route, expired token, no token: denied",
		Steps: []Step{
			{Name: "alice opens payments for T-1001", As: Alice, Ticket: "T-1001", Hop: handshake("payments"), Want: allow()},
			{Name: "alice refunds $40 on T-1002, not her task's ticket", As: Alice, Ticket: "T-1001",
				Hop: callTool("payments", "refund_issue", refund("T-1002", 4000)), Want: Want{Deny: true, Code: "cross_ticket"}},
			{Name: "alice's payments token replayed on the LLM route", As: Alice, Ticket: "T-1001", Hop: completion("gpt-4o-mini"), Token: paymentsToken, Want: replayed},
			{Name: "alice's payments token replayed on crm", As: Alice, Ticket: "T-1001", Hop: handshake("crm"), Token: paymentsToken, Want: replayed},
			{Name: "an expired LLM token", As: Alice, Ticket: "T-1001", Hop: completion("gpt-4o-mini"), Token: Token{Kind: ExpiredToken}, Want: expired},
			{Name: "an expired tickets token", As: Alice, Ticket: "T-1001", Hop: handshake("tickets"), Token: Token{Kind: ExpiredToken}, Want: expired},
			{Name: "no token on the LLM route", As: Alice, Ticket: "T-1001", Hop: completion("gpt-4o-mini"), Token: Token{Kind: NoToken}, Want: missing},
			{Name: "no token on tickets", As: Alice, Ticket: "T-1001", Hop: handshake("tickets"), Token: Token{Kind: NoToken}, Want: missing},
		},
	}
}

// initialize is an MCP initialize request body.
const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"probe","version":"0"}}}`

func routing() Scenario {
	payrollToken := Token{Kind: OtherResourceToken, Resource: "mcp:payroll"}
	llmToken := Token{Kind: OtherResourceToken, Resource: "llm"}
	raw := func(method, path, body string) Hop {
		return Hop{Kind: Raw, Method: method, Path: path, Body: []byte(body)}
	}
	return Scenario{
		ID:    "routing",
		Title: "6. Routing: unknown paths, path tricks and oversized bodies never reach an upstream",
		Steps: []Step{
			{Name: "GET an unknown path", As: Alice, Ticket: "T-2001", Hop: raw("GET", "/admin/config", "")},
			{Name: "POST to /mcp/TICKETS (routes are exact)", As: Alice, Ticket: "T-2001", Hop: raw("POST", "/mcp/TICKETS", initialize)},
			{Name: "POST to /mcp/tickets/ (trailing slash)", As: Alice, Ticket: "T-2001", Hop: raw("POST", "/mcp/tickets/", initialize)},
			{Name: "POST /mcp/tickets/../payroll with a payroll token", As: Alice, Ticket: "T-2001", Hop: raw("POST", "/mcp/tickets/../payroll", initialize), Token: payrollToken,
				Want: Want{Code: "server_not_allowed", OrUnrouted: true}},
			{Name: "POST /mcp/tickets%2F..%2Fpayroll with a payroll token", As: Alice, Ticket: "T-2001", Hop: raw("POST", "/mcp/tickets%2F..%2Fpayroll", initialize), Token: payrollToken},
			// The model route is /v1 and below; a route that matches on a bare string prefix (Istio's
			// VirtualService prefix /v1) forwards /v1beta, and synapse's route table must refuse it.
			{Name: "POST /v1beta/chat/completions with an LLM token", As: Alice, Ticket: "T-2001", Hop: raw("POST", "/v1beta/chat/completions", chat), Token: llmToken},
			{Name: "a 2 MiB body on the LLM route", As: Alice, Ticket: "T-2001", Hop: raw("POST", "/v1/chat/completions", oversized()), Token: llmToken},
		},
	}
}

// chat is a chat completion request the model route would allow.
const chat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Work ticket T-2001."}]}`

// oversized is a chat completion request over the gateway's 1 MiB body limit.
func oversized() string {
	return `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("a", 2<<20) + `"}]}`
}

func failClosed() Scenario {
	// With synapse down the reply is the gateway's own: no decision id and no audit record, but
	// the marks every gateway's config adds (x-hopguard-decision: deny, x-should-retry: false)
	// and, where the gateway can write a body, synapse's shape for the route with the code
	// authz_unavailable (Envoy's local reply mappers, Istio's EnvoyFilter). agentgateway's
	// reply may carry no code in its body (its notes say what it answers).
	// The status is the route plane's: 503 on the model routes; on MCP a request is answered
	// the MCP-native way, 200 with the JSON-RPC error -32011 (the MCP Go SDK never reads a 5xx's
	// body), by synapse and by Envoy's and Istio's own reply; agentgateway's own stays 503.
	gatewayError := Want{Deny: true, Code: "authz_unavailable", Reason: "denied by the gateway", Status: 503, NoAudit: true, FailClosed: true,
		CodeOptionalBehind: []string{"agentgateway"}}
	gatewayMCPError := gatewayError
	gatewayMCPError.Status, gatewayMCPError.StatusBehind = 200, map[string]int{"agentgateway": 503}
	pdpDown := Want{Deny: true, Code: "pdp_unavailable", Reason: "fail closed", Status: 503, FailClosed: true}
	pdpDownMCP := pdpDown
	pdpDownMCP.Status = 200
	llmToken := Token{Kind: OtherResourceToken, Resource: "llm"}
	// Anthropic's Messages API, sent raw: its denials are Anthropic's error shape, which the
	// agent's OpenAI client does not speak.
	messages := Hop{Kind: Raw, Method: "POST", Path: "/v1/messages",
		Body: []byte(`{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Work ticket T-2001."}]}`)}
	return Scenario{
		ID:    "fail-closed",
		Title: "12. Fail closed: with synapse down, and with Cerbos down, every hop is denied",
		Steps: []Step{
			{Name: "alice asks gpt-4o-mini", As: Alice, Ticket: "T-2001", Hop: completion("gpt-4o-mini"), Want: allow()},
			{Name: "synapse stops", Do: stop(stack.Synapse)},
			{Name: "alice asks gpt-4o-mini, synapse down", As: Alice, Ticket: "T-2001", Hop: completion("gpt-4o-mini"), Want: gatewayError},
			{Name: "alice opens tickets, synapse down", As: Alice, Ticket: "T-2001", Hop: handshake("tickets"), Want: gatewayMCPError},
			{Name: "alice sends an Anthropic message, synapse down", As: Alice, Ticket: "T-2001", Hop: messages, Token: llmToken, Want: gatewayError},
			{Name: "synapse starts again", Do: restart(stack.Synapse)},
			{Name: "Cerbos stops", Do: stopPDP},
			{Name: "alice asks gpt-4o-mini, Cerbos down", As: Alice, Ticket: "T-2001", Hop: completion("gpt-4o-mini"), Want: pdpDown},
			{Name: "alice opens tickets, Cerbos down", As: Alice, Ticket: "T-2001", Hop: handshake("tickets"), Want: pdpDownMCP},
			{Name: "alice sends an Anthropic message, Cerbos down", As: Alice, Ticket: "T-2001", Hop: messages, Token: llmToken, Want: pdpDown},
			{Name: "Cerbos starts again", Do: restart(stack.Cerbos)},
			{Name: "alice asks gpt-4o-mini, all back", As: Alice, Ticket: "T-2001", Hop: completion("gpt-4o-mini"), Want: allow()},
		},
	}
}

func stop(component string) func(context.Context, *Run) error {
	return func(ctx context.Context, r *Run) error { return r.env.Control.Stop(ctx, component) }
}

// stopPDP stops Cerbos and waits until synapse knows: until its readiness probe notices (a
// second at most), synapse may answer a hop Cerbos decided a moment ago from its decision cache,
// as it is meant to; from then on every hop that needs Cerbos fails closed.
func stopPDP(ctx context.Context, r *Run) error {
	if err := r.env.Control.Stop(ctx, stack.Cerbos); err != nil {
		return err
	}
	return r.untilDenied(ctx, Step{As: Alice, Ticket: "T-2001", Hop: completion("gpt-4o-mini")}, recoveryTimeout)
}

// restart starts a component again and waits until hops are decided again: synapse is ready
// and its connection to Cerbos is back (gRPC reconnects with a backoff), so the next step sees
// the environment whole. The probe hop is Alice's model call, which is allowed.
func restart(component string) func(context.Context, *Run) error {
	return func(ctx context.Context, r *Run) error {
		if err := r.env.Control.Restart(ctx, component); err != nil {
			return err
		}
		if err := r.env.Control.Ready(ctx, stack.Synapse); err != nil {
			return err
		}
		return r.untilAllowed(ctx, Step{As: Alice, Ticket: "T-2001", Hop: completion("gpt-4o-mini")}, recoveryTimeout)
	}
}

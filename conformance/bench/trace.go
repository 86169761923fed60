package bench

import (
	"fmt"
	"strings"
)

// The agent trace replays the hops of the demo's story (conformance/scenarios Story, played by
// `make demo`) as synapse decided them: synapse's audit log of that run
// (out/demo/env/synapse/audit.ndjson, one decision per line), 44 decisions in three acts, each
// one agent run. The entries below are that log, line by line, in its order: who, what, allowed
// or not. Its proportions are therefore the story's own: of 44 hops, 12 completions (27 %;
// 2 denied: gpt-4o for the triage agent, and one after its task was revoked), 17 initialize
// (39 %; 10 denied at the handshake: payroll for alice, payments and payroll for triage, each
// sent twice by the agent's MCP client), 7 tools/list (16 %), 8 tool calls (18 %; 1 denied:
// the $9,000 refund). The demo's agent runs are short (four to five model turns), which is why
// the handshakes weigh that much; a longer run would be more completions still.
//
// The story has two principals (alice, tier-1 support; the triage workload, a SPIFFE id) and
// three tasks; the STS's and the policies' own principals, so every hop gets the same decision
// here as in the demo. The kill switch's last hop (a completion after the operator revoked the
// task) is sent by a fourth caller whose task is revoked before the run: the benchmark cannot
// revoke a task mid-trace over and over.
//
// What differs from the demo: completions carry a short fixed prompt (the demo's carry the
// conversation so far) and the refund leaves out the currency (see refundHop). The trace is
// replayed verbatim, so with the decision cache on, every check after the first of its kind in
// a TTL is a repeat: the cache's best case, which is also what an agent repeating the same
// completion for the same task looks like.

// The agent trace's kinds.
const (
	KindCompletionDenied = "completion_denied"
	KindInitialize       = "initialize"
	KindInitializeDenied = "initialize_denied"
	KindToolCall         = "tool_call"
)

// The agent trace's callers.
const (
	traceAlice   = "alice"          // alice's agent works T-1001 (the refund act)
	traceTriage  = "triage"         // the triage agent works T-2001 (the model pin act)
	traceKill    = "triage-T-1002"  // the triage agent works T-1002 (the kill switch act)
	traceRevoked = "triage-revoked" // the same after the operator revoked its task
)

const triageSubject = "spiffe://hopguard.local/ns/agents/sa/triage"

// tracePrincipals are the story's actors (conformance/scenarios Alice, Triage) and tasks.
func tracePrincipals() []Principal {
	return []Principal{
		{Name: traceAlice, Subject: "alice", Role: "tier-1-support", AgentID: "support-agent", Ticket: "T-1001"},
		{Name: traceTriage, Subject: triageSubject, Role: "triage-agent", AgentID: "triage-agent", Ticket: "T-2001"},
		{Name: traceKill, Subject: triageSubject, Role: "triage-agent", AgentID: "triage-agent", Ticket: "T-1002"},
		{Name: traceRevoked, Subject: triageSubject, Role: "triage-agent", AgentID: "triage-agent", Ticket: "T-1002", Revoked: true},
	}
}

// traceStep is one line of the demo's audit log.
type traceStep struct {
	caller string
	// what is "initialize", "tools/list", "completion" or "tools/call".
	what string
	// target is the MCP server, or the model of a completion.
	target string
	// tool and arguments of a tools/call.
	tool, arguments string
	allowed         bool
}

const (
	allow = true
	deny  = false
)

// agentTrace is the demo's audit log (see the top of this file), line by line.
func agentTrace() []traceStep {
	return []traceStep{
		// alice's agent works T-1001: a $9,000 refund denied with a step-up.
		{traceAlice, "initialize", "tickets", "", "", allow},
		{traceAlice, "tools/list", "tickets", "", "", allow},
		{traceAlice, "initialize", "crm", "", "", allow},
		{traceAlice, "tools/list", "crm", "", "", allow},
		{traceAlice, "initialize", "payments", "", "", allow},
		{traceAlice, "tools/list", "payments", "", "", allow},
		{traceAlice, "initialize", "payroll", "", "", deny},
		{traceAlice, "initialize", "payroll", "", "", deny},
		{traceAlice, "completion", "gpt-4o", "", "", allow},
		{traceAlice, "tools/call", "tickets", "get_ticket", `{"ticket_id":"T-1001"}`, allow},
		{traceAlice, "completion", "gpt-4o", "", "", allow},
		{traceAlice, "tools/call", "crm", "get_customer", `{"customer_id":"C-100"}`, allow},
		{traceAlice, "completion", "gpt-4o", "", "", allow},
		{traceAlice, "tools/call", "payments", "refund_issue", "", deny},
		{traceAlice, "completion", "gpt-4o", "", "", allow},
		{traceAlice, "tools/call", "tickets", "update_ticket", `{"ticket_id":"T-1001","status":"escalated","comment":"Your refund of $9,000.00 needs approval by tier-2-lead. I have escalated it for tier-2 approval; you will hear from us here."}`, allow},
		{traceAlice, "completion", "gpt-4o", "", "", allow},
		// The triage agent works T-2001: denied gpt-4o, falls back to gpt-4o-mini; kept out of
		// payments and payroll.
		{traceTriage, "initialize", "tickets", "", "", allow},
		{traceTriage, "tools/list", "tickets", "", "", allow},
		{traceTriage, "initialize", "crm", "", "", allow},
		{traceTriage, "tools/list", "crm", "", "", allow},
		{traceTriage, "initialize", "payments", "", "", deny},
		{traceTriage, "initialize", "payments", "", "", deny},
		{traceTriage, "initialize", "payroll", "", "", deny},
		{traceTriage, "initialize", "payroll", "", "", deny},
		{traceTriage, "completion", "gpt-4o", "", "", deny},
		{traceTriage, "completion", "gpt-4o-mini", "", "", allow},
		{traceTriage, "tools/call", "tickets", "get_ticket", `{"ticket_id":"T-2001"}`, allow},
		{traceTriage, "completion", "gpt-4o-mini", "", "", allow},
		{traceTriage, "tools/call", "crm", "get_customer", `{"customer_id":"C-300"}`, allow},
		{traceTriage, "completion", "gpt-4o-mini", "", "", allow},
		{traceTriage, "tools/call", "tickets", "add_comment", `{"ticket_id":"T-2001","body":"Thanks for your question about \"Question about invoice INV-3001\". I have passed it to our billing team, who will reply here."}`, allow},
		{traceTriage, "completion", "gpt-4o-mini", "", "", allow},
		// The triage agent works T-1002; its task is revoked after its first tool call.
		{traceKill, "initialize", "tickets", "", "", allow},
		{traceKill, "tools/list", "tickets", "", "", allow},
		{traceKill, "initialize", "crm", "", "", allow},
		{traceKill, "tools/list", "crm", "", "", allow},
		{traceKill, "initialize", "payments", "", "", deny},
		{traceKill, "initialize", "payments", "", "", deny},
		{traceKill, "initialize", "payroll", "", "", deny},
		{traceKill, "initialize", "payroll", "", "", deny},
		{traceKill, "completion", "gpt-4o-mini", "", "", allow},
		{traceKill, "tools/call", "tickets", "get_ticket", `{"ticket_id":"T-1002"}`, allow},
		{traceRevoked, "completion", "gpt-4o-mini", "", "", deny},
	}
}

// AgentMix is the agent trace as a mix.
func AgentMix() (Mix, error) {
	principals := tracePrincipals()
	hops, err := traceHops(agentTrace(), principals)
	if err != nil {
		return Mix{}, fmt.Errorf("agent trace: %w", err)
	}
	return Mix{
		Name:        MixAgent,
		Description: fmt.Sprintf("the demo's story replayed as synapse decided it (%d hops from its audit log, in order, per principal: completions, MCP handshakes, tool calls and denials in the story's proportions; conformance/bench/trace.go)", len(hops)),
		Note: "the same four callers replay the trace over and over, so every check recurs within the cache's TTL: with the cache on this is its best case (one agent repeating its completions), " +
			"while many agents on distinct tasks at the same rate would miss more; the share of decisions from the cache is given with each step",
		Principals: principals,
		Hops:       hops,
	}, nil
}

// traceHops turns trace steps into hops; each caller must be one of principals.
func traceHops(steps []traceStep, principals []Principal) ([]Hop, error) {
	tickets := map[string]string{}
	for _, p := range principals {
		tickets[p.Name] = p.Ticket
	}
	turns := map[string]int{}
	hops := make([]Hop, 0, len(steps))
	for i, s := range steps {
		ticket, ok := tickets[s.caller]
		if !ok {
			return nil, fmt.Errorf("trace step %d: unknown caller %q", i, s.caller)
		}
		h, err := traceHop(s, ticket, turns)
		if err != nil {
			return nil, fmt.Errorf("trace step %d: %w", i, err)
		}
		hops = append(hops, h)
	}
	return hops, nil
}

// traceHop is one step as a hop; turns counts each caller's completions so far.
func traceHop(s traceStep, ticket string, turns map[string]int) (Hop, error) {
	switch s.what {
	case "completion":
		turns[s.caller]++
		return completionHop(s.caller, kindOf(KindCompletion, KindCompletionDenied, s.allowed), s.target, ticket, turns[s.caller], s.allowed), nil
	case "initialize":
		return initializeHop(s.caller, kindOf(KindInitialize, KindInitializeDenied, s.allowed), s.target, s.allowed), nil
	case "tools/list":
		if !s.allowed {
			return Hop{}, fmt.Errorf("tools/list on %s: the story has no denied one", s.target)
		}
		return toolsListHop(s.caller, s.target), nil
	case "tools/call":
		if s.tool == "refund_issue" {
			return refundHop(s.caller, ticket), nil
		}
		if !s.allowed || !strings.HasPrefix(s.arguments, "{") {
			return Hop{}, fmt.Errorf("tools/call %s: want an allowed call with its arguments", s.tool)
		}
		return toolCallHop(s.caller, KindToolCall, s.target, s.tool, s.arguments, true), nil
	}
	return Hop{}, fmt.Errorf("unknown step %q", s.what)
}

func kindOf(allowed, denied string, ok bool) string {
	if ok {
		return allowed
	}
	return denied
}

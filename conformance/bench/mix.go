package bench

import (
	"fmt"
	"net/http"
	"strings"
)

// Hop is one request of a mix, as the agent sends it through the gateway.
type Hop struct {
	// Kind names it in the report; several hops of a mix may share one.
	Kind string
	// Caller names the principal that sends it (a Principal of the mix).
	Caller string
	// Resource is the route's resource (the token's audience); Server the MCP server, if any.
	Resource, Server   string
	Method, Path, Body string
	// InSession says the hop goes within the caller's MCP session with Server: every MCP
	// request but initialize, which opens one.
	InSession bool
	// Allowed is what the policies decide for the hop's principal.
	Allowed bool
}

// GovernedStatus is the HTTP status a governed gateway answers the hop with: a denial on the
// model route is a 403; a denied MCP request with an id is answered 200 with the JSON-RPC
// denial (synapse/respond), like an allowed hop.
func (h Hop) GovernedStatus() int {
	if !h.Allowed && h.Server == "" {
		return http.StatusForbidden
	}
	return http.StatusOK
}

// Principal is who sends some of a mix's hops: a subject with a role, acting through an agent
// on a task bound to a ticket.
type Principal struct {
	// Name is the hops' Caller.
	Name                           string
	Subject, Role, AgentID, Ticket string
	// Revoked: the task is revoked before the run (the story's kill switch), so every hop of
	// this principal is denied task_not_active.
	Revoked bool
}

// Mix is a sequence of hops sent in turn, over and over, and the principals that send them.
type Mix struct {
	// Name selects it (--mix): MixFixed or MixAgent.
	Name        string
	Description string
	// Note says what to keep in mind when reading its figures.
	Note       string
	Principals []Principal
	Hops       []Hop
}

// The mixes.
const (
	MixFixed = "fixed"
	MixAgent = "agent"
)

// MixNames lists the mixes, in the order a run measures them.
func MixNames() []string { return []string{MixFixed, MixAgent} }

// MixByName returns the mix called name.
func MixByName(name string) (Mix, error) {
	switch name {
	case MixFixed:
		return FixedMix(), nil
	case MixAgent:
		return AgentMix()
	}
	return Mix{}, fmt.Errorf("unknown mix %q (want one of %s)", name, strings.Join(MixNames(), ", "))
}

// The kinds of the fixed mix.
const (
	KindCompletion   = "completion"
	KindRefundDenied = "refund_denied"
	KindToolsList    = "tools_list"
)

// benchCaller is the fixed mix's principal: a tier-1 support agent working one ticket
// (CONTRACTS.md).
const benchCaller = "alice"

// FixedMix is the mix: three requests, a third each, from one principal.
func FixedMix() Mix {
	return Mix{
		Name:        MixFixed,
		Description: "the issue's three requests in turn, a third each: an allowed completion, a refund denied with the policy's output, tools/list",
		Principals: []Principal{{
			Name: benchCaller, Subject: benchSubject, Role: benchRole, AgentID: benchAgentID, Ticket: benchTicket,
		}},
		Hops: Hops(benchTicket),
	}
}

// Hops is the fixed mix's hops: the three requests of the issue, each a third of the load.
//   - an allowed completion: gpt-4o-mini for a tier-1 support agent;
//   - a refund over the tier-1 cap: denied by a DENY rule that emits an output (the most work
//     a denial takes: the output is evaluated, carried back and shaped for MCP);
//   - tools/list on the tickets server: allowed MCP housekeeping.
func Hops(ticket string) []Hop {
	return []Hop{
		completionHop(benchCaller, KindCompletion, "gpt-4o-mini", ticket, 1, true),
		refundHop(benchCaller, ticket),
		toolsListHop(benchCaller, "tickets"),
	}
}

func completionHop(caller, kind, model, ticket string, turn int, allowed bool) Hop {
	return Hop{
		Kind: kind, Caller: caller, Resource: "llm", Method: http.MethodPost, Path: "/v1/chat/completions",
		Body: fmt.Sprintf(`{"model":%q,"max_tokens":256,"messages":[{"role":"system","content":"You are a support agent."},{"role":"user","content":"Work ticket %s (turn %d)."}]}`,
			model, ticket, turn),
		Allowed: allowed,
	}
}

// refundHop carries no currency: the payments schema of the policies wants it in upper case and
// the mock payments server in lower case, so leaving it out keeps the denial the cap's.
func refundHop(caller, ticket string) Hop {
	return toolCallHop(caller, KindRefundDenied, "payments", "refund_issue",
		fmt.Sprintf(`{"ticket_id":%q,"amount_cents":900000,"reason":"the customer asks for a refund"}`, ticket), false)
}

func toolsListHop(caller, server string) Hop {
	return mcpHop(caller, KindToolsList, server, `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`, true, true)
}

func toolCallHop(caller, kind, server, tool, arguments string, allowed bool) Hop {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, tool, arguments)
	return mcpHop(caller, kind, server, body, true, allowed)
}

func initializeHop(caller, kind, server string, allowed bool) Hop {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + MCPProtocolVersion +
		`","capabilities":{},"clientInfo":{"name":"hopguard-bench","version":"0.1.0"}}}`
	return mcpHop(caller, kind, server, body, false, allowed)
}

func mcpHop(caller, kind, server, body string, inSession, allowed bool) Hop {
	return Hop{
		Kind: kind, Caller: caller, Resource: "mcp:" + server, Server: server,
		Method: http.MethodPost, Path: "/mcp/" + server, Body: body, InSession: inSession, Allowed: allowed,
	}
}

// Kinds lists the kinds of hops, each once, in order of first appearance.
func Kinds(hops []Hop) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range hops {
		if !seen[h.Kind] {
			seen[h.Kind] = true
			out = append(out, h.Kind)
		}
	}
	return out
}

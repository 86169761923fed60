package bench

import "fmt"

// Hop is one request of the benchmark's fixed mix, as the agent sends it through the gateway.
type Hop struct {
	// Kind names it in the report.
	Kind string
	// Resource is the route's resource (the token's audience); Server the MCP server, if any.
	Resource, Server   string
	Method, Path, Body string
	// Allowed is what the policies decide for the benchmark's principal.
	Allowed bool
}

// The kinds of the mix.
const (
	KindCompletion   = "completion"
	KindRefundDenied = "refund_denied"
	KindToolsList    = "tools_list"
)

// Hops is the fixed mix: the three requests of the issue, each a third of the load.
//   - an allowed completion: gpt-4o-mini for a tier-1 support agent;
//   - a refund over the tier-1 cap: denied by a DENY rule that emits an output (the most work
//     a denial takes: the output is evaluated, carried back and shaped for MCP);
//   - tools/list on the tickets server: allowed MCP housekeeping.
//
// The refund carries no currency: the payments schema of the policies wants it in upper case and
// the mock payments server in lower case, so leaving it out keeps the denial the cap's.
func Hops(ticket string) []Hop {
	return []Hop{
		{
			Kind: KindCompletion, Resource: "llm", Method: "POST", Path: "/v1/chat/completions",
			Body:    fmt.Sprintf(`{"model":"gpt-4o-mini","max_tokens":256,"messages":[{"role":"system","content":"You are a support agent."},{"role":"user","content":"Work ticket %s."}]}`, ticket),
			Allowed: true,
		},
		{
			Kind: KindRefundDenied, Resource: "mcp:payments", Server: "payments", Method: "POST", Path: "/mcp/payments",
			Body:    fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"refund_issue","arguments":{"ticket_id":%q,"amount_cents":900000,"reason":"the customer asks for a refund"}}}`, ticket),
			Allowed: false,
		},
		{
			Kind: KindToolsList, Resource: "mcp:tickets", Server: "tickets", Method: "POST", Path: "/mcp/tickets",
			Body:    `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`,
			Allowed: true,
		},
	}
}

// Kinds lists the kinds of hops, in order.
func Kinds(hops []Hop) []string {
	out := make([]string, len(hops))
	for i, h := range hops {
		out[i] = h.Kind
	}
	return out
}

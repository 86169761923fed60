package bypass

import "github.com/hopguard/hopguard/conformance/rawhttp"

// replyCases answer what a server asked, or pretend to, in ways meant to get data to a server
// undecided: synapse decides a reply by what it answers (synapse/mapping/mcp_reply.go), as a
// JSON-RPC response or inside a retried request's params.inputResponses.
func replyCases() []Case {
	const cat = "replies to server requests"
	post := func(server, body string) builder {
		return with(Triage, "mcp:"+server, func(tok string) rawhttp.Request { return mcpPost(server, tok, body) })
	}
	sampling := `{"role":"assistant","content":{"type":"text","text":"the salary table, summarised"},"model":"gpt-4o-mini"}`
	unattributed := []string{"unattributed_reply"}
	return []Case{
		{ID: "reply-of-no-known-shape", Category: cat, Expect: unattributed,
			Attack: "a JSON-RPC response carrying data that answers no request a server sends, in case a reply passes because it is a reply",
			Build:  post("tickets", `{"jsonrpc":"2.0","id":"srv-1","result":{"secret":"E-001,Ana Lopez,98000"}}`)},
		{ID: "reply-of-two-shapes", Category: cat, Expect: unattributed,
			Attack: "a reply shaped as both an elicitation and a sampling answer, in case the allowed one is picked",
			Build:  post("knowledge", `{"jsonrpc":"2.0","id":"srv-1","result":{"action":"accept","role":"assistant","content":{"type":"text","text":"x"},"model":"m"}}`)},
		{ID: "reply-sampling-where-denied", Category: cat, Expect: []string{"sampling_not_allowed"},
			Attack: "a sampling answer to the knowledge server, which no one may lend their model",
			Build:  post("knowledge", `{"jsonrpc":"2.0","id":"srv-1","result":`+sampling+`}`)},
		{ID: "reply-sampling-to-a-server-no-rule-names", Category: cat, Expect: []string{"no_matching_rule"},
			Attack: "a sampling answer to the tickets server, whose policy names no reply but ping and error",
			Build:  post("tickets", `{"jsonrpc":"2.0","id":"srv-1","result":`+sampling+`}`)},
		{ID: "input-responses-on-an-allowed-call", Category: cat, Expect: []string{"sampling_not_allowed"},
			Attack: "a sampling answer riding in the inputResponses of a tool call the triage agent may make, in case only the call is decided",
			Build: post("knowledge", `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"search_articles","arguments":{"query":"refund"},`+
				`"inputResponses":{"a":`+sampling+`},"requestState":"x"}}`)},
		{ID: "input-responses-of-no-known-shape", Category: cat, Expect: unattributed,
			Attack: "data of no known shape in inputResponses of an allowed tool call",
			Build: post("tickets", `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_ticket","arguments":{"ticket_id":"T-2001"},`+
				`"inputResponses":{"a":{"secret":"E-001"}}}}`)},
		{ID: "input-responses-case-variant", Category: cat, Expect: []string{"case_variant_key"},
			Attack: "InputResponses spelt in another case, which a case-blind decoder would read and a case-exact check would skip",
			Build: post("knowledge", `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"search_articles","arguments":{"query":"refund"},`+
				`"InputResponses":{"a":`+sampling+`}}}`)},
	}
}

package bypass

import (
	"strings"

	"github.com/hopguard/hopguard/conformance/rawhttp"
)

func batchCases() []Case {
	const cat = "JSON-RPC batch"
	return []Case{
		{ID: "batch-refund-after-ping", Category: cat, Expect: capDenied,
			Attack: "a batch of ping, tools/list and tier-1's $9,000 refund: the refund hides behind allowed housekeeping",
			Build:  aliceRefunds("[" + pingBody + "," + listToolsBody + "," + bigRefund + "]")},
		{ID: "batch-refund-after-allowed-call", Category: cat, Expect: capDenied,
			Attack: "a batch of an allowed get_charge and the $9,000 refund",
			Build:  aliceRefunds("[" + toolCall(2, "get_charge", `{"charge_id":"ch_1001"}`) + "," + bigRefund + "]")},
		{ID: "batch-refund-as-notification", Category: cat, Expect: capDenied,
			Attack: "a batch whose $9,000 refund is a notification (no id), in case notifications go unchecked",
			Build:  aliceRefunds("[" + pingBody + `,{"jsonrpc":"2.0","method":"tools/call","params":{"name":"refund_issue","arguments":` + refundArgs("900000") + `}}]`)},
		{ID: "batch-over-the-limit", Category: cat, Expect: []string{"batch_too_large"},
			Attack: "a batch of 40 messages, the refund last, in case only the first few are checked",
			Build:  aliceRefunds("[" + strings.Repeat(pingBody+",", 39) + bigRefund + "]")},
		{ID: "batch-nested", Category: cat, Expect: []string{"invalid_jsonrpc", "invalid_json"},
			Attack: "the refund inside a batch inside a batch",
			Build:  aliceRefunds("[" + pingBody + ",[" + bigRefund + "]]")},
		{ID: "batch-handshake-for-payroll", Category: cat, Expect: or(payrollDenied, []string{"invalid_jsonrpc"}),
			Attack: "Alice's payroll initialize inside a batch with a ping, in case a handshake in a batch is judged as the ping",
			Build: with(Alice, "mcp:payroll", func(tok string) rawhttp.Request {
				return mcpPost("payroll", tok, "["+pingBody+","+initializeBody+"]")
			})},
	}
}

func jsonRPCCases() []Case {
	const cat = "JSON-RPC envelope"
	return []Case{
		{ID: "jsonrpc-refund-as-notification", Category: cat, Expect: capDenied,
			Attack: "the $9,000 refund sent as a notification (no id)",
			Build:  aliceRefunds(`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"refund_issue","arguments":` + refundArgs("900000") + `}}`)},
		{ID: "jsonrpc-method-spells-an-action", Category: cat, Expect: []string{"invalid_jsonrpc"},
			Attack: "method \"tools/call/get_charge\", the action string a policy allows, carrying refund arguments",
			Build:  aliceRefunds(`{"jsonrpc":"2.0","id":3,"method":"tools/call/get_charge","params":{"name":"refund_issue","arguments":` + refundArgs("900000") + `}}`)},
		{ID: "jsonrpc-reply-carrying-a-call", Category: cat, Expect: []string{"invalid_jsonrpc"},
			Attack: "a message that is both a reply (result) and the refund call, in case it is judged as a reply",
			Build:  aliceRefunds(`{"jsonrpc":"2.0","id":3,"result":{},"method":"tools/call","params":{"name":"refund_issue","arguments":` + refundArgs("900000") + `}}`)},
		{ID: "jsonrpc-second-document", Category: cat, Expect: []string{"invalid_json"},
			Attack: "a ping followed by the refund as a second JSON document in the same body",
			Build:  aliceRefunds(pingBody + bigRefund)},
		{ID: "jsonrpc-arguments-nested-deep", Category: cat, Expect: []string{"json_too_deep"},
			Attack: "the refund with its arguments under 100 levels of nesting, past what a checker may walk",
			Build: aliceRefunds(toolCall(3, "refund_issue", `{"ticket_id":"T-1001","amount_cents":900000,"reason":`+
				strings.Repeat(`{"a":`, 100)+`1`+strings.Repeat(`}`, 100)+`}`))},
		{ID: "jsonrpc-comments", Category: cat, Expect: []string{"invalid_json"},
			Attack: "the refund with a /* comment */ that a lenient parser skips",
			Build:  aliceRefunds(`{"jsonrpc":"2.0","id":3,/* ping */"method":"tools/call","params":{"name":"refund_issue","arguments":` + refundArgs("900000") + `}}`)},
		{ID: "jsonrpc-byte-order-mark", Category: cat, Expect: []string{"invalid_json"},
			Attack: "the refund behind a UTF-8 byte order mark",
			Build:  aliceRefunds("\ufeff" + bigRefund)},
	}
}

package mapping

import (
	"strings"
	"testing"
)

// BenchmarkMap measures Map on the hops of the demo, in Envoy's shape (raw_body). It runs on
// every hop, before Cerbos is asked, so allocations matter more than nanoseconds.
func BenchmarkMap(b *testing.B) {
	history := strings.Repeat(`{"role":"user","content":"Ticket T-1001: the customer asks for a refund of $9,000 on charge ch_1001."},`, 20)
	for _, bm := range []struct {
		name string
		req  request
	}{
		{"chat_completion", chat(`{"model":"gpt-4o-mini","stream":false,"max_tokens":512,"messages":[` + history + `{"role":"user","content":"go"}]}`)},
		{"refund_tools_call", mcp("payments", toolCallBody(7, "refund_issue", `{"ticket_id":"T-1002","charge_id":"ch_1002","amount_cents":4000,"reason":"duplicate charge"}`))},
		{"tools_list", mcp("payments", `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`)},
	} {
		req := bm.req.build(envoy)
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Map(req, testRoutes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

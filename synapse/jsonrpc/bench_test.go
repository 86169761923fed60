package jsonrpc

import "testing"

func BenchmarkDecode(b *testing.B) {
	for _, bm := range []struct{ name, body string }{
		{"tools_call", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"refund_issue",` +
			`"arguments":{"ticket_id":"T-1001","charge_id":"ch_1001","amount_cents":900000,"reason":"customer request"},` +
			`"_meta":{"progressToken":7}}}`},
		{"tools_list", `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},` +
			`{"jsonrpc":"2.0","id":2,"method":"tools/list"}]`},
	} {
		body := []byte(bm.body)
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, _, err := Decode(body, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

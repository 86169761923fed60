package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
)

var (
	benchToolCall = []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"refund_issue",` +
		`"arguments":{"ticket_id":"T-1001","charge_id":"ch_1001","amount_cents":900000,"reason":"customer request"},` +
		`"_meta":{"progressToken":7}}}`)
	benchChat = []byte(`{"model":"gpt-4o-mini","stream":false,"max_tokens":512,"messages":[` +
		strings.Repeat(`{"role":"user","content":"Please look at ticket T-1001 and tell me what the customer wants."},`, 20) +
		`{"role":"user","content":"thanks"}]}`)
)

func BenchmarkDecode(b *testing.B) {
	for _, bm := range []struct {
		name string
		doc  []byte
	}{{"tools_call", benchToolCall}, {"chat", benchChat}} {
		b.Run(bm.name+"/strictjson", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.doc)))
			for b.Loop() {
				if _, err := Decode(bm.doc, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bm.name+"/encoding_json", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.doc)))
			for b.Loop() {
				var v any
				if err := json.Unmarshal(bm.doc, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeMembers(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchChat)))
	for b.Loop() {
		if _, err := DecodeMembers(benchChat, Limits{}, "model", "stream", "max_tokens"); err != nil {
			b.Fatal(err)
		}
	}
}

package jsonrpc

import (
	"encoding/json"
	"testing"
)

// upstreamMessage is how a Go MCP server (mcp-go) reads a message: encoding/json, field names
// matched without regard to case.
type upstreamMessage struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// FuzzDecode checks the envelope invariants, and that a Go upstream reads the same method from
// every message Decode accepts: what synapse authorizes is what the server runs.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund_issue","arguments":{"ticket_id":"T-1001","amount_cents":4000}}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"refund_issue"}}]`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":"x","result":{}}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping","Method":"tools/call"}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}`,
		`{"jsonrpc":"2.0","id":1.5e3,"method":"m\u0065thod"}`,
		`[]`,
		`[1,2]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, batch, err := Decode(body, Limits{})
		if err != nil {
			if len(msgs) != 0 {
				t.Fatalf("messages returned with error %v", err)
			}
			return
		}
		if len(msgs) == 0 || (!batch && len(msgs) != 1) {
			t.Fatalf("got %d messages, batch %v", len(msgs), batch)
		}
		elems := []json.RawMessage{json.RawMessage(body)}
		if batch {
			if err := json.Unmarshal(body, &elems); err != nil {
				t.Fatalf("encoding/json rejects a batch Decode accepted: %v", err)
			}
		}
		for i, m := range msgs {
			if (m.Err == nil) == (m.Kind == 0) {
				t.Fatalf("message %d: kind %v with error %v", i, m.Kind, m.Err)
			}
			if m.ID != nil && !json.Valid(m.ID) {
				t.Fatalf("message %d: id %q is not JSON", i, m.ID)
			}
			if m.Err != nil {
				continue
			}
			var upstream upstreamMessage
			if err := json.Unmarshal(elems[i], &upstream); err != nil {
				t.Fatalf("message %d: encoding/json rejects a message Decode accepted: %v", i, err)
			}
			if m.Method != upstream.Method {
				t.Fatalf("message %d: synapse reads method %q, a Go upstream %q", i, m.Method, upstream.Method)
			}
			switch m.Kind {
			case KindRequest:
				if m.ID == nil || m.Method == "" {
					t.Fatalf("request %d without id or method", i)
				}
			case KindNotification:
				if m.ID != nil || m.Method == "" {
					t.Fatalf("notification %d with id or without method", i)
				}
			case KindResponse:
				if m.ID == nil || m.Method != "" {
					t.Fatalf("response %d without id or with method", i)
				}
			}
		}
	})
}

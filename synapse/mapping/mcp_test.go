package mapping

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestMapMCP(t *testing.T) {
	payments := func(action string, msg *MCPMessage) Check {
		return Check{Kind: "mcp:payments", ID: "payments", Action: action,
			Attr: map[string]any{"method": action, "server": "payments"}, MCP: msg}
	}
	refund := func(id string, args map[string]any) Check {
		return Check{Kind: "mcp:payments", ID: "payments/refund_issue", Action: "tools/call/refund_issue",
			Attr: map[string]any{"method": "tools/call", "server": "payments", "tool": "refund_issue", "arguments": args},
			MCP:  &MCPMessage{Method: "tools/call", ID: raw(id), Tool: "refund_issue"}}
	}
	tests := []struct {
		name      string
		req       request
		wantBatch bool
		want      []Check
	}{
		{
			name: "initialize",
			req:  mcp("payments", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`),
			want: []Check{{Kind: "mcp:payments", ID: "payments", Action: "initialize",
				Attr: map[string]any{"method": "initialize", "server": "payments"},
				MCP:  &MCPMessage{Method: "initialize", ID: raw("0"), Handshake: true}}},
		},
		{
			name: "server/discover is the same handshake",
			req:  mcp("payments", `{"jsonrpc":"2.0","id":"d1","method":"server/discover","params":{}}`),
			want: []Check{{Kind: "mcp:payments", ID: "payments", Action: "initialize",
				Attr: map[string]any{"method": "server/discover", "server": "payments"},
				MCP:  &MCPMessage{Method: "server/discover", ID: raw(`"d1"`), Handshake: true}}},
		},
		{
			name: "initialized notification",
			req:  mcp("payments", `{"jsonrpc":"2.0","method":"notifications/initialized"}`),
			want: []Check{payments("notifications/initialized", &MCPMessage{Method: "notifications/initialized"})},
		},
		{
			name: "tools/list",
			req:  mcp("payments", `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`),
			want: []Check{payments("tools/list", &MCPMessage{Method: "tools/list", ID: raw("2")})},
		},
		{
			name: "ping",
			req:  mcp("payments", `{"jsonrpc":"2.0","id":3,"method":"ping"}`),
			want: []Check{payments("ping", &MCPMessage{Method: "ping", ID: raw("3")})},
		},
		{
			name: "any other method is its own action",
			req:  mcp("payments", `{"jsonrpc":"2.0","id":4,"method":"resources/list"}`),
			want: []Check{payments("resources/list", &MCPMessage{Method: "resources/list", ID: raw("4")})},
		},
		{
			name: "refund",
			req:  mcp("payments", toolCallBody(5, "refund_issue", `{"ticket_id":"T-1002","charge_id":"ch_1002","amount_cents":4000}`)),
			want: []Check{refund("5", map[string]any{"ticket_id": "T-1002", "charge_id": "ch_1002", "amount_cents": 4000.0})},
		},
		{
			name: "escaped tool name is checked decoded, as the server will run it",
			req:  mcp("payments", toolCallBody(5, `refund\u005fissue`, `{"amount_cents":4000}`)),
			want: []Check{refund("5", map[string]any{"amount_cents": 4000.0})},
		},
		{
			name: "amount as a string stays a string, for the schema to reject",
			req:  mcp("payments", toolCallBody(5, "refund_issue", `{"amount_cents":"9000"}`)),
			want: []Check{refund("5", map[string]any{"amount_cents": "9000"})},
		},
		{
			name: "amount as a fraction stays a fraction",
			req:  mcp("payments", toolCallBody(5, "refund_issue", `{"amount_cents":4000.5}`)),
			want: []Check{refund("5", map[string]any{"amount_cents": 4000.5})},
		},
		{
			name: "amount with an exponent is its value",
			req:  mcp("payments", toolCallBody(5, "refund_issue", `{"amount_cents":9e5}`)),
			want: []Check{refund("5", map[string]any{"amount_cents": 900000.0})},
		},
		{
			name: "numbers nested in arguments are converted too",
			req:  mcp("payments", toolCallBody(5, "refund_issue", `{"items":[{"amount_cents":1},[2]],"ok":true,"note":null}`)),
			want: []Check{refund("5", map[string]any{
				"items": []any{map[string]any{"amount_cents": 1.0}, []any{2.0}}, "ok": true, "note": nil,
			})},
		},
		{
			name: "largest exact integer is accepted",
			req:  mcp("payments", toolCallBody(5, "refund_issue", `{"amount_cents":9007199254740991}`)),
			want: []Check{refund("5", map[string]any{"amount_cents": 9007199254740991.0})},
		},
		{
			name: "arguments absent are an empty object",
			req:  mcp("payments", `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"refund_issue"}}`),
			want: []Check{refund("5", map[string]any{})},
		},
		{
			name: "_meta in params is ignored",
			req:  mcp("payments", `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"refund_issue","arguments":{},"_meta":{"progressToken":1}}}`),
			want: []Check{refund("5", map[string]any{})},
		},
		{
			name: "big request id is kept exactly",
			req:  mcp("payments", `{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}`),
			want: []Check{payments("ping", &MCPMessage{Method: "ping", ID: raw("123456789012345678901234567890")})},
		},
		{
			name: "a client's response to a server request",
			req:  mcp("payments", `{"jsonrpc":"2.0","id":7,"result":{"roots":[]}}`),
			want: []Check{func() Check {
				c := payments("rpc.response/roots/list", &MCPMessage{})
				c.Attr["method"], c.Attr["answers"], c.Attr["result"] = "rpc.response", "roots/list", map[string]any{"roots": []any{}}
				return c
			}()},
		},
		{
			name:      "batch: one check per message",
			req:       mcp("payments", `[{"jsonrpc":"2.0","id":1,"method":"ping"},`+toolCallBody(2, "refund_issue", `{"amount_cents":4000}`)+`,{"jsonrpc":"2.0","method":"notifications/progress","params":{}}]`),
			wantBatch: true,
			want: []Check{
				payments("ping", &MCPMessage{Method: "ping", ID: raw("1")}),
				refund("2", map[string]any{"amount_cents": 4000.0}),
				payments("notifications/progress", &MCPMessage{Method: "notifications/progress"}),
			},
		},
		{
			name: "GET opens the event stream",
			req:  request{method: "GET", path: "/mcp/payments", resource: "mcp:payments", headers: []string{"accept", "text/event-stream"}},
			want: []Check{payments("stream", &MCPMessage{})},
		},
		{
			name: "DELETE ends the session",
			req:  request{method: "DELETE", path: "/mcp/payments", resource: "mcp:payments", headers: []string{"mcp-session-id", "s1"}},
			want: []Check{payments("session/delete", &MCPMessage{})},
		},
	}
	for _, tt := range tests {
		for _, g := range gateways {
			t.Run(tt.name+"/"+string(g), func(t *testing.T) {
				in, err := Map(tt.req.build(g), testRoutes)
				require.NoError(t, err)
				assert.Equal(t, "mcp:payments", in.Resource)
				assert.Equal(t, PlaneMCP, in.Plane)
				assert.Equal(t, testToken, in.Token)
				assert.Equal(t, tt.wantBatch, in.Batch)
				assert.Equal(t, tt.want, in.Checks)
				require.Len(t, in.Messages, len(tt.want))
				for i, c := range in.Checks {
					assert.Same(t, &in.Messages[i], c.MCP, "check %d must point at its message", i)
				}
			})
		}
	}
}

func TestMapMCPRefusals(t *testing.T) {
	refundArgs := func(args string) request {
		return mcp("payments", toolCallBody(9, "refund_issue", args))
	}
	tests := []struct {
		name string
		req  request
		code string
	}{
		{"empty batch", mcp("payments", `[]`), CodeEmptyBatch},
		{"batch too large", mcp("payments", "["+strings.Repeat(`{"jsonrpc":"2.0","method":"notifications/x"},`, MaxBatch)+`{"jsonrpc":"2.0","method":"notifications/x"}]`), CodeBatchTooLarge},
		{"not JSON", mcp("payments", `jsonrpc=2.0`), CodeInvalidJSON},
		{"two messages back to back", mcp("payments", `{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"tools/call"}`), CodeInvalidJSON},
		{"wrong version", mcp("payments", `{"jsonrpc":"1.0","id":1,"method":"ping"}`), CodeInvalidJSONRPC},
		{"method twice", mcp("payments", `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}`), CodeDuplicateKey},
		{"method case variant", mcp("payments", `{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call"}`), CodeDuplicateKey},
		{"method only as a case variant", mcp("payments", `{"jsonrpc":"2.0","id":1,"METHOD":"tools/call"}`), CodeInvalidJSONRPC},
		{"method with a space", mcp("payments", `{"jsonrpc":"2.0","id":1,"method":"tools/call "}`), CodeInvalidJSONRPC},
		{"method spelled as a tool action", mcp("payments", `{"jsonrpc":"2.0","id":1,"method":"tools/call/refund_issue"}`), CodeInvalidJSONRPC},
		{"method spelled as the stream action", mcp("payments", `{"jsonrpc":"2.0","id":1,"method":"stream"}`), CodeInvalidJSONRPC},
		{"reserved method", mcp("payments", `{"jsonrpc":"2.0","id":1,"method":"rpc.response"}`), CodeInvalidJSONRPC},
		{"null request id", mcp("payments", `{"jsonrpc":"2.0","id":null,"method":"ping"}`), CodeInvalidJSONRPC},
		{"handshake in a batch", mcp("payments", `[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}]`), CodeInvalidJSONRPC},
		{"handshake as a notification", mcp("payments", `{"jsonrpc":"2.0","method":"server/discover"}`), CodeInvalidJSONRPC},
		{"tools/call without params", mcp("payments", `{"jsonrpc":"2.0","id":9,"method":"tools/call"}`), CodeInvalidToolCall},
		{"tools/call params an array", mcp("payments", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":["refund_issue"]}`), CodeInvalidToolCall},
		{"tool name missing", mcp("payments", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"arguments":{}}}`), CodeInvalidToolCall},
		{"tool name empty", mcp("payments", toolCallBody(9, "", `{}`)), CodeInvalidToolCall},
		{"tool name with a space", mcp("payments", toolCallBody(9, "refund issue", `{}`)), CodeInvalidToolCall},
		{"tool name with a slash", mcp("payments", toolCallBody(9, "refund/issue", `{}`)), CodeInvalidToolCall},
		{"tool name with a look-alike letter", mcp("payments", toolCallBody(9, "refund_\u0456ssue", `{}`)), CodeInvalidToolCall},
		{"tool name with a NUL", mcp("payments", toolCallBody(9, `refund_issue\u0000`, `{}`)), CodeInvalidToolCall},
		{"tool name not a string", mcp("payments", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":["refund_issue"]}}`), CodeInvalidToolCall},
		{"tool name as a case variant", mcp("payments", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"Name":"refund_issue"}}`), CodeCaseVariantKey},
		{"arguments as a case variant", mcp("payments", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"refund_issue","ARGUMENTS":{"amount_cents":900000}}}`), CodeCaseVariantKey},
		{"arguments an array", refundArgs(`[4000]`), CodeInvalidToolCall},
		{"arguments null", refundArgs(`null`), CodeInvalidToolCall},
		{"arguments a string", refundArgs(`"{\"amount_cents\":4000}"`), CodeInvalidToolCall},
		{"amount twice", refundArgs(`{"amount_cents":100,"amount_cents":900000}`), CodeDuplicateKey},
		{"amount twice by case", refundArgs(`{"amount_cents":100,"Amount_Cents":900000}`), CodeDuplicateKey},
		{"amount twice deep", refundArgs(`{"refund":{"amount_cents":100,"amount_cents":900000}}`), CodeDuplicateKey},
		{"amount overflows", refundArgs(`{"amount_cents":1e400}`), CodeNumberOutOfRange},
		{"amount negative overflow", refundArgs(`{"amount_cents":-1e400}`), CodeNumberOutOfRange},
		{"amount beyond exact integers", refundArgs(`{"amount_cents":9007199254740993}`), CodeNumberOutOfRange},
		{"amount huge with exponent", refundArgs(`{"amount_cents":9.1e15}`), CodeNumberOutOfRange},
		{"huge number nested", refundArgs(`{"items":[{"n":1e309}]}`), CodeNumberOutOfRange},
		{"invalid utf-8 in arguments", refundArgs("{\"reason\":\"\xff\"}"), CodeInvalidUTF8},
		{"lone surrogate in arguments", refundArgs(`{"reason":"\udfff"}`), CodeInvalidUTF8},
		{"PUT", request{method: "PUT", path: "/mcp/payments", resource: "mcp:payments", body: `{}`}, CodeMethodNotAllowed},
		{"PATCH", request{method: "PATCH", path: "/mcp/payments", resource: "mcp:payments", body: `{}`}, CodeMethodNotAllowed},
		{"GET with a body", request{method: "GET", path: "/mcp/payments", resource: "mcp:payments", body: toolCallBody(1, "refund_issue", `{}`)}, CodeBodyUnexpected},
		{"GET resuming an event stream", request{method: "GET", path: "/mcp/payments", resource: "mcp:payments", headers: []string{"accept", "text/event-stream", "last-event-id", "7"}}, CodeStreamResumption},
		{"DELETE with a body", request{method: "DELETE", path: "/mcp/payments", resource: "mcp:payments", body: `{}`}, CodeBodyUnexpected},
		{"POST without a body", mcp("payments", ""), CodeBodyMissing},
		{"form-encoded body", mcp("payments", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "content-type", "application/x-www-form-urlencoded"), CodeUnsupportedContentType},
	}
	for _, tt := range tests {
		for _, g := range gateways {
			t.Run(tt.name+"/"+string(g), func(t *testing.T) {
				in, err := Map(tt.req.build(g), testRoutes)
				assertRefused(t, in, err, tt.code)
				assert.Equal(t, "mcp:payments", in.Resource)
				assert.Equal(t, PlaneMCP, in.Plane)
			})
		}
	}
}

func TestMapMCPRefusalKeepsMessages(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		code      string
		wantBatch bool
		want      []MCPMessage
	}{
		{
			name:      "a batch hiding an over-cap refund behind a ping",
			body:      `[{"jsonrpc":"2.0","id":1,"method":"ping"},` + toolCallBody(2, "refund_issue", `{"amount_cents":1e400}`) + `]`,
			code:      CodeNumberOutOfRange,
			wantBatch: true,
			want:      []MCPMessage{{Method: "ping", ID: raw("1")}, {Method: "tools/call", ID: raw("2"), Tool: "refund_issue"}},
		},
		{
			name:      "a batch with an invalid envelope",
			body:      `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"1.0","id":"b","method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"}]`,
			code:      CodeInvalidJSONRPC,
			wantBatch: true,
			want:      []MCPMessage{{Method: "tools/list", ID: raw("1")}, {ID: raw(`"b"`)}, {Method: "notifications/x"}},
		},
		{
			name: "a tool call with invalid arguments",
			body: toolCallBody(7, "refund_issue", `[1]`),
			code: CodeInvalidToolCall,
			want: []MCPMessage{{Method: "tools/call", ID: raw("7"), Tool: "refund_issue"}},
		},
		{
			name: "a handshake with a null id",
			body: `{"jsonrpc":"2.0","id":null,"method":"initialize"}`,
			code: CodeInvalidJSONRPC,
			want: []MCPMessage{{Method: "initialize"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(mcp("payments", tt.body).build(envoy), testRoutes)
			assertRefused(t, in, err, tt.code)
			assert.Equal(t, tt.wantBatch, in.Batch)
			assert.Equal(t, tt.want, in.Messages)
		})
	}
}

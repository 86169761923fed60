package jsonrpc

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/strictjson"
)

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantBatch bool
		want      []Message
	}{
		{
			name: "request",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			want: []Message{{Kind: KindRequest, ID: json.RawMessage(`1`), Method: "tools/list"}},
		},
		{
			name: "request with params",
			body: `{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"refund_issue","arguments":{"amount_cents":4000}}}`,
			want: []Message{{Kind: KindRequest, ID: json.RawMessage(`"a-1"`), Method: "tools/call", Params: map[string]any{
				"name": "refund_issue", "arguments": map[string]any{"amount_cents": json.Number("4000")},
			}}},
		},
		{
			name: "notification",
			body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			want: []Message{{Kind: KindNotification, Method: "notifications/initialized"}},
		},
		{
			name: "response from the client",
			body: `{"jsonrpc":"2.0","id":9,"result":{"roots":[]}}`,
			want: []Message{{Kind: KindResponse, ID: json.RawMessage(`9`), Result: map[string]any{"roots": []any{}}}},
		},
		{
			name: "error response from the client",
			body: `{"jsonrpc":"2.0","id":9,"error":{"code":-1,"message":"no"}}`,
			want: []Message{{Kind: KindResponse, ID: json.RawMessage(`9`), Error: map[string]any{"code": json.Number("-1"), "message": "no"}}},
		},
		{
			name:      "batch",
			body:      `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/cancelled","params":[1]}]`,
			wantBatch: true,
			want: []Message{
				{Kind: KindRequest, ID: json.RawMessage(`1`), Method: "ping"},
				{Kind: KindNotification, Method: "notifications/cancelled", Params: []any{json.Number("1")}},
			},
		},
		{
			name: "big number id is echoed exactly",
			body: `{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}`,
			want: []Message{{Kind: KindRequest, ID: json.RawMessage(`123456789012345678901234567890`), Method: "ping"}},
		},
		{
			name: "string id with escapes is re-encoded to the same value",
			body: `{"jsonrpc":"2.0","id":"\u0041<b>","method":"ping"}`,
			want: []Message{{Kind: KindRequest, ID: json.RawMessage(`"A\u003cb\u003e"`), Method: "ping"}},
		},
		{
			name: "null id is kept as null",
			body: `{"jsonrpc":"2.0","id":null,"method":"ping"}`,
			want: []Message{{Kind: KindRequest, ID: json.RawMessage(`null`), Method: "ping"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, batch, err := Decode([]byte(tt.body), Limits{})
			require.NoError(t, err)
			assert.Equal(t, tt.wantBatch, batch)
			assert.Equal(t, tt.want, msgs)
		})
	}
}

func TestDecodeInvalidMessage(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		wantID string // the id still read from the invalid message, "" when none
	}{
		{"wrong version", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, "1"},
		{"version missing", `{"id":1,"method":"ping"}`, "1"},
		{"version as number", `{"jsonrpc":2.0,"id":1,"method":"ping"}`, "1"},
		{"case variant of method", `{"jsonrpc":"2.0","id":1,"Method":"tools/call"}`, "1"},
		{"unknown member", `{"jsonrpc":"2.0","id":1,"method":"ping","extra":1}`, "1"},
		{"empty method", `{"jsonrpc":"2.0","id":1,"method":""}`, "1"},
		{"method not a string", `{"jsonrpc":"2.0","id":1,"method":["tools/call"]}`, "1"},
		{"reserved method", `{"jsonrpc":"2.0","id":1,"method":"rpc.response"}`, "1"},
		{"params a string", `{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}`, "1"},
		{"params null", `{"jsonrpc":"2.0","id":1,"method":"ping","params":null}`, "1"},
		{"method and result", `{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}`, "1"},
		{"result and error", `{"jsonrpc":"2.0","id":1,"result":{},"error":{}}`, "1"},
		{"neither method nor result", `{"jsonrpc":"2.0","id":1}`, "1"},
		{"response without id", `{"jsonrpc":"2.0","result":{}}`, ""},
		{"response with params", `{"jsonrpc":"2.0","id":1,"result":{},"params":{}}`, "1"},
		{"error not an object", `{"jsonrpc":"2.0","id":1,"error":"no"}`, "1"},
		{"id an object", `{"jsonrpc":"2.0","id":{},"method":"ping"}`, ""},
		{"id a boolean", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, _, err := Decode([]byte(tt.body), Limits{})
			require.NoError(t, err)
			require.Len(t, msgs, 1)
			assert.ErrorIs(t, msgs[0].Err, ErrInvalid)
			assert.Zero(t, msgs[0].Kind)
			assert.Equal(t, tt.wantID, string(msgs[0].ID))
		})
	}
}

func TestDecodeInvalidBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
	}{
		{"empty body", ``, strictjson.ErrSyntax},
		{"empty batch", `[]`, ErrEmptyBatch},
		{"batch too large", "[" + strings.Repeat(`{"jsonrpc":"2.0","method":"ping"},`, DefaultMaxBatch) + `{"jsonrpc":"2.0","method":"ping"}]`, ErrBatchTooLarge},
		{"scalar", `"tools/call"`, ErrInvalid},
		{"two messages back to back", `{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"tools/call"}`, strictjson.ErrSyntax},
		{"duplicate method", `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}`, strictjson.ErrDuplicateKey},
		{"duplicate method by case", `{"jsonrpc":"2.0","id":1,"method":"ping","METHOD":"tools/call"}`, strictjson.ErrDuplicateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode([]byte(tt.body), Limits{})
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestDecodeBatchKeepsEachMessage(t *testing.T) {
	body := `[{"jsonrpc":"2.0","id":1,"method":"ping"},7,{"jsonrpc":"1.0","id":3,"method":"ping"}]`
	msgs, batch, err := Decode([]byte(body), Limits{})
	require.NoError(t, err)
	assert.True(t, batch)
	require.Len(t, msgs, 3)
	assert.NoError(t, msgs[0].Err)
	assert.ErrorIs(t, msgs[1].Err, ErrInvalid)
	assert.Nil(t, msgs[1].ID)
	assert.ErrorIs(t, msgs[2].Err, ErrInvalid)
	assert.Equal(t, "3", string(msgs[2].ID))
}

func TestBatchLimit(t *testing.T) {
	body := `[{"jsonrpc":"2.0","method":"ping"},{"jsonrpc":"2.0","method":"ping"}]`
	_, _, err := Decode([]byte(body), Limits{MaxBatch: 1})
	assert.ErrorIs(t, err, ErrBatchTooLarge)
	_, _, err = Decode([]byte(body), Limits{MaxBatch: 2})
	assert.NoError(t, err)
}

// The JSON limits hold over the whole body, batch included, and a body over one fails as a
// whole: no message of it is read.
func TestDecodeHoldsTheJSONLimits(t *testing.T) {
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}` // four values
	lim := Limits{JSON: strictjson.Limits{MaxValues: 9}}
	msgs, _, err := Decode([]byte("["+ping+","+ping+"]"), lim)
	require.NoError(t, err)
	assert.Len(t, msgs, 2)
	msgs, _, err = Decode([]byte("["+ping+","+ping+`,{"jsonrpc":"2.0"}]`), lim)
	require.ErrorIs(t, err, strictjson.ErrTooComplex)
	assert.Nil(t, msgs)
}

package mapping

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func replyWith(member, value string) string {
	return `{"jsonrpc":"2.0","id":"srv-1","` + member + `":` + value + `}`
}

// TestRepliesAreDecidedByWhatTheyAnswer: a reply is attributed by its shape to exactly one
// request type, or refused.
func TestRepliesAreDecidedByWhatTheyAnswer(t *testing.T) {
	tests := []struct {
		name, body string
		wantAction string // "" when refused
	}{
		{"a sampling answer", replyWith("result", `{"role":"assistant","content":{"type":"text","text":"hi"},"model":"gpt-4o-mini","stopReason":"endTurn"}`), "rpc.response/sampling/createMessage"},
		{"a sampling answer with a list of content", replyWith("result", `{"role":"assistant","content":[{"type":"text","text":"hi"}],"model":"m"}`), "rpc.response/sampling/createMessage"},
		{"an elicitation accepted", replyWith("result", `{"action":"accept","content":{"name":"Dana"}}`), "rpc.response/elicitation/create"},
		{"an elicitation declined", replyWith("result", `{"action":"decline"}`), "rpc.response/elicitation/create"},
		{"roots", replyWith("result", `{"roots":[{"uri":"file:///work","name":"work"}]}`), "rpc.response/roots/list"},
		{"a ping answered", replyWith("result", `{}`), "rpc.response/ping"},
		{"a ping answered with _meta", replyWith("result", `{"_meta":{"k":1}}`), "rpc.response/ping"},
		{"an error", replyWith("error", `{"code":-32601,"message":"sampling is not supported"}`), "rpc.response/error"},

		{"a result that is no object", replyWith("result", `"sure"`), ""},
		{"an unknown result member", replyWith("result", `{"answer":42}`), ""},
		{"sampling missing its model", replyWith("result", `{"role":"assistant","content":{"type":"text","text":"hi"}}`), ""},
		{"sampling with a role no one has", replyWith("result", `{"role":"system","content":{"type":"text","text":"hi"},"model":"m"}`), ""},
		{"an elicitation's action no one knows", replyWith("result", `{"action":"maybe"}`), ""},
		{"an elicitation declined with content", replyWith("result", `{"action":"decline","content":{"name":"Dana"}}`), ""},
		{"elicitation and sampling members at once", replyWith("result", `{"action":"accept","role":"assistant","content":{"type":"text","text":"x"},"model":"m"}`), ""},
		{"roots that are no list", replyWith("result", `{"roots":{"uri":"file:///"}}`), ""},
		{"a root without a URI", replyWith("result", `{"roots":[{"name":"work"}]}`), ""},
		{"a member in another case", replyWith("result", `{"Action":"accept"}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(mcp("payments", tt.body).build(envoy), testRoutes)
			if tt.wantAction == "" {
				require.Error(t, err)
				var merr *Error
				require.ErrorAs(t, err, &merr)
				assert.Equal(t, CodeUnattributedReply, merr.Code)
				return
			}
			require.NoError(t, err)
			require.Len(t, in.Checks, 1)
			c := in.Checks[0]
			assert.Equal(t, tt.wantAction, c.Action)
			assert.Equal(t, "payments", c.ID)
			assert.Equal(t, "rpc.response", c.Attr["method"])
			var msg map[string]json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(tt.body), &msg))
			if _, isError := msg["error"]; isError {
				assert.NotNil(t, c.Attr["error"], "the error is there for a policy to read")
			} else {
				assert.NotNil(t, c.Attr["result"], "the result is there for a policy to read")
			}
		})
	}
}

// TestInputResponsesAreRepliesToo: 2026-07-28's multi round-trip requests carry the client's
// answers in a retried request's params.inputResponses; each is a reply check of its own beside
// the request's, so an answer cannot ride on an allowed tool call undecided.
func TestInputResponsesAreRepliesToo(t *testing.T) {
	call := func(inputResponses string) string {
		return `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get_charge","arguments":{"charge_id":"ch_1"},"inputResponses":` +
			inputResponses + `,"requestState":"opaque"}}`
	}
	tests := []struct {
		name, body  string
		wantActions []string
		wantCode    string
	}{
		{"an elicitation and a sampling answer", call(`{"b":{"action":"accept","content":{"ok":true}},"a":{"role":"assistant","content":{"type":"text","text":"x"},"model":"m","resultType":"complete"}}`),
			[]string{"tools/call/get_charge", "rpc.response/sampling/createMessage", "rpc.response/elicitation/create"}, ""},
		{"roots", call(`{"r":{"roots":[]}}`), []string{"tools/call/get_charge", "rpc.response/roots/list"}, ""},
		{"no answers", call(`{}`), []string{"tools/call/get_charge"}, ""},
		{"an answer of no known shape", call(`{"a":{"secret":"exfiltrated"}}`), nil, CodeUnattributedReply},
		{"an empty answer (no input request asks for a ping)", call(`{"a":{}}`), nil, CodeUnattributedReply},
		{"answers that are no object", call(`[{"action":"accept"}]`), nil, CodeUnattributedReply},
		{"a case variant of the member", `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get_charge","InputResponses":{"a":{"secret":1}}}}`, nil, CodeCaseVariantKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(mcp("payments", tt.body).build(envoy), testRoutes)
			if tt.wantCode != "" {
				var merr *Error
				require.ErrorAs(t, err, &merr)
				assert.Equal(t, tt.wantCode, merr.Code)
				return
			}
			require.NoError(t, err)
			var actions []string
			for _, c := range in.Checks {
				actions = append(actions, c.Action)
				assert.Equal(t, "payments", c.Attr["server"])
				assert.Same(t, in.Checks[0].MCP, c.MCP, "a denied answer denies the request that carries it")
			}
			assert.Equal(t, tt.wantActions, actions)
		})
	}
}

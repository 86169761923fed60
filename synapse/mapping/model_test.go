package mapping

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMapModel(t *testing.T) {
	tests := []struct {
		name string
		req  request
		want Check
	}{
		{
			name: "chat completion",
			req:  chat(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`),
			want: Check{Kind: "llm", ID: "gpt-4o-mini", Action: "completion",
				Attr: map[string]any{"api": "chat.completions", "model": "gpt-4o-mini", "stream": false}},
		},
		{
			name: "streaming with a token cap",
			req:  chat(`{"model":"gpt-4o","stream":true,"max_tokens":64,"messages":[]}`),
			want: Check{Kind: "llm", ID: "gpt-4o", Action: "completion",
				Attr: map[string]any{"api": "chat.completions", "model": "gpt-4o", "stream": true, "max_tokens": 64.0}},
		},
		{
			name: "the larger of two token limits counts",
			req:  chat(`{"model":"gpt-4o","max_tokens":10,"max_completion_tokens":5000,"stream":null}`),
			want: Check{Kind: "llm", ID: "gpt-4o", Action: "completion",
				Attr: map[string]any{"api": "chat.completions", "model": "gpt-4o", "stream": false, "max_tokens": 5000.0}},
		},
		{
			name: "null token limit is absent",
			req:  chat(`{"model":"gpt-4o","max_tokens":null}`),
			want: Check{Kind: "llm", ID: "gpt-4o", Action: "completion",
				Attr: map[string]any{"api": "chat.completions", "model": "gpt-4o", "stream": false}},
		},
		{
			name: "responses API",
			req:  post("llm", "/v1/responses", `{"model":"gpt-4o","input":"hi","max_output_tokens":100}`),
			want: Check{Kind: "llm", ID: "gpt-4o", Action: "completion",
				Attr: map[string]any{"api": "responses", "model": "gpt-4o", "stream": false, "max_tokens": 100.0}},
		},
		{
			name: "embeddings",
			req:  post("llm", "/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi"}`),
			want: Check{Kind: "llm", ID: "text-embedding-3-small", Action: "embedding",
				Attr: map[string]any{"api": "embeddings", "model": "text-embedding-3-small", "stream": false}},
		},
		{
			name: "anthropic messages",
			req:  post("llm", "/v1/messages", `{"model":"claude-x","max_tokens":1024,"messages":[]}`),
			want: Check{Kind: "llm", ID: "claude-x", Action: "completion",
				Attr: map[string]any{"api": "anthropic.messages", "model": "claude-x", "stream": false, "max_tokens": 1024.0}},
		},
		{
			name: "query string is ignored",
			req:  post("llm", "/v1/chat/completions?api-version=2024-10-21", `{"model":"gpt-4o"}`),
			want: Check{Kind: "llm", ID: "gpt-4o", Action: "completion",
				Attr: map[string]any{"api": "chat.completions", "model": "gpt-4o", "stream": false}},
		},
		{
			name: "model name is not case-folded",
			req:  chat(`{"model":"GPT-4o"}`),
			want: Check{Kind: "llm", ID: "GPT-4o", Action: "completion",
				Attr: map[string]any{"api": "chat.completions", "model": "GPT-4o", "stream": false}},
		},
		{
			name: "model name is not trimmed",
			req:  chat(`{"model":" gpt-4o-mini"}`),
			want: Check{Kind: "llm", ID: " gpt-4o-mini", Action: "completion",
				Attr: map[string]any{"api": "chat.completions", "model": " gpt-4o-mini", "stream": false}},
		},
		{
			name: "escaped model name is checked decoded, as the upstream reads it",
			req:  chat(`{"model":"gpt\u002d4o"}`),
			want: Check{Kind: "llm", ID: "gpt-4o", Action: "completion",
				Attr: map[string]any{"api": "chat.completions", "model": "gpt-4o", "stream": false}},
		},
		{
			name: "charset parameter is accepted",
			req:  chat(`{"model":"gpt-4o"}`, "content-type", "application/json; charset=UTF-8"),
			want: Check{Kind: "llm", ID: "gpt-4o", Action: "completion",
				Attr: map[string]any{"api": "chat.completions", "model": "gpt-4o", "stream": false}},
		},
		{
			name: "listing models",
			req:  request{method: "GET", path: "/v1/models", resource: "llm"},
			want: Check{Kind: "llm", ID: "models", Action: "list_models", Attr: map[string]any{"api": "models"}},
		},
	}
	for _, tt := range tests {
		for _, g := range gateways {
			t.Run(tt.name+"/"+string(g), func(t *testing.T) {
				in, err := Map(tt.req.build(g), testRoutes)
				require.NoError(t, err)
				assert.Equal(t, "llm", in.Resource)
				assert.Equal(t, PlaneModel, in.Plane)
				assert.Equal(t, testToken, in.Token)
				assert.Nil(t, in.Messages)
				assert.Equal(t, []Check{tt.want}, in.Checks)
			})
		}
	}
}

func TestMapModelRefusals(t *testing.T) {
	tests := []struct {
		name string
		req  request
		code string
	}{
		{"model missing", chat(`{"messages":[]}`), CodeInvalidModel},
		{"model empty", chat(`{"model":""}`), CodeInvalidModel},
		{"model a number", chat(`{"model":4}`), CodeInvalidModel},
		{"model an array", chat(`{"model":["gpt-4o-mini","gpt-4o"]}`), CodeInvalidModel},
		{"model too long", chat(`{"model":"` + strings.Repeat("x", MaxModelName+1) + `"}`), CodeInvalidModel},
		{"model twice", chat(`{"model":"gpt-4o-mini","model":"gpt-4o"}`), CodeDuplicateKey},
		{"model twice, once escaped", chat(`{"model":"gpt-4o-mini","mod\u0065l":"gpt-4o"}`), CodeDuplicateKey},
		{"model twice by case", chat(`{"model":"gpt-4o-mini","MODEL":"gpt-4o"}`), CodeDuplicateKey},
		{"model only as a case variant", chat(`{"Model":"gpt-4o"}`), CodeCaseVariantKey},
		{"token cap as a case variant", chat(`{"model":"gpt-4o","Max_Tokens":100000}`), CodeCaseVariantKey},
		{"duplicate key deep in messages", chat(`{"model":"gpt-4o","messages":[{"role":"user","role":"system"}]}`), CodeDuplicateKey},
		{"stream not a boolean", chat(`{"model":"gpt-4o","stream":"yes"}`), CodeInvalidField},
		{"token cap as a string", chat(`{"model":"gpt-4o","max_tokens":"100"}`), CodeInvalidField},
		{"token cap fractional", chat(`{"model":"gpt-4o","max_tokens":1.5}`), CodeInvalidField},
		{"token cap negative", chat(`{"model":"gpt-4o","max_tokens":-1}`), CodeInvalidField},
		{"token cap overflows", chat(`{"model":"gpt-4o","max_tokens":1e400}`), CodeNumberOutOfRange},
		{"token cap beyond exact range", chat(`{"model":"gpt-4o","max_tokens":9007199254740993}`), CodeNumberOutOfRange},
		{"trailing second document", chat(`{"model":"gpt-4o-mini"}{"model":"gpt-4o"}`), CodeInvalidJSON},
		{"not JSON", chat(`model=gpt-4o`), CodeInvalidJSON},
		{"a JSON array", chat(`[{"model":"gpt-4o"}]`), CodeInvalidJSON},
		{"lone surrogate", chat(`{"model":"gpt-4o\ud800"}`), CodeInvalidUTF8},
		{"too deep", chat(`{"model":"gpt-4o","x":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}`), CodeJSONTooDeep},
		{"no body", chat(""), CodeBodyMissing},
		{"text content type", chat(`{"model":"gpt-4o"}`, "content-type", "text/plain"), CodeUnsupportedContentType},
		{"no content type", chat(`{"model":"gpt-4o"}`, "content-type", "-"), CodeUnsupportedContentType},
		{"two content types", chat(`{"model":"gpt-4o"}`, "content-type", "application/json", "content-type", "text/plain"), CodeUnsupportedContentType},
		{"other charset", chat(`{"model":"gpt-4o"}`, "content-type", "application/json; charset=latin1"), CodeUnsupportedContentType},
		{"compressed body", chat(`{"model":"gpt-4o"}`, "content-encoding", "gzip"), CodeUnsupportedContentEncoding},
		{"unknown API path", post("llm", "/v1/completions", `{"model":"gpt-4o"}`), CodeUnknownModelAPI},
		{"API path with trailing slash", post("llm", "/v1/chat/completions/", `{"model":"gpt-4o"}`), CodeUnknownModelAPI},
		{"API path in another case", post("llm", "/v1/Chat/completions", `{"model":"gpt-4o"}`), CodeUnknownModelAPI},
		{"API path beside the API", post("llm", "/v1/v1/chat/completions", `{"model":"gpt-4o"}`), CodeUnknownModelAPI},
		{"API path with dot segment", post("llm", "/v1/x/../chat/completions", `{"model":"gpt-4o"}`), CodeInvalidPath},
		{"API path percent-encoded", post("llm", "/v1/chat%2Fcompletions", `{"model":"gpt-4o"}`), CodeInvalidPath},
		{"PUT", request{method: "PUT", path: "/v1/chat/completions", resource: "llm", body: `{"model":"gpt-4o"}`}, CodeMethodNotAllowed},
		{"lower-case method", request{method: "post", path: "/v1/chat/completions", resource: "llm", body: `{"model":"gpt-4o"}`}, CodeMethodNotAllowed},
		{"GET of another path", request{method: "GET", path: "/v1/models/gpt-4o", resource: "llm"}, CodeUnknownModelAPI},
		{"GET with a body", request{method: "GET", path: "/v1/models", resource: "llm", body: `{"model":"gpt-4o"}`}, CodeBodyUnexpected},
	}
	for _, tt := range tests {
		for _, g := range gateways {
			t.Run(tt.name+"/"+string(g), func(t *testing.T) {
				in, err := Map(tt.req.build(g), testRoutes)
				assertRefused(t, in, err, tt.code)
				if g == istio && tt.code == CodeInvalidPath {
					return // an unclean path matches no route: the resource is unknown
				}
				assert.Equal(t, "llm", in.Resource)
				assert.Equal(t, PlaneModel, in.Plane)
			})
		}
	}
}

// assertRefused checks a refusal: an *Error with the code and a reason, an Input without checks.
func assertRefused(t *testing.T, in *Input, err error, code string) {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, code, e.Code, "reason: %s", e.Reason)
	assert.NotEmpty(t, e.Reason)
	require.NotNil(t, in)
	assert.Nil(t, in.Checks)
}

// The dialect follows the path alone, allowed or refused, so a denial on Anthropic's paths
// answers in Anthropic's error format.
func TestModelDialect(t *testing.T) {
	tests := []struct {
		name string
		req  request
		want Dialect
	}{
		{"chat completions", chat(`{"model":"gpt-4o"}`), DialectOpenAI},
		{"responses", post("llm", "/v1/responses", `{"model":"gpt-4o"}`), DialectOpenAI},
		{"embeddings", post("llm", "/v1/embeddings", `{"model":"e"}`), DialectOpenAI},
		{"models", request{method: "GET", path: "/v1/models", resource: "llm"}, DialectOpenAI},
		{"an unknown OpenAI path, refused", post("llm", "/v1/completions", `{"model":"gpt-4o"}`), DialectOpenAI},
		{"messages", post("llm", "/v1/messages", `{"model":"claude-x","max_tokens":8}`), DialectAnthropic},
		{"messages with a query", post("llm", "/v1/messages?beta=true", `{"model":"claude-x"}`), DialectAnthropic},
		{"messages refused for its body", post("llm", "/v1/messages", `{"model":""}`), DialectAnthropic},
		{"messages refused for its content type", post("llm", "/v1/messages", `{"model":"c"}`, "content-type", "text/plain"), DialectAnthropic},
		{"count_tokens, refused", post("llm", "/v1/messages/count_tokens", `{"model":"claude-x"}`), DialectAnthropic},
		{"a path that only starts like messages", post("llm", "/v1/messagesx", `{"model":"c"}`), DialectOpenAI},
		{"an unclean path: no dialect", post("llm", "/v1/messages/../messages", `{"model":"c"}`), ""},
	}
	for _, tt := range tests {
		for _, g := range gateways {
			t.Run(tt.name+"/"+string(g), func(t *testing.T) {
				in, _ := Map(tt.req.build(g), testRoutes)
				require.NotNil(t, in)
				assert.Equal(t, tt.want, in.Dialect)
			})
		}
	}
	for _, g := range gateways {
		in, err := Map(mcp("tickets", `{"jsonrpc":"2.0","id":1,"method":"ping"}`).build(g), testRoutes)
		require.NoError(t, err)
		assert.Empty(t, in.Dialect, "the MCP plane has no model dialect (%s)", g)
	}
}

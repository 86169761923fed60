package mapping

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rpc(method, params string) string {
	return `{"jsonrpc":"2.0","id":4,"method":"` + method + `","params":` + params + `}`
}

func TestMapMCPResourcesAndPrompts(t *testing.T) {
	msg := func(method string) *MCPMessage { return &MCPMessage{Method: method, ID: raw("4")} }
	tests := []struct {
		name string
		body string
		want Check
	}{
		{name: "resources/read is decided per URI", body: rpc("resources/read", `{"uri":"kb://policies/refund-policy.md"}`),
			want: Check{Kind: "mcp:payments", ID: "payments/kb://policies/refund-policy.md", Action: "resources/read",
				Attr: map[string]any{"method": "resources/read", "server": "payments", "uri": "kb://policies/refund-policy.md"}, MCP: msg("resources/read")}},
		{name: "a file URI with an empty authority and a needed escape", body: rpc("resources/subscribe", `{"uri":"file:///docs/refund%20policy.md"}`),
			want: Check{Kind: "mcp:payments", ID: "payments/file:///docs/refund%20policy.md", Action: "resources/subscribe",
				Attr: map[string]any{"method": "resources/subscribe", "server": "payments", "uri": "file:///docs/refund%20policy.md"}, MCP: msg("resources/subscribe")}},
		{name: "prompts/get is decided per prompt, with its arguments", body: rpc("prompts/get", `{"name":"refund-letter","arguments":{"tone":"kind"}}`),
			want: Check{Kind: "mcp:payments", ID: "payments/refund-letter", Action: "prompts/get/refund-letter",
				Attr: map[string]any{"method": "prompts/get", "server": "payments", "prompt": "refund-letter", "arguments": map[string]any{"tone": "kind"}}, MCP: msg("prompts/get")}},
		{name: "completion/complete by the prompt it completes", body: rpc("completion/complete", `{"ref":{"type":"ref/prompt","name":"refund-letter"},"argument":{"name":"tone","value":"k"}}`),
			want: Check{Kind: "mcp:payments", ID: "payments/refund-letter", Action: "completion/complete",
				Attr: map[string]any{"method": "completion/complete", "server": "payments", "ref_type": "prompt", "ref": "refund-letter"}, MCP: msg("completion/complete")}},
		{name: "completion/complete by the resource template it completes", body: rpc("completion/complete", `{"ref":{"type":"ref/resource","uri":"kb://tickets/{id}"},"argument":{"name":"id","value":"T"}}`),
			want: Check{Kind: "mcp:payments", ID: "payments/kb://tickets/{id}", Action: "completion/complete",
				Attr: map[string]any{"method": "completion/complete", "server": "payments", "ref_type": "resource", "ref": "kb://tickets/{id}"}, MCP: msg("completion/complete")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(mcp("payments", tt.body).build(envoy), testRoutes)
			require.NoError(t, err)
			require.Len(t, in.Checks, 1)
			assert.Equal(t, tt.want, in.Checks[0])
		})
	}
}

// TestResourceURIsHaveOneSpelling: every other spelling of a URI a policy may name is refused,
// so no spelling gets past a rule written for the canonical one.
func TestResourceURIsHaveOneSpelling(t *testing.T) {
	refused := []struct{ name, uri string }{
		{"an upper-case scheme", "KB://policies/salaries.md"},
		{"an upper-case authority", "kb://Policies/salaries.md"},
		{"a dot segment", "kb://policies/public/../salaries.md"},
		{"a single dot segment", "kb://policies/./salaries.md"},
		{"an empty segment", "kb://policies//salaries.md"},
		{"a trailing slash", "kb://policies/salaries.md/"},
		{"an encoded unreserved character", "kb://policies/s%61laries.md"},
		{"encoded dots", "kb://policies/public/%2E%2E/salaries.md"},
		{"an encoded slash", "kb://policies%2Fsalaries.md"},
		{"lower-case hex", "kb://policies/refund%2fpolicy.md"},
		{"a broken escape", "kb://policies/refund%2"},
		{"a fragment", "kb://policies/salaries.md#top"},
		{"user information", "kb://admin@policies/salaries.md"},
		{"a space", "kb://policies/sal aries.md"},
		{"non-ASCII", "kb://policies/s\u00e4laries.md"},
		{"no scheme", "policies/salaries.md"},
		{"a scheme starting with a digit", "1kb://policies/salaries.md"},
		{"empty", ""},
		{"too long", "kb://" + strings.Repeat("a", MaxURI)},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(mcp("payments", rpc("resources/read", `{"uri":`+quote(tt.uri)+`}`)).build(envoy), testRoutes)
			assertRefused(t, in, err, CodeInvalidResourceURI)
		})
	}
	for _, uri := range []string{"kb://policies/refund-policy.md", "file:///docs/refund%20policy.md", "kb://x", "kb:/", "urn:isbn:0451450523", "kb://tickets?status=open"} {
		assert.Nil(t, canonicalURI(uri), uri)
	}
}

func TestMapMCPContentRefusals(t *testing.T) {
	tests := []struct{ name, body, code string }{
		{"resources/read without a uri", rpc("resources/read", `{}`), CodeInvalidResourceURI},
		{"a uri that is not a string", rpc("resources/read", `{"uri":7}`), CodeInvalidResourceURI},
		{"a case-variant uri key", rpc("resources/read", `{"URI":"kb://b"}`), CodeCaseVariantKey},
		{"params not an object", rpc("resources/read", `["kb://a"]`), CodeInvalidResourceURI},
		{"prompts/get without a name", rpc("prompts/get", `{}`), CodeInvalidPrompt},
		{"a prompt name with a slash", rpc("prompts/get", `{"name":"a/b"}`), CodeInvalidPrompt},
		{"a prompt argument that is not a string", rpc("prompts/get", `{"name":"p","arguments":{"n":7}}`), CodeInvalidPrompt},
		{"a case-variant prompt name key", rpc("prompts/get", `{"Name":"q"}`), CodeCaseVariantKey},
		{"a method that spells a prompt action", rpc("prompts/get/refund-letter", `{"name":"x"}`), CodeInvalidJSONRPC},
		{"completion without a ref", rpc("completion/complete", `{}`), CodeInvalidCompletion},
		{"completion with an unknown ref type", rpc("completion/complete", `{"ref":{"type":"ref/tool","name":"x"}}`), CodeInvalidCompletion},
		{"completion of a resource in another spelling", rpc("completion/complete", `{"ref":{"type":"ref/resource","uri":"KB://x"}}`), CodeInvalidResourceURI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(mcp("payments", tt.body).build(envoy), testRoutes)
			assertRefused(t, in, err, tt.code)
		})
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

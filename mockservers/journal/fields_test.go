package journal

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBodyFields(t *testing.T) {
	long := strings.Repeat("a", FieldValueLimit)
	tests := []struct {
		name string
		body string
		want map[string]string
	}{
		{"not JSON", `model=gpt-4o`, nil},
		{"not an object", `[{"model":"gpt-4o"}]`, nil},
		{"trailing data", `{"model":"gpt-4o"} {}`, nil},
		{"empty object", `{}`, map[string]string{}},
		{
			name: "a chat completion: members as compact JSON, numbers as written",
			body: `{ "model": "gpt-4o", "max_tokens": 6.4e1, "stream": true, "stream_options": {"include_usage": true} }`,
			want: map[string]string{"model": `"gpt-4o"`, "max_tokens": `6.4e1`, "stream": `true`, "stream_options.include_usage": `true`},
		},
		{
			name: "a tool call: params one level down, keys sorted, no HTML escaping",
			body: `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"refund_issue","arguments":{"ticket_id":"T-1001","amount_cents":900000,"note":"<ok>"}}}`,
			want: map[string]string{
				"jsonrpc": `"2.0"`, "id": `3`, "method": `"tools/call"`, "params.name": `"refund_issue"`,
				"params.arguments": `{"amount_cents":900000,"note":"<ok>","ticket_id":"T-1001"}`,
			},
		},
		{"an empty object stays a member", `{"params":{}}`, map[string]string{"params": `{}`}},
		{
			name: "a long value is kept as its digest",
			body: `{"content":"` + long + `"}`,
			want: map[string]string{"content": DigestPrefix + bodyDigest([]byte(`"`+long+`"`))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, bodyFields([]byte(tt.body)))
		})
	}
}

func TestBodyDigest(t *testing.T) {
	assert.Empty(t, bodyDigest(nil))
	assert.Equal(t, "677fdcc165a68aa04fdc62b7b3f69597e23b4706bb4dcb75b9c54c8b2ba947f6", bodyDigest([]byte(`{"model":"gpt-4o","messages":[]}`)))
}

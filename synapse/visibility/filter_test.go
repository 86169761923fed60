package visibility_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/visibility"
)

const toolsResult = `{"jsonrpc":"2.0","id":7,"result":{"tools":[` +
	`{"name":"get_charge","description":"Look up a charge","inputSchema":{"type":"object"}},` +
	`{"name":"refund_issue","description":"Issue a refund","inputSchema":{"type":"object"}}],"nextCursor":"page-2"}}`

// onlyGetCharge keeps the tool get_charge, and every item of another list.
func onlyGetCharge(method, item string) bool { return method != "tools/list" || item == "get_charge" }

func toolsListing(t testing.TB) visibility.Listing {
	l, ok := visibility.ListingFor("tools/list")
	require.True(t, ok)
	return l
}

func TestKeepFiltersEveryShapeOfAnswer(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		wantTools               []string
		check                   func(t *testing.T, out string)
	}{
		{
			name: "a JSON answer", contentType: "application/json", body: toolsResult,
			wantTools: []string{"get_charge", "refund_issue"},
			check: func(t *testing.T, out string) {
				var msg struct {
					ID     int `json:"id"`
					Result struct {
						Tools      []map[string]any `json:"tools"`
						NextCursor string           `json:"nextCursor"`
					} `json:"result"`
				}
				require.NoError(t, json.Unmarshal([]byte(out), &msg))
				require.Len(t, msg.Result.Tools, 1)
				assert.Equal(t, "get_charge", msg.Result.Tools[0]["name"])
				assert.Equal(t, "Look up a charge", msg.Result.Tools[0]["description"], "a kept tool is as it came")
				assert.Equal(t, "page-2", msg.Result.NextCursor, "the cursor of the next page stays")
				assert.Equal(t, 7, msg.ID)
			},
		},
		{
			name: "an event stream", contentType: "text/event-stream",
			body:      "event: message\nid: 1\ndata: " + toolsResult + "\n\n",
			wantTools: []string{"get_charge", "refund_issue"},
			check: func(t *testing.T, out string) {
				assert.True(t, strings.HasPrefix(out, "event: message\nid: 1\ndata: {"), out)
				assert.NotContains(t, out, "refund_issue")
				assert.Contains(t, out, "get_charge")
				assert.True(t, strings.HasSuffix(out, "}\n\n"), out)
			},
		},
		{
			name: "an event's data over several lines", contentType: "text/event-stream; charset=utf-8",
			body:      "data: " + strings.Replace(toolsResult, `"tools":[`, "\"tools\":\ndata: [", 1) + "\r\n\r\n",
			wantTools: []string{"get_charge", "refund_issue"},
			check:     func(t *testing.T, out string) { assert.NotContains(t, out, "refund_issue") },
		},
		{
			name: "a batch", contentType: "application/json",
			body:      `[` + toolsResult + `,{"jsonrpc":"2.0","id":8,"result":{}}]`,
			wantTools: []string{"get_charge", "refund_issue"},
			check: func(t *testing.T, out string) {
				assert.NotContains(t, out, "refund_issue")
				assert.Contains(t, out, `"id":8`)
			},
		},
		{
			name: "a notification beside the answer stays as it came", contentType: "text/event-stream",
			body:      "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\ndata: " + toolsResult + "\n\n",
			wantTools: []string{"get_charge", "refund_issue"},
			check: func(t *testing.T, out string) {
				assert.True(t, strings.HasPrefix(out, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n"), out)
				assert.NotContains(t, out, "refund_issue")
			},
		},
		{
			name: "an error answer lists nothing", contentType: "application/json",
			body: `{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no"}}`,
			check: func(t *testing.T, out string) {
				assert.JSONEq(t, `{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no"}}`, out)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := visibility.Read(tt.contentType, []byte(tt.body))
			require.NoError(t, err)
			assert.Equal(t, tt.wantTools, a.Items(toolsListing(t)))
			out, err := a.Keep(onlyGetCharge)
			require.NoError(t, err)
			tt.check(t, string(out))
		})
	}
}

func TestKeepFiltersDocumentsAndPrompts(t *testing.T) {
	body := `[{"jsonrpc":"2.0","id":1,"result":{"resources":[{"uri":"kb://policies/refunds","name":"Refund policy"},{"uri":"kb://hr/salaries","name":"Salary table"}]}},` +
		`{"jsonrpc":"2.0","id":2,"result":{"prompts":[{"name":"triage_summary"},{"name":"compensation_letter"}]}}]`
	a, err := visibility.Read("application/json", []byte(body))
	require.NoError(t, err)
	resources, _ := visibility.ListingFor("resources/list")
	prompts, _ := visibility.ListingFor("prompts/list")
	assert.Equal(t, []string{"kb://policies/refunds", "kb://hr/salaries"}, a.Items(resources))
	assert.Equal(t, []string{"triage_summary", "compensation_letter"}, a.Items(prompts))
	assert.Empty(t, a.Items(toolsListing(t)))
	out, err := a.Keep(func(method, item string) bool { return item == "kb://policies/refunds" || item == "triage_summary" })
	require.NoError(t, err)
	assert.JSONEq(t, `[{"jsonrpc":"2.0","id":1,"result":{"resources":[{"uri":"kb://policies/refunds","name":"Refund policy"}]}},`+
		`{"jsonrpc":"2.0","id":2,"result":{"prompts":[{"name":"triage_summary"}]}}]`, string(out))

	for _, unreadable := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"resources":[{"name":"no uri"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"resources":[{"URI":"kb://hr/salaries","uri":"kb://policies/refunds"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"Prompts":[{"name":"compensation_letter"}]}}`,
	} {
		_, err := visibility.Read("application/json", []byte(unreadable))
		assert.ErrorIs(t, err, visibility.ErrUnreadable, unreadable)
	}
}

// TestReadRefusesWhatItCannotRead: an answer that cannot be read is withheld by the caller, so
// it must be an error, never a pass.
func TestReadRefusesWhatItCannotRead(t *testing.T) {
	tests := []struct{ name, contentType, body string }{
		{"no content type", "", toolsResult},
		{"another content type", "text/plain", toolsResult},
		{"not JSON", "application/json", "tools: get_charge"},
		{"tools that are not a list", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":{"name":"x"}}}`},
		{"a tool without a name", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"description":"x"}]}}`},
		{"a tool whose name is not a string", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":7}]}}`},
		{"a tool whose name is null", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":null}]}}`},
		{"an event whose data is not JSON", "text/event-stream", "data: {\n\n"},
		{"a batch with garbage", "application/json", `[` + toolsResult + `,7]`},
		{"tools in another case, which Go clients read as tools", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"Tools":[{"name":"refund_issue"}]}}`},
		{"a result in another case", "application/json", `{"jsonrpc":"2.0","id":1,"Result":{"tools":[{"name":"refund_issue"}]}}`},
		{"a name in another case", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_charge","NAME":"refund_issue"}]}}`},
		{"tools null", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":null}}`},
		// encoding/json, which Go clients decode with, keeps the last of a name given twice.
		{"a tool named twice", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_charge","name":"refund_issue"}]}}`},
		{"tools twice", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"tools":[{"name":"refund_issue"}]}}`},
		{"a result twice", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[{"name":"refund_issue"}]}}`},
		{"a name twice deep in a schema", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_charge","inputSchema":{"type":"object","type":"string"}}]}}`},
		// ... and replaces invalid UTF-8, so a name synapse reads one way would reach it another.
		{"invalid UTF-8", "application/json", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"refund\xff\"}]}}"},
		{"data after the message", "application/json", toolsResult + ` {"jsonrpc":"2.0","id":2}`},
		{"a tool name escaped into another", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_charge","n\u0061me":"refund_issue"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := visibility.Read(tt.contentType, []byte(tt.body))
			assert.ErrorIs(t, err, visibility.ErrUnreadable)
		})
	}
}

// TestKeepChangesNothingButTheList: what is kept goes on byte for byte, members in their order.
func TestKeepChangesNothingButTheList(t *testing.T) {
	const (
		kept   = `{"name":"get_charge","description":"Look up a charge","inputSchema":{"type":"object"}}`
		hidden = `{"name":"refund_issue","inputSchema":{"type":"object"}}`
	)
	body := `{"result":{"tools":[` + kept + `,` + hidden + `],"nextCursor":"page-2"},"jsonrpc":"2.0","id":7}`
	a, err := visibility.Read("application/json", []byte(body))
	require.NoError(t, err)
	out, err := a.Keep(onlyGetCharge)
	require.NoError(t, err)
	assert.Equal(t, `{"result":{"tools":[`+kept+`],"nextCursor":"page-2"},"jsonrpc":"2.0","id":7}`, string(out))

	all, err := a.Keep(func(string, string) bool { return true })
	require.NoError(t, err)
	assert.Equal(t, body, string(all), "a list with nothing to hide goes on as it came")
}

// BenchmarkFilterList reads a tools/list answer of the size the demo's servers send (six tools
// with their input schemas) and keeps all but one, as the response path does for every list.
func BenchmarkFilterList(b *testing.B) {
	var tools []string
	for i := range 6 {
		tools = append(tools, fmt.Sprintf(`{"name":"tool_%d","description":"Does the %d-th thing to a ticket","inputSchema":{"type":"object",`+
			`"properties":{"ticket_id":{"type":"string","pattern":"^T-[0-9]+$"},"note":{"type":"string","maxLength":2000}},"required":["ticket_id"]}}`, i, i))
	}
	body := []byte(`{"jsonrpc":"2.0","id":7,"result":{"tools":[` + strings.Join(tools, ",") + `]}}`)
	keep := func(_, item string) bool { return item != "tool_3" }
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		a, err := visibility.Read("application/json", body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.Keep(keep); err != nil {
			b.Fatal(err)
		}
	}
}

package mcpserver_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sort"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

func startServer(t *testing.T, name mcpserver.Name) (*mcpserver.Server, *httptest.Server) {
	t.Helper()
	s, err := mcpserver.New(mcpserver.Config{Name: name})
	require.NoError(t, err)
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close(context.Background())
		hs.Close()
	})
	return s, hs
}

// connect runs the client handshake: modern clients send server/discover,
// legacy ones initialize + notifications/initialized.
func connect(t *testing.T, baseURL string, legacy bool, headers map[string]string) *client.Client {
	t.Helper()
	var opts []client.ClientOption
	if legacy {
		opts = append(opts, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	}
	tr, err := transport.NewStreamableHTTP(baseURL+mcpserver.EndpointPath, transport.WithHTTPHeaders(headers))
	require.NoError(t, err)
	c := client.NewClient(tr, opts...)
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() { _ = c.Close() })
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "hopguard-test", Version: "0"}
	_, err = c.Initialize(ctx, req)
	require.NoError(t, err)
	return c
}

func callTool(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(context.Background(), req)
	require.NoError(t, err, "a tool failure must be a tool result, not a protocol error")
	return res
}

func resultText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	require.NotEmpty(t, res.Content)
	text, ok := mcp.AsTextContent(res.Content[0])
	require.True(t, ok, "first content is text")
	return text.Text
}

func decodeResult(t *testing.T, res *mcp.CallToolResult, into any) {
	t.Helper()
	require.False(t, res.IsError, "tool error: %s", resultText(t, res))
	require.NoError(t, json.Unmarshal([]byte(resultText(t, res)), into))
}

func TestEachServerListsItsTools(t *testing.T) {
	want := map[mcpserver.Name][]string{
		mcpserver.Tickets:   {"add_comment", "get_ticket", "list_tickets", "update_ticket"},
		mcpserver.CRM:       {"get_customer", "list_orders"},
		mcpserver.Payments:  {"get_charge", "refund_issue"},
		mcpserver.Payroll:   {"get_payslip", "run_payroll"},
		mcpserver.Knowledge: {"confirm_escalation", "draft_reply", "search_articles"},
	}
	for _, name := range mcpserver.Names() {
		for _, legacy := range []bool{false, true} {
			t.Run(string(name)+map[bool]string{false: "/modern", true: "/legacy"}[legacy], func(t *testing.T) {
				_, hs := startServer(t, name)
				c := connect(t, hs.URL, legacy, nil)
				res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
				require.NoError(t, err)
				var got []string
				for _, tool := range res.Tools {
					got = append(got, tool.Name)
					assert.NotEmpty(t, tool.Description, tool.Name)
					assert.Equal(t, "object", tool.InputSchema.Type, tool.Name)
					assert.Equal(t, false, tool.InputSchema.AdditionalProperties, "%s rejects unknown arguments", tool.Name)
				}
				sort.Strings(got)
				assert.Equal(t, want[name], got)
			})
		}
	}
}

func TestHandshakeAndCallsAreJournaled(t *testing.T) {
	for _, tc := range []struct {
		legacy    bool
		handshake []string
	}{
		{legacy: false, handshake: []string{"server/discover"}},
		{legacy: true, handshake: []string{"initialize", "notifications/initialized"}},
	} {
		_, hs := startServer(t, mcpserver.Payments)
		c := connect(t, hs.URL, tc.legacy, map[string]string{"Authorization": "Basic c29tZTpzZWNyZXQ="})
		callTool(t, c, "get_charge", map[string]any{"charge_id": "ch_1001"})

		entries, err := journal.NewClient(hs.URL, hs.Client()).Entries(context.Background())
		require.NoError(t, err)
		var methods []string
		for _, e := range entries {
			assert.Equal(t, "POST", e.HTTPMethod)
			assert.Equal(t, mcpserver.EndpointPath, e.Path)
			assert.Equal(t, journal.CredentialOther, e.Credential)
			methods = append(methods, e.MCPMethod)
		}
		require.Equal(t, append(tc.handshake, "tools/call"), methods, "legacy=%v", tc.legacy)
		assert.Equal(t, "get_charge", entries[len(entries)-1].Tool)
	}
}

func TestBadArgumentsAreToolErrors(t *testing.T) {
	tests := []struct {
		server mcpserver.Name
		tool   string
		args   map[string]any
	}{
		{mcpserver.Tickets, "get_ticket", map[string]any{}},
		{mcpserver.Tickets, "get_ticket", map[string]any{"ticket_id": 1001}},
		{mcpserver.Tickets, "get_ticket", map[string]any{"ticket_id": "T-1001; drop"}},
		{mcpserver.Tickets, "get_ticket", map[string]any{"ticket_id": "T-9999"}},
		{mcpserver.Tickets, "get_ticket", map[string]any{"ticket_id": "T-1001", "extra": true}},
		{mcpserver.Tickets, "list_tickets", map[string]any{"status": "deleted"}},
		{mcpserver.Tickets, "update_ticket", map[string]any{"ticket_id": "T-1001"}},
		{mcpserver.Tickets, "add_comment", map[string]any{"ticket_id": "T-1001", "body": ""}},
		{mcpserver.CRM, "get_customer", map[string]any{"customer_id": "C-999"}},
		{mcpserver.CRM, "list_orders", map[string]any{"customer_id": nil}},
		{mcpserver.Payments, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": -5, "currency": "usd", "reason": "x"}},
		{mcpserver.Payments, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": 12.5, "currency": "usd", "reason": "x"}},
		{mcpserver.Payments, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": "4000", "currency": "usd", "reason": "x"}},
		{mcpserver.Payments, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": 900001, "currency": "usd", "reason": "x"}},
		{mcpserver.Payments, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": 4000, "currency": "eur", "reason": "x"}},
		{mcpserver.Payments, "refund_issue", map[string]any{"ticket_id": "T-2001", "amount_cents": 4000, "currency": "usd", "reason": "x"}},
		{mcpserver.Payments, "get_charge", map[string]any{"charge_id": "ch_nope"}},
		{mcpserver.Payroll, "get_payslip", map[string]any{"employee_id": "E-001", "period": "2026-13"}},
		{mcpserver.Payroll, "run_payroll", map[string]any{"period": "2026-07", "dry_run": "no"}},
	}
	for _, tt := range tests {
		raw, err := json.Marshal(tt.args)
		require.NoError(t, err)
		t.Run(string(tt.server)+"/"+tt.tool+string(raw), func(t *testing.T) {
			_, hs := startServer(t, tt.server)
			c := connect(t, hs.URL, false, nil)
			res := callTool(t, c, tt.tool, tt.args)
			assert.True(t, res.IsError, "want a tool error, got %s", resultText(t, res))
		})
	}
}

func TestUnknownToolIsAProtocolErrorNotACrash(t *testing.T) {
	_, hs := startServer(t, mcpserver.CRM)
	c := connect(t, hs.URL, false, nil)
	req := mcp.CallToolRequest{}
	req.Params.Name = "refund_issue"
	_, err := c.CallTool(context.Background(), req)
	require.Error(t, err)
	// The server still answers.
	callTool(t, c, "get_customer", map[string]any{"customer_id": "C-100"})
}

package tools_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/tools"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

func TestToolboxNamesAreValidAndUnique(t *testing.T) {
	_, _, ticketsURL := startMCP(t, mcpserver.Tickets, nil)
	_, _, paymentsURL := startMCP(t, mcpserver.Payments, nil)
	tickets, err := open(t, "tickets", ticketsURL)
	require.NoError(t, err)
	payments, err := open(t, "payments", paymentsURL)
	require.NoError(t, err)

	box := &tools.Toolbox{}
	require.NoError(t, box.Add(tickets, []mcp.Tool{
		mcp.NewTool("lookup"), mcp.NewTool("odd.name/with spaces"), mcp.NewTool("only_here"),
		mcp.NewTool(strings.Repeat("x", 80)),
	}))
	require.NoError(t, box.Add(payments, []mcp.Tool{mcp.NewTool("lookup")}))

	var names []string
	for _, f := range box.Functions() {
		names = append(names, f.Name)
		assert.Regexp(t, `^[a-zA-Z0-9_-]{1,64}$`, f.Name)
		assert.Equal(t, "object", f.Parameters["type"])
	}
	assert.Equal(t, []string{
		"tickets__lookup", "tickets__odd_name_with_spaces", "only_here",
		("tickets__" + strings.Repeat("x", 80))[:64], "payments__lookup",
	}, names)

	f, ok := box.Lookup("payments__lookup")
	require.True(t, ok)
	assert.Equal(t, "payments", f.Server)
	assert.Equal(t, "lookup", f.Tool)
	_, ok = box.Lookup("lookup")
	assert.False(t, ok, "a colliding bare name is not callable")
}

func TestToolboxCallsTheRightServer(t *testing.T) {
	ctx := context.Background()
	_, _, ticketsURL := startMCP(t, mcpserver.Tickets, nil)
	paymentsSrv, _, paymentsURL := startMCP(t, mcpserver.Payments, nil)
	box := &tools.Toolbox{}
	for name, url := range map[string]string{"tickets": ticketsURL, "payments": paymentsURL} {
		s, err := open(t, name, url)
		require.NoError(t, err)
		listed, err := s.ListTools(ctx)
		require.NoError(t, err)
		require.NoError(t, box.Add(s, listed))
	}

	f, res, err := box.Call(ctx, "refund_issue",
		json.RawMessage(`{"ticket_id":"T-1002","amount_cents":4000,"currency":"usd","reason":"customer asked"}`))
	require.NoError(t, err)
	assert.Equal(t, "payments", f.Server)
	assert.False(t, res.IsError, res.Text)
	assert.Len(t, paymentsSrv.Store().Refunds(), 1)

	_, _, err = box.Call(ctx, "run_payroll", json.RawMessage(`{}`))
	assert.ErrorContains(t, err, "no open server offers")
}

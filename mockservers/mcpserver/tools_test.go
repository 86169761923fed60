package mcpserver_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

func TestTicketsTools(t *testing.T) {
	_, hs := startServer(t, mcpserver.Tickets)
	c := connect(t, hs.URL, false, nil)

	var ticket mcpserver.Ticket
	decodeResult(t, callTool(t, c, "get_ticket", map[string]any{"ticket_id": "T-1001"}), &ticket)
	assert.Equal(t, "C-100", ticket.CustomerID)
	assert.Equal(t, mcpserver.StatusOpen, ticket.Status)
	require.NotNil(t, ticket.Refund)
	assert.Equal(t, mcpserver.RefundRequest{AmountCents: 900000, Currency: "usd", ChargeID: "ch_1001"}, *ticket.Refund)

	var list mcpserver.TicketList
	decodeResult(t, callTool(t, c, "list_tickets", nil), &list)
	require.Len(t, list.Tickets, 3)
	assert.Equal(t, []string{"T-1001", "T-1002", "T-2001"}, []string{list.Tickets[0].ID, list.Tickets[1].ID, list.Tickets[2].ID})

	decodeResult(t, callTool(t, c, "update_ticket", map[string]any{
		"ticket_id": "T-1001", "status": "escalated", "comment": "Escalated for tier-2 approval.",
	}), &ticket)
	assert.Equal(t, mcpserver.StatusEscalated, ticket.Status)
	require.Len(t, ticket.Comments, 1)
	assert.Equal(t, "Escalated for tier-2 approval.", ticket.Comments[0].Body)

	var comment mcpserver.Comment
	decodeResult(t, callTool(t, c, "add_comment", map[string]any{"ticket_id": "T-1001", "body": "Second note"}), &comment)
	assert.Equal(t, "Second note", comment.Body)

	decodeResult(t, callTool(t, c, "list_tickets", map[string]any{"status": "escalated"}), &list)
	require.Len(t, list.Tickets, 1)
	assert.Len(t, list.Tickets[0].Comments, 2)
}

func TestCRMTools(t *testing.T) {
	_, hs := startServer(t, mcpserver.CRM)
	c := connect(t, hs.URL, true, nil)

	var customer mcpserver.Customer
	decodeResult(t, callTool(t, c, "get_customer", map[string]any{"customer_id": "C-100"}), &customer)
	assert.Equal(t, "Dana Whitfield", customer.Name)

	var orders mcpserver.OrderList
	decodeResult(t, callTool(t, c, "list_orders", map[string]any{"customer_id": "C-200"}), &orders)
	var charges []string
	for _, o := range orders.Orders {
		assert.Equal(t, "C-200", o.CustomerID)
		charges = append(charges, o.ChargeID)
	}
	assert.ElementsMatch(t, []string{"ch_1002", "ch_2001"}, charges)
}

func TestPaymentsRefundAndReset(t *testing.T) {
	s, hs := startServer(t, mcpserver.Payments)
	c := connect(t, hs.URL, false, nil)

	var refund mcpserver.Refund
	decodeResult(t, callTool(t, c, "refund_issue", map[string]any{
		"ticket_id": "T-1002", "amount_cents": 4000, "currency": "usd", "reason": "duplicate charge",
	}), &refund)
	assert.Equal(t, mcpserver.Refund{
		ID: refund.ID, TicketID: "T-1002", ChargeID: "ch_1002", AmountCents: 4000,
		Currency: "usd", Reason: "duplicate charge", Status: "succeeded",
	}, refund)
	assert.Equal(t, []mcpserver.Refund{refund}, s.Store().Refunds())

	var charge mcpserver.Charge
	decodeResult(t, callTool(t, c, "get_charge", map[string]any{"charge_id": "ch_1002"}), &charge)
	assert.EqualValues(t, 4000, charge.RefundedCents)

	res := callTool(t, c, "refund_issue", map[string]any{
		"ticket_id": "T-1002", "amount_cents": 1, "currency": "usd", "reason": "again",
	})
	assert.True(t, res.IsError, "nothing is left to refund on ch_1002")

	require.NoError(t, journal.NewClient(hs.URL, hs.Client()).Reset(context.Background()))
	assert.Empty(t, s.Store().Refunds())
	assert.Empty(t, s.Journal().Entries())
	decodeResult(t, callTool(t, c, "get_charge", map[string]any{"charge_id": "ch_1002"}), &charge)
	assert.EqualValues(t, 0, charge.RefundedCents, "reset restores the seed")
}

func TestPayrollTools(t *testing.T) {
	s, hs := startServer(t, mcpserver.Payroll)
	c := connect(t, hs.URL, false, nil)

	var slip mcpserver.Payslip
	decodeResult(t, callTool(t, c, "get_payslip", map[string]any{"employee_id": "E-001", "period": "2026-07"}), &slip)
	assert.Equal(t, slip.GrossCents, slip.NetCents+slip.TaxCents)
	assert.Equal(t, "2026-07", slip.Period)

	var run mcpserver.PayrollRun
	decodeResult(t, callTool(t, c, "run_payroll", map[string]any{"period": "2026-07"}), &run)
	assert.True(t, run.DryRun, "dry run is the default")
	decodeResult(t, callTool(t, c, "run_payroll", map[string]any{"period": "2026-07", "dry_run": false}), &run)
	assert.False(t, run.DryRun)
	assert.Equal(t, 3, run.Employees)
	assert.True(t, callTool(t, c, "run_payroll", map[string]any{"period": "2026-07", "dry_run": false}).IsError,
		"a period is paid once")
	assert.Len(t, s.Store().PayrollRuns(), 2)
}

func TestNewRejectsUnknownServer(t *testing.T) {
	_, err := mcpserver.New(mcpserver.Config{Name: "billing"})
	require.ErrorContains(t, err, `unknown MCP server "billing"`)
}

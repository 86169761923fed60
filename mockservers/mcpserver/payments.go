package mcpserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

type refundArgs struct {
	TicketID    string `json:"ticket_id"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason"`
}

type chargeArgs struct {
	ChargeID string `json:"charge_id"`
}

func checkAmount(cents int64) error {
	if cents < 1 || cents > maxRefundCents {
		return fmt.Errorf("amount_cents %d is not between 1 and %d: %w", cents, int64(maxRefundCents), ErrInvalid)
	}
	return nil
}

func paymentTools(store *Store) []server.ServerTool {
	return []server.ServerTool{
		{
			Tool: mcp.NewTool("refund_issue",
				mcp.WithDescription("Refund money to the customer of a ticket, on the charge the ticket is about."),
				ticketIDProperty(),
				mcp.WithInteger("amount_cents", mcp.Required(), mcp.Description("Amount to refund, in cents"),
					mcp.Min(1), mcp.Max(maxRefundCents)),
				mcp.WithString("currency", mcp.Required(), mcp.Description("ISO 4217 code in lower case, e.g. usd"),
					mcp.Pattern(currencyPattern.String())),
				mcp.WithString("reason", mcp.Required(), mcp.Description("Why the refund is issued"),
					mcp.MinLength(1), mcp.MaxLength(maxTextLen)),
				mcp.WithDestructiveHintAnnotation(true),
			),
			Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args refundArgs) (Refund, error) {
				err := errors.Join(
					checkPattern("ticket_id", args.TicketID, ticketIDPattern),
					checkAmount(args.AmountCents),
					checkPattern("currency", args.Currency, currencyPattern),
					checkText("reason", args.Reason, true),
				)
				if err != nil {
					return Refund{}, err
				}
				return store.IssueRefund(args.TicketID, args.AmountCents, args.Currency, args.Reason)
			}),
		},
		{
			Tool: mcp.NewTool("get_charge",
				mcp.WithDescription("Read a charge: amount, currency and how much was refunded."),
				mcp.WithString("charge_id", mcp.Required(), mcp.Description("Charge id, e.g. ch_1001"),
					mcp.Pattern(chargeIDPattern.String())),
				mcp.WithReadOnlyHintAnnotation(true),
			),
			Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args chargeArgs) (Charge, error) {
				if err := checkPattern("charge_id", args.ChargeID, chargeIDPattern); err != nil {
					return Charge{}, err
				}
				return store.Charge(args.ChargeID)
			}),
		},
	}
}

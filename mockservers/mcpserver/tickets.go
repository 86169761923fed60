package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

var ticketStatuses = []string{StatusOpen, StatusPending, StatusEscalated, StatusResolved}

type ticketArgs struct {
	TicketID string `json:"ticket_id"`
}

type listTicketsArgs struct {
	Status string `json:"status"`
}

type updateTicketArgs struct {
	TicketID string `json:"ticket_id"`
	Status   string `json:"status"`
	Comment  string `json:"comment"`
}

type addCommentArgs struct {
	TicketID string `json:"ticket_id"`
	Body     string `json:"body"`
}

// TicketList is the result of list_tickets.
type TicketList struct {
	Tickets []Ticket `json:"tickets"`
}

func ticketIDProperty() mcp.ToolOption {
	return mcp.WithString("ticket_id", mcp.Required(),
		mcp.Description("Ticket id, e.g. T-1001"), mcp.Pattern(ticketIDPattern.String()))
}

func checkStatus(status string, required bool) error {
	if status == "" && !required {
		return nil
	}
	if !slices.Contains(ticketStatuses, status) {
		return fmt.Errorf("status %q is not one of %v: %w", status, ticketStatuses, ErrInvalid)
	}
	return nil
}

func ticketTools(store *Store) []server.ServerTool {
	return []server.ServerTool{
		{
			Tool: mcp.NewTool("get_ticket",
				mcp.WithDescription("Read a support ticket: the customer, what they ask for, its status and comments."),
				ticketIDProperty(),
				mcp.WithReadOnlyHintAnnotation(true),
			),
			Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args ticketArgs) (Ticket, error) {
				if err := checkPattern("ticket_id", args.TicketID, ticketIDPattern); err != nil {
					return Ticket{}, err
				}
				return store.Ticket(args.TicketID)
			}),
		},
		{
			Tool: mcp.NewTool("list_tickets",
				mcp.WithDescription("List support tickets, optionally only those with a given status."),
				mcp.WithString("status", mcp.Description("Only tickets with this status"), mcp.Enum(ticketStatuses...)),
				mcp.WithReadOnlyHintAnnotation(true),
			),
			Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args listTicketsArgs) (TicketList, error) {
				if err := checkStatus(args.Status, false); err != nil {
					return TicketList{}, err
				}
				return TicketList{Tickets: store.Tickets(args.Status)}, nil
			}),
		},
		{
			Tool: mcp.NewTool("update_ticket",
				mcp.WithDescription("Change a ticket's status and/or add a comment the customer will read."),
				ticketIDProperty(),
				mcp.WithString("status", mcp.Description("New status"), mcp.Enum(ticketStatuses...)),
				mcp.WithString("comment", mcp.Description("Comment to add"), mcp.MaxLength(maxTextLen)),
				mcp.WithDestructiveHintAnnotation(false),
			),
			Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args updateTicketArgs) (Ticket, error) {
				err := errors.Join(
					checkPattern("ticket_id", args.TicketID, ticketIDPattern),
					checkStatus(args.Status, false),
					checkText("comment", args.Comment, false),
				)
				if err != nil {
					return Ticket{}, err
				}
				if args.Status == "" && args.Comment == "" {
					return Ticket{}, fmt.Errorf("give a status, a comment or both: %w", ErrInvalid)
				}
				return store.UpdateTicket(args.TicketID, args.Status, args.Comment)
			}),
		},
		{
			Tool: mcp.NewTool("add_comment",
				mcp.WithDescription("Add a comment the customer will read to a ticket."),
				ticketIDProperty(),
				mcp.WithString("body", mcp.Required(), mcp.Description("Comment text"), mcp.MinLength(1), mcp.MaxLength(maxTextLen)),
				mcp.WithDestructiveHintAnnotation(false),
			),
			Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args addCommentArgs) (Comment, error) {
				err := errors.Join(
					checkPattern("ticket_id", args.TicketID, ticketIDPattern),
					checkText("body", args.Body, true),
				)
				if err != nil {
					return Comment{}, err
				}
				return store.AddComment(args.TicketID, args.Body)
			}),
		},
	}
}

package mcpserver

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

type customerArgs struct {
	CustomerID string `json:"customer_id"`
}

// OrderList is the result of list_orders.
type OrderList struct {
	Orders []Order `json:"orders"`
}

func customerIDProperty() mcp.ToolOption {
	return mcp.WithString("customer_id", mcp.Required(),
		mcp.Description("Customer id, e.g. C-100"), mcp.Pattern(customerIDPattern.String()))
}

func crmTools(store *Store) []server.ServerTool {
	return []server.ServerTool{
		{
			Tool: mcp.NewTool("get_customer",
				mcp.WithDescription("Look up a customer: name, email and plan."),
				customerIDProperty(),
				mcp.WithReadOnlyHintAnnotation(true),
			),
			Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args customerArgs) (Customer, error) {
				if err := checkPattern("customer_id", args.CustomerID, customerIDPattern); err != nil {
					return Customer{}, err
				}
				return store.Customer(args.CustomerID)
			}),
		},
		{
			Tool: mcp.NewTool("list_orders",
				mcp.WithDescription("List a customer's orders and the charges that paid for them."),
				customerIDProperty(),
				mcp.WithReadOnlyHintAnnotation(true),
			),
			Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args customerArgs) (OrderList, error) {
				if err := checkPattern("customer_id", args.CustomerID, customerIDPattern); err != nil {
					return OrderList{}, err
				}
				orders, err := store.Orders(args.CustomerID)
				return OrderList{Orders: orders}, err
			}),
		},
	}
}

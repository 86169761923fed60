// Command mockmcp serves one of the demo's mock MCP servers on loopback.
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hopguard/hopguard/mockservers/internal/serve"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

const usage = `mockmcp serves one of the demo's mock MCP servers over streamable HTTP.

Servers and their tools:
  tickets   get_ticket, list_tickets, update_ticket, add_comment
  crm       get_customer, list_orders
  payments  refund_issue, get_charge
  payroll   get_payslip, run_payroll
  knowledge search_articles; resources kb://policies/refunds,
            kb://policies/escalation, kb://hr/salaries; prompts
            triage_summary, compensation_letter

Endpoints: /mcp (MCP; no auth required), GET /_journal, POST /_reset
(restores the demo seed). Once bound it prints
"listening on http://HOST:PORT" on stdout.

Usage: mockmcp --server NAME [flags]

Flags:
`

// defaultPorts keeps the servers apart when run side by side.
var defaultPorts = map[mcpserver.Name]int{
	mcpserver.Tickets: 18101, mcpserver.CRM: 18102, mcpserver.Payments: 18103, mcpserver.Payroll: 18104,
	mcpserver.Knowledge: 18105,
}

func main() { serve.Main("mockmcp", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := serve.NewFlags("mockmcp", usage, "", stderr)
	fs.Lookup("addr").Usage += " (default 127.0.0.1:18101..18105 by server)"
	name := fs.String("server", "", "which `server` to run: tickets, crm, payments, payroll or knowledge (required)")
	logger, err := fs.Parse(args)
	if err != nil {
		return err
	}
	server, err := mcpserver.ParseName(*name)
	if err != nil {
		return err
	}
	addr := *fs.Addr
	if addr == "" {
		addr = fmt.Sprintf("127.0.0.1:%d", defaultPorts[server])
	}
	srv, err := mcpserver.New(mcpserver.Config{Name: server, Logger: logger})
	if err != nil {
		return err
	}
	return serve.Run(ctx, serve.Options{
		Addr: addr, Handler: srv, Logger: logger.With("mcp_server", string(server)), Stdout: stdout,
		BeforeShutdown: srv.Close,
	})
}

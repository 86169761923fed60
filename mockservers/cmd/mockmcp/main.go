// Command mockmcp serves one of the demo's mock MCP servers on loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hopguard/hopguard/mockservers/internal/serve"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

const usage = `mockmcp serves one of the demo's mock MCP servers over streamable HTTP.

Servers and their tools:
  tickets   get_ticket, list_tickets, update_ticket, add_comment
  crm       get_customer, list_orders
  payments  refund_issue, get_charge
  payroll   get_payslip, run_payroll

Endpoints: /mcp (MCP; no auth required), GET /_journal, POST /_reset
(restores the demo seed). Once bound it prints
"listening on http://HOST:PORT" on stdout.

Usage: mockmcp --server NAME [flags]

Flags:
`

// defaultPorts keeps the four servers apart when run side by side.
var defaultPorts = map[mcpserver.Name]int{
	mcpserver.Tickets: 18101, mcpserver.CRM: 18102, mcpserver.Payments: 18103, mcpserver.Payroll: 18104,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "mockmcp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mockmcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	name := fs.String("server", "", "which `server` to run: tickets, crm, payments or payroll (required)")
	addr := fs.String("addr", "", "loopback `host:port` to listen on; port 0 picks a free port (default 127.0.0.1:18101..18104 by server)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	server, err := mcpserver.ParseName(*name)
	if err != nil {
		return err
	}
	if *addr == "" {
		*addr = fmt.Sprintf("127.0.0.1:%d", defaultPorts[server])
	}
	logger, err := serve.NewLogger(stderr, *level)
	if err != nil {
		return err
	}
	srv, err := mcpserver.New(mcpserver.Config{Name: server, Logger: logger})
	if err != nil {
		return err
	}
	return serve.Run(ctx, serve.Options{
		Addr: *addr, Handler: srv, Logger: logger.With("mcp_server", string(server)), Stdout: stdout,
		BeforeShutdown: srv.Close,
	})
}

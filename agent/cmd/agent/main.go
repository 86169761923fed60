// Command agent is hopguard's triage agent: it works one support ticket with
// a model and MCP tools that it reaches only through the gateway, and
// narrates every hop and what the gateway decided. Run it with --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hopguard/hopguard/agent/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

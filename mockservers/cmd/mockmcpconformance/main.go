// Command mockmcpconformance serves, on loopback, the fixture MCP server that the official MCP
// conformance framework's server scenarios are run against.
package main

import (
	"context"
	"io"
	"strings"

	"github.com/hopguard/hopguard/mockservers/internal/serve"
	"github.com/hopguard/hopguard/mockservers/mcpconformance"
)

const usage = `mockmcpconformance serves the fixture MCP server of the official MCP
conformance framework (@modelcontextprotocol/conformance) over streamable HTTP
at /mcp: every tool, resource, prompt and utility its server scenarios check
(test_simple_text, test_image_content, test_sampling, test_elicitation,
test_tool_with_logging, test_tool_with_progress, test://static-text,
test://template/{id}/data, test_simple_prompt, completion/complete, ...).

Run the framework against it (conformance/tools/node.sh installs it):
  BIN/mcp-conformance/conformance server --url http://127.0.0.1:18110/mcp

Protocol: the initialize handshake with sessions (Mcp-Session-Id), protocol
versions up to 2025-11-25, a standalone GET stream (sampling requests travel on
it), SSE events with ids and resumption by GET with Last-Event-ID (the tool
test_reconnection closes its stream after a priming event, SEP-1699), no auth.
Requests whose Host or Origin header names neither a loopback host nor an
--allow-host are refused with 403 (DNS rebinding protection).
Also: GET /_journal, POST /_reset. Once bound it prints
"listening on http://HOST:PORT" on stdout.

Usage: mockmcpconformance [flags]

Flags:
`

func main() { serve.Main("mockmcpconformance", run) }

// hostList is a repeatable flag.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*h = append(*h, s)
		}
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := serve.NewFlags("mockmcpconformance", usage, "127.0.0.1:18110", stderr)
	var allowed hostList
	fs.Var(&allowed, "allow-host", "also accept this Host header `name` (host, or host:port for one port) besides loopback ones, e.g. the virtual host a gateway forwards; repeatable or comma-separated")
	ttl := fs.Duration("session-idle-ttl", mcpconformance.DefaultSessionIdleTTL, "end MCP sessions unused for this long")
	logger, err := fs.Parse(args)
	if err != nil {
		return err
	}
	srv, err := mcpconformance.New(mcpconformance.Config{AllowedHosts: allowed, SessionIdleTTL: *ttl, Logger: logger})
	if err != nil {
		return err
	}
	return serve.Run(ctx, serve.Options{
		Addr: *fs.Addr, Handler: srv, Logger: logger.With("mcp_server", mcpconformance.Name), Stdout: stdout,
		BeforeShutdown: srv.Close,
	})
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/internal/serve"
	"github.com/hopguard/hopguard/mockservers/journal"
)

func TestRunServesMCPUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, in := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--server", "crm", "--addr", "127.0.0.1:0"}, in, io.Discard) }()

	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	base := strings.TrimPrefix(strings.TrimSpace(line), "listening on ")

	// A legacy client keeps a GET stream open; shutdown must still finish.
	c, err := client.NewStreamableHttpClient(base+"/mcp", transport.WithContinuousListening())
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	_, err = c.Initialize(ctx, mcp.InitializeRequest{})
	require.NoError(t, err)
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	require.NoError(t, err)
	assert.Len(t, tools.Tools, 2)

	require.Eventually(t, func() bool {
		for _, e := range journalEntries(t, base) {
			if e.HTTPMethod == http.MethodGet {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "the client opened its GET stream")

	cancel()
	require.NoError(t, <-done)
	_ = c.Close()
}

func journalEntries(t *testing.T, base string) []journal.Entry {
	entries, err := journal.NewClient(base, nil).Entries(context.Background())
	require.NoError(t, err)
	return entries
}

func TestRunRequiresAServer(t *testing.T) {
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "unknown MCP server")
}

// --version is answered before anything else is checked or bound (without --server, or with an unknown one):
// serve.Main then prints the version line on stdout and exits 0. --help lists the flag.
func TestRunVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"--version", "--server", "nope"}} {
		var stdout, stderr bytes.Buffer
		require.ErrorIs(t, run(context.Background(), args, &stdout, &stderr), serve.ErrVersion, "%v", args)
		assert.Empty(t, stdout.String()+stderr.String())
	}
	var stderr bytes.Buffer
	require.ErrorIs(t, run(context.Background(), []string{"--help"}, io.Discard, &stderr), flag.ErrHelp)
	assert.Contains(t, stderr.String(), "-version")
}

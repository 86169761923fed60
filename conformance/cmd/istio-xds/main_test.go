package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

var runArgs = []string{
	"--addr", "127.0.0.1:0",
	"--gateway", "127.0.0.1:28080", "--synapse", "127.0.0.1:28091", "--llm", "127.0.0.1:28001",
	"--mcp", "tickets=127.0.0.1:28101", "--mcp", "crm=127.0.0.1:28102",
	"--mcp", "payments=127.0.0.1:28103", "--mcp", "payroll=127.0.0.1:28104",
	"--mcp", "knowledge=127.0.0.1:28105", "--mcp", "conformance=127.0.0.1:28110",
}

// lineWriter hands the first line written to it to a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if line, _, ok := strings.Cut(w.buf.String(), "\n"); ok && w.lines != nil {
		w.lines <- line
		w.lines = nil
	}
	return len(p), nil
}

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	lines := make(chan string, 1)
	stdout := &lineWriter{lines: lines}
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, runArgs, stdout, &stderr) }()

	var line string
	select {
	case line = <-lines:
	case err := <-done:
		t.Fatalf("run returned before listening: %v (%s)", err, stderr.String())
	}
	addr, ok := strings.CutPrefix(line, "listening on ")
	require.True(t, ok, "first line %q", line)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop with its context")
	}
	assert.Contains(t, stderr.String(), "removed HTTP filter istio.alpn", "every change from pilot's output is logged")
}

// Every --synapse is a replica: synapse's load assignment gets one endpoint each, in order, and
// the change says so.
func TestRunTakesEverySynapseReplica(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	lines := make(chan string, 1)
	var stderr bytes.Buffer // read only once run has returned
	done := make(chan error, 1)
	args := append(append([]string{}, runArgs...), "--synapse", "127.0.0.1:28092")
	go func() { done <- run(ctx, args, &lineWriter{lines: lines}, &stderr) }()
	select {
	case <-lines:
	case err := <-done:
		t.Fatalf("run returned before listening: %v (%s)", err, stderr.String())
	}
	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, stderr.String(), "endpoint 127.0.0.1:19191 -> one per replica: 127.0.0.1:28091, 127.0.0.1:28092")
}

func TestRunRefusesBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"not loopback":        {args: append(append([]string{}, runArgs...), "--addr", "0.0.0.0:0"), want: "loopback"},
		"upstream elsewhere":  {args: append(append([]string{}, runArgs...), "--llm", "10.0.0.1:80"), want: "not a loopback address"},
		"an MCP server short": {args: runArgs[:len(runArgs)-2], want: "conformance"},
		"mcp syntax":          {args: append(append([]string{}, runArgs...), "--mcp", "tickets"), want: "NAME=HOST:PORT"},
		"a synapse twice":     {args: append(append([]string{}, runArgs...), "--synapse", "127.0.0.1:28091"), want: "listed twice"},
		"stray argument":      {args: append(append([]string{}, runArgs...), "extra"), want: "unexpected arguments"},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(t.Context(), tc.args, io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestHelpExplains(t *testing.T) {
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"--help"}, io.Discard, &stderr)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"ADS", "pilot", "--node-id", "loopback", "SERVING", "istio-xds --version", "-version"} {
		assert.Contains(t, stderr.String(), want)
	}
}

// --version prints the version line on stdout before any other flag is checked or anything
// is bound, and run returns nil: exit 0.
func TestRunVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"--version", "--addr", "0.0.0.0:0"}} {
		var stdout, stderr bytes.Buffer
		require.NoError(t, run(t.Context(), args, &stdout, &stderr), "%v", args)
		assert.Regexp(t, `^istio-xds \S+( \S+)* go\S+\n$`, stdout.String())
		assert.Empty(t, stderr.String())
	}
}

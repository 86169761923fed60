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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/internal/serve"
)

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, in := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--models", "m1", "--provider-key", "k1"}, in, io.Discard)
	}()

	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	base := strings.TrimPrefix(strings.TrimSpace(line), "listening on ")

	req, err := http.NewRequest(http.MethodGet, base+"/v1/models", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer k1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"id":"m1"`)

	cancel()
	require.NoError(t, <-done)
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--addr", "0.0.0.0:0"},
		{"--models", ""},
		{"--log-level", "loud"},
		{"extra"},
	} {
		assert.Error(t, run(context.Background(), args, io.Discard, io.Discard), "%v", args)
	}
}

// --version is answered before anything else is checked or bound (even with a model list it would refuse):
// serve.Main then prints the version line on stdout and exits 0. --help lists the flag.
func TestRunVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"--version", "--models", ""}} {
		var stdout, stderr bytes.Buffer
		require.ErrorIs(t, run(context.Background(), args, &stdout, &stderr), serve.ErrVersion, "%v", args)
		assert.Empty(t, stdout.String()+stderr.String())
	}
	var stderr bytes.Buffer
	require.ErrorIs(t, run(context.Background(), []string{"--help"}, io.Discard, &stderr), flag.ErrHelp)
	assert.Contains(t, stderr.String(), "-version")
}

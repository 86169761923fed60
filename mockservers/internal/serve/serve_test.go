package serve

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:0": true, "localhost:8080": true, "[::1]:0": true, "127.0.0.2:1": true,
		"0.0.0.0:80": false, ":8080": false, "10.0.0.1:80": false, "example.com:80": false, "127.0.0.1": false,
	} {
		err := CheckLoopback(addr)
		assert.Equal(t, ok, err == nil, "%s: %v", addr, err)
	}
}

func TestRunAnnouncesServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, in := io.Pipe()
	stopped := false
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Addr:           "127.0.0.1:0",
			Handler:        http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "pong") }),
			Stdout:         in,
			BeforeShutdown: func(context.Context) { stopped = true },
		})
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, line)
	require.Regexp(t, `^http://127\.0\.0\.1:[1-9][0-9]*$`, url)

	resp, err := http.Get(url + "/ping")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "pong", string(body))

	cancel()
	require.NoError(t, <-done)
	assert.True(t, stopped)
}

func TestRunRefusesNonLoopback(t *testing.T) {
	err := Run(context.Background(), Options{Addr: "0.0.0.0:0", Handler: http.NotFoundHandler()})
	require.ErrorContains(t, err, "loopback")
}

func TestNewLogger(t *testing.T) {
	_, err := NewLogger(io.Discard, "chatty")
	require.Error(t, err)
	_, err = NewLogger(io.Discard, "debug")
	require.NoError(t, err)
}

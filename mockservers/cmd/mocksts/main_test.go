package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/mockservers/internal/serve"
	"github.com/hopguard/hopguard/mockservers/sts"
)

func TestRunIssuesTokensUntilCancelled(t *testing.T) {
	key, err := sts.GenerateKey()
	require.NoError(t, err)
	pemBytes, err := sts.EncodeKeyPEM(key)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(keyFile, pemBytes, 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, in := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--key-file", keyFile, "--clock-offset", "-2h"}, in, io.Discard)
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	base := strings.TrimPrefix(strings.TrimSpace(line), "listening on ")

	client := &identity.STSClient{TokenURL: base + sts.TokenPath}
	tok, err := client.Bootstrap(ctx, identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"}, identity.Attestation{})
	require.NoError(t, err)
	parsed, err := jwt.ParseSigned(tok.Value, []jose.SignatureAlgorithm{jose.ES256})
	require.NoError(t, err)
	var c sts.Claims
	require.NoError(t, parsed.Claims(&key.PublicKey, &c), "signed with the key from --key-file")
	// With the clock two hours back, the one-hour bootstrap token is born expired.
	assert.True(t, c.Expiry.Time().Before(time.Now()), "exp %s", c.Expiry.Time())

	cancel()
	require.NoError(t, <-done)
}

func TestRunRejectsBadKeyFile(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(keyFile, []byte("nope"), 0o600))
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--key-file", keyFile}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "no PEM block")
}

// --version is answered before anything else is checked or bound (even with a key file it could not read):
// serve.Main then prints the version line on stdout and exits 0. --help lists the flag.
func TestRunVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"--version", "--key-file", "/nonexistent/key.pem"}} {
		var stdout, stderr bytes.Buffer
		require.ErrorIs(t, run(context.Background(), args, &stdout, &stderr), serve.ErrVersion, "%v", args)
		assert.Empty(t, stdout.String()+stderr.String())
	}
	var stderr bytes.Buffer
	require.ErrorIs(t, run(context.Background(), []string{"--help"}, io.Discard, &stderr), flag.ErrHelp)
	assert.Contains(t, stderr.String(), "-version")
}

package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/llm"
)

func newTestPKI(t *testing.T) llm.TestPKI {
	t.Helper()
	pki, err := llm.NewTestPKI(t.TempDir(), "localhost")
	require.NoError(t, err)
	return pki
}

func TestRunServesHTTPSWithTheGivenCertificate(t *testing.T) {
	pki := newTestPKI(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, in := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--models", "m1", "--provider-key", "k1",
			"--tls-cert", pki.CertFile, "--tls-key", pki.KeyFile}, in, io.Discard)
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, line)
	require.Regexp(t, `^https://127\.0\.0\.1:[1-9][0-9]*$`, base)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(base, "https://"))
	require.NoError(t, err)
	byName := "https://localhost:" + port // the certificate names localhost

	get := func(client *http.Client, url string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, url+"/v1/models", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer k1")
		return client.Do(req)
	}
	pool := x509.NewCertPool()
	pool.AddCert(pki.CA)
	trusting := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
	resp, err := get(trusting, byName)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2 is offered, as real providers offer it")
	assert.Contains(t, string(body), `"id":"m1"`)

	t.Run("a client without the CA refuses the certificate", func(t *testing.T) {
		_, err := get(&http.Client{Transport: &http.Transport{}}, byName)
		var unknown x509.UnknownAuthorityError
		assert.ErrorAs(t, err, &unknown)
	})
	t.Run("plaintext gets no answer from the API", func(t *testing.T) {
		resp, err := get(http.DefaultClient, strings.Replace(byName, "https://", "http://", 1))
		if err == nil {
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "Go answers plaintext on a TLS port with 400")
			_ = resp.Body.Close()
		}
	})

	cancel()
	require.NoError(t, <-done)
}

func TestRunRefusesHalfATLSSetup(t *testing.T) {
	pki := newTestPKI(t)
	for _, args := range [][]string{
		{"--addr", "127.0.0.1:0", "--tls-cert", pki.CertFile},
		{"--addr", "127.0.0.1:0", "--tls-key", pki.KeyFile},
		{"--addr", "127.0.0.1:0", "--tls-cert", pki.KeyFile, "--tls-key", pki.CertFile},
		{"--addr", "127.0.0.1:0", "--tls-cert", filepath.Join(t.TempDir(), "missing.pem"), "--tls-key", pki.KeyFile},
		{"--addr", "0.0.0.0:0", "--tls-cert", pki.CertFile, "--tls-key", pki.KeyFile},
	} {
		assert.Error(t, run(context.Background(), args, io.Discard, io.Discard), "%v", args)
	}
}

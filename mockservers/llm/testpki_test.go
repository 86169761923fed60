package llm_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/llm"
)

func TestNewTestPKIIssuesACertificateForTheHostsOnly(t *testing.T) {
	pki, err := llm.NewTestPKI(t.TempDir(), "localhost")
	require.NoError(t, err)
	other, err := llm.NewTestPKI(t.TempDir(), "localhost")
	require.NoError(t, err)

	pair, err := tls.LoadX509KeyPair(pki.CertFile, pki.KeyFile)
	require.NoError(t, err, "the certificate and key belong together")
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)

	caPEM, err := os.ReadFile(pki.CAFile)
	require.NoError(t, err)
	block, _ := pem.Decode(caPEM)
	require.NotNil(t, block)
	assert.Equal(t, pki.CA.Raw, block.Bytes, "CAFile holds the CA")

	verify := func(ca *x509.Certificate, host string) error {
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		return err
	}
	assert.NoError(t, verify(pki.CA, "localhost"))
	assert.Error(t, verify(pki.CA, "api.openai.com"), "another host name")
	assert.Error(t, verify(other.CA, "localhost"), "another CA")

	_, err = llm.NewTestPKI(t.TempDir())
	assert.Error(t, err, "no host")

	t.Run("IssueServer: the same CA, another host", func(t *testing.T) {
		certFile, keyFile, err := pki.IssueServer(t.TempDir(), "elsewhere.example")
		require.NoError(t, err)
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(pair.Certificate[0])
		require.NoError(t, err)
		roots := x509.NewCertPool()
		roots.AddCert(pki.CA)
		_, err = cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "elsewhere.example"})
		assert.NoError(t, err)
		_, err = cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"})
		assert.Error(t, err)
	})
}

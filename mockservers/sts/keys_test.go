package sts_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/sts"
)

func TestKeyFileRoundTripKeepsTheKid(t *testing.T) {
	key, err := sts.GenerateKey()
	require.NoError(t, err)
	pemBytes, err := sts.EncodeKeyPEM(key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "sts.pem")
	require.NoError(t, os.WriteFile(path, pemBytes, 0o600))

	loaded, err := sts.LoadKeyFile(path)
	require.NoError(t, err)
	a, err := sts.New(sts.Config{Key: key})
	require.NoError(t, err)
	b, err := sts.New(sts.Config{Key: loaded})
	require.NoError(t, err)
	assert.Equal(t, a.JWKS().Keys[0].KeyID, b.JWKS().Keys[0].KeyID)
	assert.True(t, key.PublicKey.Equal(b.PublicKey()))

	sec1, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	fromSEC1, err := sts.ParseKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	require.NoError(t, err)
	assert.True(t, key.Equal(fromSEC1))
}

func TestParseKeyPEMRejects(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(p384)
	require.NoError(t, err)
	for name, raw := range map[string][]byte{
		"not PEM":     []byte("hello"),
		"certificate": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
		"P-384 key":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"garbage DER": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	} {
		_, err := sts.ParseKeyPEM(raw)
		assert.Error(t, err, name)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, cfg := range map[string]sts.Config{
		"relative issuer":     {Issuer: "sts"},
		"tiny ttl":            {TTL: time.Millisecond},
		"duplicate principal": {Principals: []sts.Principal{{ID: "a", Secret: "s"}, {ID: "a", Secret: "t"}}},
		"principal no secret": {Principals: []sts.Principal{{ID: "a"}}},
		"resource sts":        {Resources: []string{"llm", "sts"}},
		"empty resources":     {Resources: []string{}},
	} {
		_, err := sts.New(cfg)
		assert.Error(t, err, name)
	}
}

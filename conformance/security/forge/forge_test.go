package forge_test

import (
	"crypto"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/security/forge"
)

func TestES256VerifiesWithTheSigningKeyAndCarriesItsKid(t *testing.T) {
	key, err := forge.NewKey()
	require.NoError(t, err)
	kid := forge.Thumbprint(&key.PublicKey)
	tok, err := forge.ES256(key, forge.Header{"kid": kid}, forge.Claims{"sub": "carol", "roles": []string{"payroll-admin"}})
	require.NoError(t, err)

	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	require.NoError(t, err)
	payload, err := jws.Verify(&key.PublicKey)
	require.NoError(t, err)
	assert.JSONEq(t, `{"sub":"carol","roles":["payroll-admin"]}`, string(payload))
	assert.Equal(t, kid, jws.Signatures[0].Header.KeyID)

	other, err := forge.NewKey()
	require.NoError(t, err)
	_, err = jws.Verify(&other.PublicKey)
	assert.Error(t, err, "another key does not verify it")
}

func TestThumbprintIsTheJWKThumbprint(t *testing.T) {
	key, err := forge.NewKey()
	require.NoError(t, err)
	want, err := (&jose.JSONWebKey{Key: &key.PublicKey}).Thumbprint(crypto.SHA256)
	require.NoError(t, err)
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(want), forge.Thumbprint(&key.PublicKey))
}

func TestUnsignedAndHS256(t *testing.T) {
	none, err := forge.Unsigned(forge.Header{"alg": "none"}, forge.Claims{"sub": "x"})
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(none, "."), none)
	h, err := forge.ReadHeader(none)
	require.NoError(t, err)
	assert.Equal(t, "none", h["alg"])

	secret := []byte("0123456789abcdef0123456789abcdef")
	hs, err := forge.HS256(secret, forge.Header{"kid": "k"}, forge.Claims{"sub": "x"})
	require.NoError(t, err)
	jws, err := jose.ParseSigned(hs, []jose.SignatureAlgorithm{jose.HS256})
	require.NoError(t, err)
	_, err = jws.Verify(secret)
	require.NoError(t, err)
}

func TestClaimsEditCopies(t *testing.T) {
	tok, err := forge.Unsigned(forge.Header{"alg": "none"}, forge.Claims{"sub": "alice", "exp": 1, "aud": "llm"})
	require.NoError(t, err)
	c, err := forge.ReadClaims(tok)
	require.NoError(t, err)
	edited := c.Edit(forge.Claims{"sub": "carol", "exp": nil})
	assert.Equal(t, forge.Claims{"sub": "carol", "aud": "llm"}, edited)
	assert.Equal(t, "alice", c["sub"], "the original is untouched")
}

package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerifiedCacheStaysBounded(t *testing.T) {
	now := time.Now()
	live := verifiedToken{std: jwt.Claims{Expiry: jwt.NewNumericDate(now.Add(time.Hour))}}
	expired := verifiedToken{std: jwt.Claims{Expiry: jwt.NewNumericDate(now.Add(-time.Minute))}}

	c := newVerifiedCache(4)
	c.put("live-1", live, now)
	c.put("live-2", live, now)
	c.put("old-1", expired, now)
	c.put("old-2", expired, now)
	c.put("live-3", live, now)
	assert.Equal(t, 3, c.len(), "expired tokens go first")
	for _, k := range []string{"live-1", "live-2", "live-3"} {
		_, ok := c.get(k)
		assert.True(t, ok, k)
	}

	for i := range 10 {
		c.put(fmt.Sprintf("more-%d", i), live, now)
		require.LessOrEqual(t, c.len(), 4)
	}
	_, ok := c.get("more-9")
	assert.True(t, ok, "the newest token is kept")
}

// oneKey hands out a single key, as a key set holding one does.
type oneKey struct{ key *ecdsa.PublicKey }

func (k oneKey) Key(_ context.Context, kid string) (*ecdsa.PublicKey, error) {
	if kid != "k1" {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	return k.key, nil
}

func TestOnlyTokensWhoseSignatureHoldsAreRemembered(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	v := NewVerifier(oneKey{&key.PublicKey}, "https://sts.hopguard.local", time.Second)
	sign := func(k *ecdsa.PrivateKey, kid, aud string) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
			(&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), kid))
		require.NoError(t, err)
		raw, err := jwt.Signed(signer).Claims(jwt.Claims{
			Issuer: "https://sts.hopguard.local", Subject: "alice", Audience: jwt.Audience{aud},
			Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		}).Serialize()
		require.NoError(t, err)
		return raw
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ctx := context.Background()

	_, err = v.Verify(ctx, sign(key, "k1", "llm"), "llm")
	require.NoError(t, err)
	assert.Equal(t, 1, v.cache.len(), "a verified token is remembered")

	for name, raw := range map[string]string{
		"garbage":         "not.a.token",
		"unknown kid":     sign(key, "k2", "llm"),
		"forged with k1":  sign(other, "k1", "llm"),
		"tampered claims": sign(key, "k1", "llm") + "x",
	} {
		_, err := v.Verify(ctx, raw, "llm")
		require.ErrorIs(t, err, ErrInvalidToken, name)
		assert.Equal(t, 1, v.cache.len(), "%s is not remembered", name)
	}

	// Signed but for another route: remembered (the signature holds) and refused every time.
	payments := sign(key, "k1", "mcp:payments")
	for range 2 {
		_, err := v.Verify(ctx, payments, "llm")
		require.ErrorIs(t, err, ErrInvalidToken)
	}
	assert.Equal(t, 2, v.cache.len())
}

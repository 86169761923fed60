package identity_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
)

// clock is a settable clock for the verifier and the key set.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestAVerifiedTokenIsJudgedAgainOnEveryUse(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clk := &clock{now: time.Now()}
	v := newVerifier(t, iss, clk.Now)
	raw := iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "mcp:payments", Roles: []string{"tier-1-support"}, Expiry: clk.Now().Add(time.Minute)})
	ctx := context.Background()

	_, err := v.Verify(ctx, raw, "mcp:payments")
	require.NoError(t, err)
	fetches := iss.Fetches()

	c, err := v.Verify(ctx, raw, "mcp:payments")
	require.NoError(t, err, "the same token again")
	assert.Equal(t, "alice", c.Subject)
	assert.Equal(t, fetches, iss.Fetches(), "no key fetch for a token seen before")

	_, err = v.Verify(ctx, raw, "llm")
	require.ErrorIs(t, err, identity.ErrInvalidToken, "a token seen before is still bound to its route")
	assert.ErrorContains(t, err, `does not match route resource "llm"`)

	clk.Advance(time.Minute + skew + time.Second)
	_, err = v.Verify(ctx, raw, "mcp:payments")
	require.ErrorIs(t, err, identity.ErrInvalidToken, "a token seen before still expires")
	assert.ErrorContains(t, err, "token expired")
}

func TestClaimsBelongToTheCaller(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	v := newVerifier(t, iss, time.Now)
	raw := iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm", Roles: []string{"tier-1-support"}})

	first, err := v.Verify(context.Background(), raw, "llm")
	require.NoError(t, err)
	first.Roles[0] = "payroll-admin"
	second, err := v.Verify(context.Background(), raw, "llm")
	require.NoError(t, err)
	assert.Equal(t, []string{"tier-1-support"}, second.Roles, "one caller's changes never reach the next")
}

// jwks serves a key set that a test can withdraw keys from (identitytest only adds keys).
type jwks struct {
	key       *ecdsa.PrivateKey
	withdrawn atomic.Bool
}

func (j *jwks) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	set := jose.JSONWebKeySet{}
	if !j.withdrawn.Load() {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: j.key.Public(), KeyID: "k1", Algorithm: string(jose.ES256), Use: "sig"})
	}
	_ = json.NewEncoder(w).Encode(set)
}

func TestAWithdrawnKeyStopsVerifyingTokensSeenBefore(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	set := &jwks{key: key}
	srv := httptest.NewServer(set)
	t.Cleanup(srv.Close)

	clk := &clock{now: time.Now()}
	keys := identity.NewKeySet(identity.KeySetConfig{URL: srv.URL, MaxAge: time.Minute, MinRefreshInterval: time.Second, Now: clk.Now})
	v := identity.NewVerifier(keys, identitytest.DefaultIssuer, skew, identity.WithClock(clk.Now))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), "k1"))
	require.NoError(t, err)
	raw, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: identitytest.DefaultIssuer, Subject: "alice", Audience: jwt.Audience{"llm"},
		Expiry: jwt.NewNumericDate(clk.Now().Add(time.Hour)),
	}).Serialize()
	require.NoError(t, err)

	_, err = v.Verify(context.Background(), raw, "llm")
	require.NoError(t, err)

	set.withdrawn.Store(true)
	clk.Advance(2 * time.Minute) // past MaxAge: the key set fetches again and the key is gone
	_, err = v.Verify(context.Background(), raw, "llm")
	require.ErrorIs(t, err, identity.ErrInvalidToken)
	assert.ErrorIs(t, err, identity.ErrUnknownKey)
}

package identity_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
)

const skew = 30 * time.Second

func newVerifier(t *testing.T, iss *identitytest.Issuer, now func() time.Time) *identity.Verifier {
	t.Helper()
	keys := identity.NewKeySet(identity.KeySetConfig{URL: iss.JWKSURL(), Now: now})
	return identity.NewVerifier(keys, identitytest.DefaultIssuer, skew, identity.WithClock(now))
}

func TestVerifyAcceptsAValidToken(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	v := newVerifier(t, iss, time.Now)
	raw := iss.Mint(t, identitytest.Token{
		Subject: "alice", Audience: "mcp:payments", Roles: []string{"tier-1-support"},
		AgentID: "triage", HarnessVersion: "1.2.3", TaskID: "task-1", Actor: "spiffe://hopguard.local/ns/agents/sa/triage",
	})

	c, err := v.Verify(context.Background(), raw, "mcp:payments")
	require.NoError(t, err)
	assert.Equal(t, "alice", c.Subject)
	assert.Equal(t, "mcp:payments", c.Audience)
	assert.Equal(t, []string{"tier-1-support"}, c.Roles)
	assert.Equal(t, "triage", c.AgentID)
	assert.Equal(t, "1.2.3", c.HarnessVersion)
	assert.Equal(t, "task-1", c.TaskID)
	assert.Equal(t, "spiffe://hopguard.local/ns/agents/sa/triage", c.Actor)
	assert.NotEmpty(t, c.TokenID)
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	now := time.Now()
	valid := identitytest.Token{Subject: "alice", Audience: "llm", Roles: []string{"tier-1-support"}}
	with := func(f func(*identitytest.Token)) string {
		tok := valid
		f(&tok)
		return iss.Mint(t, tok)
	}
	good := iss.Mint(t, valid)
	parts := strings.Split(good, ".")

	tests := []struct {
		name     string
		raw      string
		audience string
		want     string
	}{
		{"empty", "", "llm", "empty token"},
		{"garbage", "not-a-jwt", "llm", "invalid token"},
		{"oversized", strings.Repeat("a", 20000), "llm", "longer than"},
		{"audience of another route", good, "mcp:payments", `does not match route resource "mcp:payments"`},
		{"no route resource", good, "", "route has no resource"},
		{"several audiences", iss.MintClaims(t, baseClaims(map[string]any{"aud": []string{"llm", "mcp:crm"}})), "llm", "does not match"},
		{"expired beyond skew", with(func(tk *identitytest.Token) {
			tk.IssuedAt, tk.NotBefore, tk.Expiry = now.Add(-10*time.Minute), now.Add(-10*time.Minute), now.Add(-time.Minute)
		}), "llm", "token expired"},
		{"not yet valid beyond skew", with(func(tk *identitytest.Token) { tk.NotBefore = now.Add(2 * time.Minute) }), "llm", "not valid yet"},
		{"issued in the future", with(func(tk *identitytest.Token) { tk.IssuedAt = now.Add(2 * time.Minute) }), "llm", "issued in the future"},
		{"other issuer", with(func(tk *identitytest.Token) { tk.Issuer = "https://evil.example" }), "llm", "issuer not trusted"},
		{"no expiry", with(func(tk *identitytest.Token) { tk.NoExpiry = true }), "llm", "no expiry"},
		{"no subject", with(func(tk *identitytest.Token) { tk.Subject = "" }), "llm", "no subject"},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"carol","aud":"llm","iss":"`+identitytest.DefaultIssuer+`","exp":9999999999,"roles":["payroll-admin"]}`)) + "." + parts[2], "llm", "invalid token"},
		{"alg none", unsigned(`{"alg":"none","kid":"k"}`, `{"sub":"alice","aud":"llm"}`), "llm", "unexpected signature algorithm"},
		{"HS256", signForeign(t, jose.HS256, "k"), "llm", "unexpected signature algorithm"},
		{"RS256", signForeign(t, jose.RS256, "k"), "llm", "unexpected signature algorithm"},
		{"ES384", signForeign(t, jose.ES384, "k"), "llm", "unexpected signature algorithm"},
		{"no kid", signForeign(t, jose.ES256, ""), "llm", "no key id"},
		{"unknown kid", signForeign(t, jose.ES256, "made-up"), "llm", "unknown signing key"},
		// Go's base64 decoders, Strict included, skip CR and LF: the same signed token, respelled.
		{"line break inside a segment", parts[0] + "." + parts[1][:40] + "\n" + parts[1][40:] + "." + parts[2], "llm", "outside the base64url alphabet"},
		{"carriage return inside the signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\r" + parts[2][10:], "llm", "outside the base64url alphabet"},
		{"padding", good + "=", "llm", "outside the base64url alphabet"},
		{"roles not a list", iss.MintClaims(t, baseClaims(map[string]any{"roles": "payroll-admin"})), "llm", "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, iss, time.Now)
			c, err := v.Verify(context.Background(), tt.raw, tt.audience)
			require.ErrorIs(t, err, identity.ErrInvalidToken)
			assert.ErrorContains(t, err, tt.want)
			assert.Nil(t, c)
		})
	}
}

func TestVerifyAllowsSmallClockSkew(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	now := time.Now()
	raw := iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm", IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Minute)})

	for name, at := range map[string]time.Time{
		"clock behind the STS":   now.Add(-20 * time.Second),
		"just past expiry":       now.Add(time.Minute + 20*time.Second),
		"well inside the window": now.Add(30 * time.Second),
	} {
		t.Run(name, func(t *testing.T) {
			v := newVerifier(t, iss, func() time.Time { return at })
			_, err := v.Verify(context.Background(), raw, "llm")
			require.NoError(t, err)
		})
	}
}

func TestVerifierWithoutIssuerRefusesEverything(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	keys := identity.NewKeySet(identity.KeySetConfig{URL: iss.JWKSURL()})
	v := identity.NewVerifier(keys, "", skew)
	_, err := v.Verify(context.Background(), iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm"}), "llm")
	require.ErrorIs(t, err, identity.ErrInvalidToken)
	assert.ErrorContains(t, err, "no trusted issuer")
}

func TestVerifyReportsUnavailableKeys(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	iss.SetDown(true)
	keys := identity.NewKeySet(identity.KeySetConfig{URL: iss.JWKSURL()})
	v := identity.NewVerifier(keys, identitytest.DefaultIssuer, skew)

	_, err := v.Verify(context.Background(), iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm"}), "llm")
	require.ErrorIs(t, err, identity.ErrKeysUnavailable)
	assert.NotErrorIs(t, err, identity.ErrInvalidToken, "an STS outage is not the client's fault")
	assert.ErrorContains(t, err, "status 503")
}

func baseClaims(edits map[string]any) map[string]any {
	c := map[string]any{
		"iss": identitytest.DefaultIssuer, "sub": "alice", "aud": "llm",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "roles": []string{"x"},
	}
	for k, v := range edits {
		c[k] = v
	}
	return c
}

// signForeign signs valid-looking claims with a key the STS never published.
func signForeign(t *testing.T, alg jose.SignatureAlgorithm, kid string) string {
	t.Helper()
	var key any
	switch alg {
	case jose.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		key = k
	case jose.ES384:
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
		key = k
	case jose.RS256:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		key = k
	case jose.HS256:
		key = []byte("0123456789abcdef0123456789abcdef")
	}
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	require.NoError(t, err)
	raw, err := jwt.Signed(signer).Claims(baseClaims(nil)).Serialize()
	require.NoError(t, err)
	return raw
}

func unsigned(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "."
}

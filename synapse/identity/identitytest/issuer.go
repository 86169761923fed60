// Package identitytest is a tiny in-test STS: an ES256 key, its JWKS served
// by an httptest server, and a minter for per-resource tokens.
package identitytest

import (
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
)

// DefaultIssuer is the issuer the STS uses by default (CONTRACTS.md).
const DefaultIssuer = "https://sts.hopguard.local"

// Issuer signs tokens and publishes its keys.
type Issuer struct {
	Issuer string

	srv     *httptest.Server
	fetches atomic.Int64
	down    atomic.Bool

	mu   sync.Mutex
	kid  string
	key  *ecdsa.PrivateKey
	keys []jose.JSONWebKey
}

// NewIssuer starts a JWKS server on 127.0.0.1 that stops with the test.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{Issuer: DefaultIssuer}
	iss.Rotate(t)
	iss.srv = httptest.NewServer(http.HandlerFunc(iss.serveJWKS))
	t.Cleanup(iss.srv.Close)
	return iss
}

// JWKSURL is where the key set is served.
func (i *Issuer) JWKSURL() string { return i.srv.URL + "/.well-known/jwks.json" }

// Fetches counts how often the JWKS was served.
func (i *Issuer) Fetches() int64 { return i.fetches.Load() }

// Rotate adds a fresh signing key (with a new kid) and signs with it from
// now on; earlier keys stay published.
func (i *Issuer) Rotate(t testing.TB) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.kid = "key-" + rand.Text()[:10]
	i.key = key
	i.keys = append(i.keys, jose.JSONWebKey{Key: key.Public(), KeyID: i.kid, Algorithm: string(jose.ES256), Use: "sig"})
}

// SetDown makes the JWKS endpoint answer 503 (down) or serve keys again.
func (i *Issuer) SetDown(down bool) { i.down.Store(down) }

func (i *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	i.fetches.Add(1)
	if i.down.Load() {
		http.Error(w, "key set unavailable", http.StatusServiceUnavailable)
		return
	}
	i.mu.Lock()
	set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), i.keys...)}
	i.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// Token describes a token to mint. Zero times get sensible values: issued
// and valid from now, expiring in five minutes.
type Token struct {
	Subject        string
	Audience       string
	Roles          []string
	AgentID        string
	HarnessVersion string
	TaskID         string
	Actor          string
	Issuer         string // defaults to the Issuer's
	IssuedAt       time.Time
	NotBefore      time.Time
	Expiry         time.Time
	NoExpiry       bool
}

// Mint signs tok with the current key.
func (i *Issuer) Mint(t testing.TB, tok Token) string {
	t.Helper()
	return i.MintClaims(t, i.claims(tok))
}

// MintClaims signs arbitrary claims with the current key, for tests of
// malformed tokens.
func (i *Issuer) MintClaims(t testing.TB, claims map[string]any) string {
	t.Helper()
	i.mu.Lock()
	key, kid := i.key, i.kid
	i.mu.Unlock()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid),
	)
	if err != nil {
		t.Fatalf("new signer: %v", err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return raw
}

func (i *Issuer) claims(tok Token) map[string]any {
	now := time.Now()
	or := func(t, def time.Time) time.Time {
		if t.IsZero() {
			return def
		}
		return t
	}
	issuer := tok.Issuer
	if issuer == "" {
		issuer = i.Issuer
	}
	c := map[string]any{
		"iss":   issuer,
		"sub":   tok.Subject,
		"aud":   tok.Audience,
		"iat":   or(tok.IssuedAt, now).Unix(),
		"nbf":   or(tok.NotBefore, now).Unix(),
		"jti":   rand.Text(),
		"roles": tok.Roles,
	}
	if !tok.NoExpiry {
		c["exp"] = or(tok.Expiry, now.Add(5*time.Minute)).Unix()
	}
	for k, v := range map[string]string{"agent_id": tok.AgentID, "harness_version": tok.HarnessVersion, "task_id": tok.TaskID} {
		if v != "" {
			c[k] = v
		}
	}
	if tok.Actor != "" {
		c["act"] = map[string]string{"sub": tok.Actor}
	}
	return c
}

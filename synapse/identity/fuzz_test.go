package identity_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/hopguard/hopguard/synapse/identity"
)

// fuzzKeyPEM is a P-256 key that exists only for this test. It is fixed, not generated, because
// the fuzzing engine runs the target in several worker processes: each must trust the key that
// signed the seeds the coordinator hands it, or no mutation would ever reach the accepting path.
const fuzzKeyPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFs2+yazizCoRVkdt
NqUVfeVc6senuAapJ72ia6U5o5yhRANCAAQnzJXfYfKLyjuVd9ofGaZLxipqv+K7
wTb2g4f8U4z3mgcRAo0vEGAYxB2iM2zwgJYjRaKqF7YIpbKtGXDwxCgQ
-----END PRIVATE KEY-----`

const (
	fuzzKid    = "fuzz-key-1"
	fuzzIssuer = "https://sts.hopguard.local"
)

// fuzzNow is the verifier's clock: fixed, so that the seed tokens stay valid forever.
var fuzzNow = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// fuzzAudiences are the routes a fuzzed token is presented on.
var fuzzAudiences = []string{"llm", "mcp:payments", "mcp:payroll", ""}

// staticKeys is a key set that never changes and never fails to be fetched.
type staticKeys map[string]*ecdsa.PublicKey

func (k staticKeys) Key(_ context.Context, kid string) (*ecdsa.PublicKey, error) {
	if key, ok := k[kid]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("%w: %q", identity.ErrUnknownKey, kid)
}

// FuzzVerify feeds the verifier hostile tokens. It must never panic; every refusal wraps
// ErrInvalidToken (the keys are always there, so nothing may look like an outage); and whatever
// it accepts was signed by the trusted key, byte for byte (no forged, re-encoded or re-headed
// token passes), is for exactly the route's audience and no other, comes from the trusted
// issuer and is inside its validity window.
func FuzzVerify(f *testing.F) {
	key := fuzzKey(f)
	signed := map[string]bool{} // header.payload of every token the trusted key signed
	sign := func(claims map[string]any, headers map[jose.HeaderKey]any) string {
		tok := signToken(f, jose.ES256, key, claims, headers)
		signed[signingInput(tok)] = true
		return tok
	}
	kid := map[jose.HeaderKey]any{"kid": fuzzKid}
	valid := fuzzClaims(nil)

	seeds := []struct {
		raw string
		aud uint8
	}{
		{sign(valid, kid), 1},
		{sign(fuzzClaims(map[string]any{"aud": "llm", "sub": "spiffe://hopguard.local/ns/agents/sa/triage", "roles": []string{"triage-agent"}, "act": map[string]any{"sub": "x"}}), kid), 0},
		{sign(fuzzClaims(map[string]any{"aud": []string{"mcp:payments", "mcp:payroll"}}), kid), 1},
		{sign(fuzzClaims(map[string]any{"exp": fuzzNow.Add(-time.Hour).Unix()}), kid), 1},
		{sign(fuzzClaims(map[string]any{"nbf": fuzzNow.Add(time.Hour).Unix()}), kid), 1},
		{sign(fuzzClaims(map[string]any{"iss": "https://evil.example"}), kid), 1},
		{sign(fuzzClaims(map[string]any{"exp": nil}), kid), 1},
		{sign(fuzzClaims(map[string]any{"sub": ""}), kid), 1},
		{sign(fuzzClaims(map[string]any{"roles": "payroll-admin"}), kid), 1},
		{sign(valid, map[jose.HeaderKey]any{"kid": "another-kid"}), 1},
		{sign(valid, map[jose.HeaderKey]any{"kid": fuzzKid, "crit": []string{"exp"}}), 1},
		{sign(valid, map[jose.HeaderKey]any{"kid": fuzzKid, "jku": "http://127.0.0.1:1/jwks.json"}), 1},
		{unsignedToken(`{"alg":"none","kid":"`+fuzzKid+`"}`, valid), 1},
		{unsignedToken(`{"alg":"ES256","kid":"`+fuzzKid+`"}`, valid), 1},
		{signToken(f, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), valid, kid), 1},
		{signToken(f, jose.ES256, otherKey(f), valid, kid), 1},
		{"eyJhbGciOiJFUzI1NiJ9..", 0},
		{"a.b.c.d.e", 0},
		{"", 0},
	}
	for _, s := range seeds {
		f.Add(s.raw, s.aud)
	}

	v := fuzzVerifier(key)
	f.Fuzz(func(t *testing.T, raw string, aud uint8) {
		audience := fuzzAudiences[int(aud)%len(fuzzAudiences)]
		c, err := v.Verify(context.Background(), raw, audience)
		if err != nil {
			if !errors.Is(err, identity.ErrInvalidToken) || errors.Is(err, identity.ErrKeysUnavailable) {
				t.Fatalf("refusal that is not an invalid token: %v", err)
			}
			if c != nil {
				t.Fatalf("claims returned with error %v", err)
			}
			return
		}
		if !signed[signingInput(raw)] {
			t.Fatalf("accepted a token whose header and payload the trusted key never signed: %q", raw)
		}
		if audience == "" || c.Audience != audience || c.Subject == "" {
			t.Fatalf("accepted for audience %q: %+v", audience, c)
		}
		if c.Expiry.Before(fuzzNow.Add(-30 * time.Second)) {
			t.Fatalf("accepted a token that expired at %s", c.Expiry)
		}
		checkPayload(t, raw, audience)
		for _, other := range fuzzAudiences {
			if other == audience {
				continue
			}
			if _, err := v.Verify(context.Background(), raw, other); err == nil {
				t.Fatalf("a token accepted on %q is also accepted on %q", audience, other)
			}
		}
	})
}

// TestFuzzVerifySeedsReachBothPaths keeps FuzzVerify honest: its valid seed is accepted (so the
// fuzzer explores the accepting path and its checks can fail) and its forgeries are refused.
func TestFuzzVerifySeedsReachBothPaths(t *testing.T) {
	key := fuzzKey(t)
	v := fuzzVerifier(key)
	kid := map[jose.HeaderKey]any{"kid": fuzzKid}
	good := signToken(t, jose.ES256, key, fuzzClaims(nil), kid)
	c, err := v.Verify(context.Background(), good, "mcp:payments")
	if err != nil || c.Subject != "alice" {
		t.Fatalf("the valid seed is refused: %v", err)
	}
	for name, raw := range map[string]string{
		"alg none":      unsignedToken(`{"alg":"none","kid":"`+fuzzKid+`"}`, fuzzClaims(nil)),
		"another key":   signToken(t, jose.ES256, otherKey(t), fuzzClaims(nil), kid),
		"wrong issuer":  signToken(t, jose.ES256, key, fuzzClaims(map[string]any{"iss": "https://evil.example"}), kid),
		"crit header":   signToken(t, jose.ES256, key, fuzzClaims(nil), map[jose.HeaderKey]any{"kid": fuzzKid, "crit": []string{"exp"}}),
		"two audiences": signToken(t, jose.ES256, key, fuzzClaims(map[string]any{"aud": []string{"mcp:payments", "llm"}}), kid),
	} {
		if _, err := v.Verify(context.Background(), raw, "mcp:payments"); !errors.Is(err, identity.ErrInvalidToken) {
			t.Errorf("%s: want an invalid token, got %v", name, err)
		}
	}
}

func fuzzVerifier(key *ecdsa.PrivateKey) *identity.Verifier {
	return identity.NewVerifier(staticKeys{fuzzKid: &key.PublicKey}, fuzzIssuer, 30*time.Second,
		identity.WithClock(func() time.Time { return fuzzNow }))
}

// checkPayload reads the accepted token's claims as any other JSON reader would: the issuer and
// the one audience must be what the verifier judged, so no second reading of the payload grants
// more than the verifier saw.
func checkPayload(t *testing.T, raw, audience string) {
	t.Helper()
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("accepted a token whose payload is not base64url: %v", err)
	}
	var claims struct {
		Iss string          `json:"iss"`
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("accepted a token whose payload encoding/json rejects: %v", err)
	}
	var aud string
	if err := json.Unmarshal(claims.Aud, &aud); err != nil {
		var list []string
		if err := json.Unmarshal(claims.Aud, &list); err != nil || len(list) != 1 {
			t.Fatalf("accepted a token whose audience is %s", claims.Aud)
		}
		aud = list[0]
	}
	if claims.Iss != fuzzIssuer || aud != audience {
		t.Fatalf("accepted a token for issuer %q, audience %q", claims.Iss, aud)
	}
}

// fuzzClaims are valid claims for mcp:payments at fuzzNow, with edits (a nil value removes).
func fuzzClaims(edits map[string]any) map[string]any {
	c := map[string]any{
		"iss": fuzzIssuer, "sub": "alice", "aud": "mcp:payments", "jti": "seed",
		"iat": fuzzNow.Add(-time.Minute).Unix(), "nbf": fuzzNow.Add(-time.Minute).Unix(),
		"exp": fuzzNow.Add(5 * time.Minute).Unix(), "roles": []string{"tier-1-support"},
		"agent_id": "support-agent", "task_id": "task-1",
	}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func fuzzKey(f testing.TB) *ecdsa.PrivateKey {
	f.Helper()
	block, _ := pem.Decode([]byte(fuzzKeyPEM))
	if block == nil {
		f.Fatal("fuzz key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		f.Fatalf("fuzz key: %v", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		f.Fatalf("fuzz key is a %T", k)
	}
	return key
}

// otherKey is a key the verifier does not trust; it signs under the trusted key's id.
func otherKey(f testing.TB) *ecdsa.PrivateKey {
	f.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatalf("generate key: %v", err)
	}
	return k
}

func signToken(f testing.TB, alg jose.SignatureAlgorithm, key any, claims map[string]any, headers map[jose.HeaderKey]any) string {
	f.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range headers {
		opts = opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts.WithType("JWT"))
	if err != nil {
		f.Fatalf("new signer: %v", err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		f.Fatalf("sign: %v", err)
	}
	return raw
}

func unsignedToken(header string, claims map[string]any) string {
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc(payload) + "."
}

// signingInput is the part of a compact JWS the signature covers.
func signingInput(raw string) string {
	i := strings.LastIndexByte(raw, '.')
	if i < 0 {
		return ""
	}
	return raw[:i]
}

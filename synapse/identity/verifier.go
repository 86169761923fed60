// Package identity verifies the per-resource JWTs that the STS issues and
// turns them into claims. Identity comes from a verified token only: nothing
// a client sends outside the signed token is trusted.
package identity

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

var (
	// ErrInvalidToken wraps every reason a token is refused.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnknownKey means the token names a key id the STS does not publish.
	// It also wraps ErrInvalidToken when returned by Verify.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrKeysUnavailable means the STS's JWKS could not be fetched, so no
	// token can be judged: an infrastructure failure, not the client's fault.
	ErrKeysUnavailable = errors.New("token signing keys unavailable")
)

// maxTokenBytes bounds the parsing work a hostile header can cause.
const maxTokenBytes = 16 << 10

// Keys finds verification keys by key id.
type Keys interface {
	Key(ctx context.Context, kid string) (*ecdsa.PublicKey, error)
}

// Verifier checks per-resource tokens: an ES256 signature by a key in the
// STS's JWKS, the issuer, the time window (with a small skew) and an audience
// equal to the resource of the route the request came through.
type Verifier struct {
	keys   Keys
	issuer string
	skew   time.Duration
	now    func() time.Time
	cache  *verifiedCache
}

// VerifierOption configures a Verifier.
type VerifierOption func(*Verifier)

// WithClock sets the clock used for exp and nbf.
func WithClock(now func() time.Time) VerifierOption {
	return func(v *Verifier) { v.now = now }
}

// NewVerifier returns a Verifier that trusts tokens from issuer signed by keys.
func NewVerifier(keys Keys, issuer string, skew time.Duration, opts ...VerifierOption) *Verifier {
	v := &Verifier{keys: keys, issuer: issuer, skew: skew, now: time.Now, cache: newVerifiedCache(verifiedCacheSize)}
	for _, opt := range opts {
		opt(v)
	}
	return v
}

// Verify checks raw (a compact JWS, without "Bearer ") for the given
// audience and returns its claims. Errors wrap ErrInvalidToken, or
// ErrKeysUnavailable when the keys could not be fetched.
func (v *Verifier) Verify(ctx context.Context, raw, audience string) (*Claims, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty token", ErrInvalidToken)
	}
	if len(raw) > maxTokenBytes {
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrInvalidToken, maxTokenBytes)
	}
	if t, ok := v.cache.get(raw); ok {
		// The same bytes were verified before; the key must still be the one the key set
		// hands out. Otherwise verify from scratch, which reports why it no longer verifies.
		if key, err := v.keys.Key(ctx, t.kid); err == nil && key == t.key {
			return v.accept(t.std, t.priv, audience)
		}
	}
	if err := checkCanonicalSegments(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// Only ES256 is accepted: "none", HMAC (key confusion) and everything
	// else are refused before any key is looked up.
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if len(tok.Headers) != 1 {
		return nil, fmt.Errorf("%w: want exactly one signature", ErrInvalidToken)
	}
	kid := tok.Headers[0].KeyID
	if kid == "" {
		return nil, fmt.Errorf("%w: token has no key id", ErrInvalidToken)
	}
	key, err := v.keys.Key(ctx, kid)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
		}
		return nil, err
	}

	var std jwt.Claims
	var priv privateClaims
	if err := tok.Claims(key, &std, &priv); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// The signature holds: remember it, whatever the claims say (they are judged on every use).
	v.cache.put(raw, verifiedToken{kid: kid, key: key, std: std, priv: priv}, v.now())
	return v.accept(std, priv, audience)
}

// accept judges the claims of a token whose signature holds.
func (v *Verifier) accept(std jwt.Claims, priv privateClaims, audience string) (*Claims, error) {
	if err := v.validate(std, audience); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return newClaims(std, priv, audience), nil
}

func (v *Verifier) validate(std jwt.Claims, audience string) error {
	if std.Subject == "" {
		return errors.New("token has no subject")
	}
	// go-jose treats a missing exp as "never expires"; a per-resource token
	// must be short-lived, so exp is required.
	if std.Expiry == nil {
		return errors.New("token has no expiry")
	}
	if v.issuer == "" {
		return errors.New("no trusted issuer configured")
	}
	if audience == "" {
		return errors.New("route has no resource to check the audience against")
	}
	// The audience must be exactly the route's resource: a token for several
	// resources would let one stolen token open several routes.
	if len(std.Audience) != 1 || std.Audience[0] != audience {
		return fmt.Errorf("token audience %q does not match route resource %q", []string(std.Audience), audience)
	}
	expected := jwt.Expected{Issuer: v.issuer, Time: v.now()}
	if err := std.ValidateWithLeeway(expected, v.skew); err != nil {
		return describe(err)
	}
	return nil
}

func describe(err error) error {
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return errors.New("token expired")
	case errors.Is(err, jwt.ErrNotValidYet):
		return errors.New("token not valid yet")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return errors.New("token issued in the future")
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return errors.New("token issuer not trusted")
	}
	return err
}

// checkCanonicalSegments refuses a compact JWS whose segments are not canonical unpadded
// base64url. go-jose decodes leniently (non-zero trailing bits) and verifies the signature over
// the decoded bytes, so without this check one signed token has many spellings, each a new
// entry in the verified-token cache and a new string in every log. A token has exactly one
// spelling, the one its issuer signed. Strict decoding still skips CR and LF, so the alphabet
// is checked first. (Both found by FuzzVerify.)
func checkCanonicalSegments(raw string) error {
	segments := strings.Split(raw, ".")
	if len(segments) != 3 {
		return fmt.Errorf("want 3 dot-separated segments, got %d", len(segments))
	}
	for i, s := range segments {
		if j := strings.IndexFunc(s, notBase64URL); j >= 0 {
			return fmt.Errorf("segment %d has %q at %d, outside the base64url alphabet", i+1, s[j], j)
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(s); err != nil {
			return fmt.Errorf("segment %d is not canonical base64url: %w", i+1, err)
		}
	}
	return nil
}

// notBase64URL reports a rune outside the unpadded base64url alphabet (RFC 4648 §5).
func notBase64URL(r rune) bool {
	return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_')
}

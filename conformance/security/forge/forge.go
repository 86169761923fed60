// Package forge writes the tokens an attacker would try: unsigned ("alg": "none"), signed by a
// key the STS never published, HMAC-signed with the STS's public key as the secret, or signed
// by the STS's real key with one claim wrong. It builds compact JWS by hand, so that every
// header and claim is exactly what the test says, including the ones a JOSE library would
// refuse to produce.
package forge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Header is a JOSE header; Claims a JWT payload.
type (
	Header map[string]any
	Claims map[string]any
)

// Edit returns a copy of c with edits applied; a nil value removes the claim.
func (c Claims) Edit(edits Claims) Claims {
	out := make(Claims, len(c)+len(edits))
	for k, v := range c {
		out[k] = v
	}
	for k, v := range edits {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// ReadClaims returns a token's claims without verifying anything: a forgery starts from a
// genuine token and changes what it wants.
func ReadClaims(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("forge: not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("forge: decode claims: %w", err)
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("forge: decode claims: %w", err)
	}
	return c, nil
}

// ReadHeader returns a token's JOSE header.
func ReadHeader(token string) (Header, error) {
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return nil, fmt.Errorf("forge: decode header: %w", err)
	}
	var h Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("forge: decode header: %w", err)
	}
	return h, nil
}

// Unsigned is a token with an empty signature, whatever its header says ("alg": "none").
func Unsigned(h Header, c Claims) (string, error) {
	input, err := signingInput(h, c)
	if err != nil {
		return "", err
	}
	return input + ".", nil
}

// ES256 signs with key: the STS's own key (for a token wrong in one claim) or another.
func ES256(key *ecdsa.PrivateKey, h Header, c Claims) (string, error) {
	h = withAlg(h, "ES256")
	input, err := signingInput(h, c)
	if err != nil {
		return "", err
	}
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", fmt.Errorf("forge: sign: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// HS256 signs with an HMAC secret: given the STS's public key, the key-confusion attack on a
// verifier that takes the algorithm from the token.
func HS256(secret []byte, h Header, c Claims) (string, error) {
	h = withAlg(h, "HS256")
	input, err := signingInput(h, c)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// NewKey is a P-256 key the STS never published.
func NewKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("forge: generate key: %w", err)
	}
	return k, nil
}

// ParseKey reads a PKCS#8 or SEC 1 P-256 private key from PEM (the STS's key file).
func ParseKey(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("forge: no PEM block")
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("forge: parse key: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("forge: the key is a %T, not ECDSA", k)
	}
	return ec, nil
}

// PublicJWK is key's public half as a JWK (for an embedded "jwk" header, or as the HMAC secret
// of the key-confusion attack).
func PublicJWK(key *ecdsa.PublicKey) map[string]any {
	return map[string]any{
		"kty": "EC", "crv": "P-256",
		"x": coordinate(key.X), "y": coordinate(key.Y),
	}
}

// Thumbprint is the RFC 7638 thumbprint of key, which the STS uses as its kid.
func Thumbprint(key *ecdsa.PublicKey) string {
	// The members in lexicographic order, no whitespace (RFC 7638 section 3.3).
	canonical := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, coordinate(key.X), coordinate(key.Y))
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func coordinate(n *big.Int) string {
	b := make([]byte, 32)
	n.FillBytes(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func withAlg(h Header, alg string) Header {
	out := Header{"alg": alg, "typ": "JWT"}
	for k, v := range h {
		out[k] = v
	}
	return out
}

func signingInput(h Header, c Claims) (string, error) {
	head, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("forge: encode header: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("forge: encode claims: %w", err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(head) + "." + enc(payload), nil
}

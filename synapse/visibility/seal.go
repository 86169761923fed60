package visibility

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hopguard/hopguard/synapse/pdp"
)

// A gateway balances a request's check and the processing of its answer over synapse's replicas
// independently, so the replica that filters a list is often not the one that allowed it. The
// grant therefore travels with the request: ext_authz seals it into a header of the request it
// forwards (respond.HeaderGrant), and whichever replica processes the answer opens it. Sealed,
// because the header crosses the gateway: only a holder of the replicas' shared key can make one
// (a client cannot grant itself a list), and nobody else can read the principal's attributes in
// it, should a gateway ever forward it upstream (the response path removes it, synapse/extproc).
//
// The seal is AES-256-GCM under a key derived for each grant from the shared key and 32 random
// bytes (HKDF-SHA256). A key of its own per grant, rather than random nonces under the shared
// key, keeps the seal safe however many grants the replicas make over the key's life: random
// 96-bit nonces under one key are good for about 2^32 messages only.
//
// Encoding, base64url without padding: version (1 byte) | salt (32) | ciphertext | tag (16).
// The plaintext is compact JSON (sealedGrant) naming the decision it belongs to and when it
// expires: a grant opens only for the request ext_authz gave that decision id, and only briefly.

// MinGrantKeyBytes is the least key the replicas may share: AES-256's own size.
const MinGrantKeyBytes = 32

// MaxSealedGrantBytes bounds a sealed grant, the header's value. Envoy's default limit on a
// request's headers is 60 KiB, all of them together; a grant is some hundreds of bytes (a
// principal's id, roles and a few attributes, all from a token of at most 16 KiB, which the
// grant repeats in part). One that would not fit is not sent, and its list is withheld: fail
// closed.
const MaxSealedGrantBytes = 16 << 10

const (
	sealVersion = 1
	saltSize    = 32
	tagSize     = 16
	// sealInfo sets grant keys apart from anything else ever derived from the shared key.
	sealInfo = "hopguard synapse list grant v1"
)

// Why a sealed grant does not open. Every one withholds the list.
var (
	// ErrGrantMalformed: not a sealed grant at all (truncated, not base64url, another version).
	ErrGrantMalformed = errors.New("not a sealed grant")
	// ErrGrantTooLarge: over MaxSealedGrantBytes, to seal or to open.
	ErrGrantTooLarge = errors.New("the sealed grant is too large")
	// ErrGrantForged: not sealed with this key: made or altered by someone else, or by a replica
	// configured with another key.
	ErrGrantForged = errors.New("the grant was not sealed with this synapse's key")
	// ErrGrantMismatch: sealed for another request's decision.
	ErrGrantMismatch = errors.New("the grant belongs to another decision")
	// ErrGrantExpired: older than its time to live.
	ErrGrantExpired = errors.New("the grant has expired")
)

// Sealer seals grants on the request path and opens them on the response path. Every replica
// must hold the same key: a grant sealed under another key does not open (ErrGrantForged).
type Sealer struct {
	key []byte
	ttl time.Duration
}

// NewSealer seals with key (at least MinGrantKeyBytes, secret, shared by every replica) grants
// that open for ttl after they were sealed.
func NewSealer(key []byte, ttl time.Duration) (*Sealer, error) {
	if len(key) < MinGrantKeyBytes {
		return nil, fmt.Errorf("grant key: %d bytes, at least %d needed", len(key), MinGrantKeyBytes)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("grant time to live: must be positive, got %s", ttl)
	}
	return &Sealer{key: bytes.Clone(key), ttl: ttl}, nil
}

// sealedGrant is a Grant as sealed, with short names: it travels in a header.
type sealedGrant struct {
	DecisionID string         `json:"d"`
	Expires    int64          `json:"e"` // Unix milliseconds
	Kind       string         `json:"k"`
	ID         string         `json:"p"`
	Roles      []string       `json:"r,omitempty"`
	Attr       map[string]any `json:"a,omitempty"`
	Metadata   sealedMetadata `json:"m"`
	Lists      []sealedList   `json:"l,omitempty"`
}

type sealedList struct {
	Method string          `json:"m"`
	ID     json.RawMessage `json:"i"`
}

type sealedMetadata struct {
	DecisionID     string `json:"d,omitempty"`
	AgentID        string `json:"a,omitempty"`
	HarnessVersion string `json:"h,omitempty"`
	TaskID         string `json:"t,omitempty"`
}

// Seal returns grant sealed for the request whose decision is decisionID, as the header's value.
// It fails with ErrGrantTooLarge when the result would pass MaxSealedGrantBytes.
func (s *Sealer) Seal(decisionID string, grant Grant, now time.Time) (string, error) {
	if decisionID == "" {
		return "", errors.New("seal a grant: no decision id to bind it to")
	}
	sg := sealedGrant{
		DecisionID: decisionID, Expires: now.Add(s.ttl).UnixMilli(), Kind: grant.Kind,
		ID: grant.Principal.ID, Roles: grant.Principal.Roles, Attr: grant.Principal.Attr,
		Metadata: sealedMetadata{DecisionID: grant.Metadata.DecisionID, AgentID: grant.Metadata.AgentID,
			HarnessVersion: grant.Metadata.HarnessVersion, TaskID: grant.Metadata.TaskID},
	}
	for _, l := range grant.Lists {
		sg.Lists = append(sg.Lists, sealedList{Method: l.Method, ID: l.ID})
	}
	plain, err := json.Marshal(sg)
	if err != nil {
		return "", fmt.Errorf("seal a grant: %w", err)
	}
	size := 1 + saltSize + len(plain) + tagSize
	if n := base64.RawURLEncoding.EncodedLen(size); n > MaxSealedGrantBytes {
		return "", fmt.Errorf("%w: %d bytes sealed, at most %d", ErrGrantTooLarge, n, MaxSealedGrantBytes)
	}
	blob := make([]byte, 1+saltSize, size)
	blob[0] = sealVersion
	_, _ = rand.Read(blob[1:]) // never fails (crypto/rand, Go 1.24+)
	aead, nonce, err := s.cipher(blob[1:])
	if err != nil {
		return "", fmt.Errorf("seal a grant: %w", err)
	}
	// The version byte is authenticated too: a grant cannot be passed off as another version's.
	blob = aead.Seal(blob, nonce, plain, []byte{sealVersion})
	return base64.RawURLEncoding.EncodeToString(blob), nil
}

// Open returns the grant sealed in value, if it was sealed with this key for the request whose
// decision is decisionID and has not expired at now. The error wraps one of the ErrGrant
// errors.
func (s *Sealer) Open(decisionID, value string, now time.Time) (Grant, error) {
	if len(value) > MaxSealedGrantBytes {
		return Grant{}, fmt.Errorf("%w: %d bytes, at most %d", ErrGrantTooLarge, len(value), MaxSealedGrantBytes)
	}
	// Strict: one grant, one spelling.
	blob, err := base64.RawURLEncoding.Strict().DecodeString(value)
	if err != nil {
		return Grant{}, fmt.Errorf("%w: %w", ErrGrantMalformed, err)
	}
	if len(blob) < 1+saltSize+tagSize {
		return Grant{}, fmt.Errorf("%w: %d bytes, too short", ErrGrantMalformed, len(blob))
	}
	if blob[0] != sealVersion {
		return Grant{}, fmt.Errorf("%w: version %d", ErrGrantMalformed, blob[0])
	}
	aead, nonce, err := s.cipher(blob[1 : 1+saltSize])
	if err != nil {
		return Grant{}, fmt.Errorf("open a grant: %w", err)
	}
	plain, err := aead.Open(nil, nonce, blob[1+saltSize:], blob[:1])
	if err != nil {
		return Grant{}, ErrGrantForged
	}
	var g sealedGrant
	if err := json.Unmarshal(plain, &g); err != nil {
		// Sealed with the key, so made by a replica: one of another version of synapse.
		return Grant{}, fmt.Errorf("%w: %w", ErrGrantMalformed, err)
	}
	if decisionID == "" || g.DecisionID != decisionID {
		return Grant{}, fmt.Errorf("%w: sealed for %q, the request's is %q", ErrGrantMismatch, g.DecisionID, decisionID)
	}
	if expires := time.UnixMilli(g.Expires); !now.Before(expires) {
		return Grant{}, fmt.Errorf("%w: at %s", ErrGrantExpired, expires.UTC().Format(time.RFC3339Nano))
	}
	grant := Grant{
		Principal: pdp.Principal{ID: g.ID, Roles: g.Roles, Attr: g.Attr},
		Kind:      g.Kind,
		Metadata: pdp.Metadata{DecisionID: g.Metadata.DecisionID, AgentID: g.Metadata.AgentID,
			HarnessVersion: g.Metadata.HarnessVersion, TaskID: g.Metadata.TaskID},
	}
	for _, l := range g.Lists {
		grant.Lists = append(grant.Lists, ListRequest{Method: l.Method, ID: l.ID})
	}
	return grant, nil
}

// cipher is the AEAD and nonce of the grant whose salt is salt: a key of its own, used once.
func (s *Sealer) cipher(salt []byte) (cipher.AEAD, []byte, error) {
	const keySize, nonceSize = 32, 12
	okm, err := hkdf.Key(sha256.New, s.key, salt, sealInfo, keySize+nonceSize)
	if err != nil {
		return nil, nil, fmt.Errorf("derive the grant's key: %w", err)
	}
	block, err := aes.NewCipher(okm[:keySize])
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	return aead, okm[keySize:], nil
}

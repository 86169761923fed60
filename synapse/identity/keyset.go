package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// noKeysRetryInterval is the rate limit while no keys were ever fetched.
const noKeysRetryInterval = time.Second

// maxJWKSBytes bounds what synapse reads from the STS; a JWKS is a few hundred bytes.
const maxJWKSBytes = 1 << 20

// KeySetConfig says where the STS publishes its keys and how often synapse may
// ask for them.
type KeySetConfig struct {
	// URL of the JWKS document, e.g. http://127.0.0.1:8080/.well-known/jwks.json.
	URL string
	// Client fetches the JWKS; it should carry a timeout. Defaults to a client
	// with a 2 second timeout.
	Client *http.Client
	// MinRefreshInterval rate-limits fetches caused by unknown key ids, so
	// tokens with made-up kids cannot make synapse hammer the STS.
	MinRefreshInterval time.Duration
	// MaxAge is how long fetched keys are trusted before they are fetched
	// again, so a key the STS has withdrawn stops verifying.
	MaxAge time.Duration
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// KeySet is the STS's JWKS, fetched over HTTP, cached, and refreshed when a
// token names a key id it does not hold (at most once per MinRefreshInterval)
// or when the cache is older than MaxAge.
type KeySet struct {
	cfg KeySetConfig

	mu          sync.Mutex // guards everything below and serialises fetches
	keys        map[string]*ecdsa.PublicKey
	fetchedAt   time.Time
	lastAttempt time.Time
	lastErr     error
}

// NewKeySet returns a KeySet; it fetches nothing until the first lookup.
func NewKeySet(cfg KeySetConfig) *KeySet {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 2 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MinRefreshInterval <= 0 {
		cfg.MinRefreshInterval = 10 * time.Second
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 10 * time.Minute
	}
	return &KeySet{cfg: cfg}
}

// Key returns the ES256 verification key with the given id. It returns an
// error wrapping ErrUnknownKey when the STS does not publish that id, and one
// wrapping ErrKeysUnavailable when the JWKS could not be fetched.
func (s *KeySet) Key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	now := s.cfg.Now()
	fresh := s.keys != nil && now.Sub(s.fetchedAt) < s.cfg.MaxAge
	if key, ok := s.keys[kid]; ok && fresh {
		return key, nil
	}
	// Fetches are rate-limited whatever caused them, so that neither made-up
	// kids nor an STS outage turn every check into a call to the STS. While
	// synapse holds no keys at all it retries sooner: it cannot verify
	// anything until it has them.
	retryAfter := s.cfg.MinRefreshInterval
	if s.keys == nil {
		retryAfter = min(retryAfter, noKeysRetryInterval)
	}
	if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < retryAfter {
		if fresh {
			return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
		}
		// Not fresh although an attempt was made just now: it failed.
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, s.lastErr)
	}
	if err := s.refresh(ctx, now); err != nil {
		return nil, err
	}
	if key, ok := s.keys[kid]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
}

// refresh fetches the JWKS; the caller holds s.mu.
func (s *KeySet) refresh(ctx context.Context, now time.Time) error {
	s.lastAttempt = now
	keys, err := s.fetch(ctx)
	s.lastErr = err
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	s.keys, s.fetchedAt = keys, now
	return nil
}

func (s *KeySet) fetch(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("build JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("read JWKS: document larger than 1 MiB")
	}
	return parseJWKS(body)
}

// parseJWKS keeps only the keys synapse can use: P-256 public keys for
// ES256 signatures, each with an id. Anything else in the set is ignored.
func parseJWKS(body []byte) (map[string]*ecdsa.PublicKey, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	keys := make(map[string]*ecdsa.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.KeyID == "" || !k.IsPublic() || !k.Valid() {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != string(jose.ES256) {
			continue
		}
		pub, ok := k.Key.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			continue
		}
		keys[k.KeyID] = pub
	}
	return keys, nil
}

package identity

import (
	"crypto/ecdsa"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// verifiedCacheSize bounds the tokens remembered: an agent holds one token per resource for its
// lifetime (five minutes), so this covers several hundred agents at once, in about 4 MiB.
const verifiedCacheSize = 4096

// verifiedCache remembers tokens whose signature has been verified, so that a token an agent
// presents on every hop pays for the ES256 verification and the claims parsing once: half of
// synapse's CPU per check went there (see BENCHMARKS.md).
//
// Only what the signature proves is kept: the claims and the key that verified them. Issuer,
// time window and audience are checked again on every use, and an entry counts only while the
// key set still hands out that very key, so a key the STS withdraws or rotates out stops
// verifying its cached tokens at the key set's next refresh, as it would without the cache.
// Nothing enters the cache unless its signature verified, so unauthenticated requests cannot
// fill it.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[string]verifiedToken
	size    int
}

// verifiedToken is what a verified signature established about one token.
type verifiedToken struct {
	kid  string
	key  *ecdsa.PublicKey
	std  jwt.Claims
	priv privateClaims
}

func newVerifiedCache(size int) *verifiedCache {
	return &verifiedCache{entries: map[string]verifiedToken{}, size: size}
}

func (c *verifiedCache) get(raw string) (verifiedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.entries[raw]
	return t, ok
}

// put remembers a verified token. When the cache is full it first drops expired tokens, and if
// that is not enough, everything: memory stays bounded without per-entry bookkeeping, and the
// price is one more verification of each live token.
func (c *verifiedCache) put(raw string, t verifiedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		for k, e := range c.entries {
			if e.std.Expiry == nil || now.After(e.std.Expiry.Time()) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.size {
			clear(c.entries)
		}
	}
	c.entries[raw] = t
}

func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

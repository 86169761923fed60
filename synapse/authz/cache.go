package authz

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/respond"
)

// DecisionCache reuses Cerbos's answers, as the Kubernetes API server's webhook authorizer
// caches its authorizer's: a decision is reused only for a check whose request to Cerbos is the
// same in every field Cerbos reads (principal, roles and attributes, the task and its status,
// every resource with its id, attributes and actions), so the key is the request itself, not a
// chosen subset of it that a new attribute could slip past.
//
// Why that is sound here: Cerbos's answer is a function of that request and the policies, as
// long as no policy reads the clock or anything outside the request (cache_policies_test.go
// holds policies/ to that). What is not in the key is fresh on every check: the token is
// verified and the task is read from the registry before the cache is asked, so a revoked task
// changes the key and its very next hop goes to Cerbos. A policy change is what the cache can
// serve stale, for at most the TTL.
type DecisionCache struct {
	ttl     time.Duration
	entries *lru.Cache[cacheKey, cachedDecision]

	mu sync.Mutex
	// version is the policy set's version the cached decisions were made under: a decision
	// under another means the policies changed, and nothing cached before is reused.
	version string
	// asking holds, for each key a check is asking Cerbos about, a channel closed when it has.
	asking map[cacheKey]chan struct{}
}

// cacheKey is the SHA-256 of a request's canonical JSON: arguments can be large, and a key of
// fixed size keeps the cache's memory bounded by its entry count.
type cacheKey [sha256.Size]byte

// cachedDecision is what a check reuses: the judged answer, and the decision that asked Cerbos.
type cachedDecision struct {
	decisionID string
	allowed    bool
	denial     respond.Denial
	provenance respond.Provenance
	expires    time.Time
}

// NewDecisionCache returns a cache of at most size decisions, each reused for ttl.
func NewDecisionCache(ttl time.Duration, size int) (*DecisionCache, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("decision cache: ttl must be positive, got %s", ttl)
	}
	entries, err := lru.New[cacheKey, cachedDecision](size)
	if err != nil {
		return nil, fmt.Errorf("decision cache: %w", err)
	}
	return &DecisionCache{ttl: ttl, entries: entries, asking: map[cacheKey]chan struct{}{}}, nil
}

// keyOf is the key of a request: everything in it but the ids that name this one decision. A
// request that cannot be encoded is never cached.
func keyOf(req pdp.Request) (cacheKey, bool) {
	req.RequestID, req.Metadata.DecisionID = "", ""
	b, err := json.Marshal(req) // map keys sorted: the same request gives the same bytes
	if err != nil {
		return cacheKey{}, false
	}
	return sha256.Sum256(b), true
}

// get returns the decision cached under key, if it has not expired at now.
func (c *DecisionCache) get(key cacheKey, now time.Time) (cachedDecision, bool) {
	e, ok := c.entries.Get(key)
	if !ok {
		return cachedDecision{}, false
	}
	if !now.Before(e.expires) {
		c.entries.Remove(key)
		return cachedDecision{}, false
	}
	return e, true
}

// put caches a decision Cerbos has just made. The first decision made under a new policy set
// version purges every one made under the old: a policy change is then served stale only until
// some check reaches Cerbos, and at most for the TTL.
func (c *DecisionCache) put(key cacheKey, d *decision, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.provenance.Version != c.version {
		c.entries.Purge()
		c.version = d.provenance.Version
	}
	c.entries.Add(key, cachedDecision{decisionID: d.id, allowed: d.allowed, denial: d.denial, provenance: d.provenance, expires: now.Add(c.ttl)})
}

// purge forgets every decision: Cerbos stopped answering, and may come back with other policies.
func (c *DecisionCache) purge() { c.entries.Purge() }

// claim makes the caller the check that asks Cerbos about key, and release must be called once
// it has (its answer put or not). While another check is asking, claim returns instead a
// channel closed when that one has: identical checks that arrive together (an agent's burst, a
// cold cache) ask Cerbos once, and the others reuse its answer as any cached one, rather than
// each paying Cerbos for the same decision. The key is the cache's, so this is as sound as the
// cache; a check whose wait ends without an answer to reuse (Cerbos failed) asks itself.
func (c *DecisionCache) claim(key cacheKey) (release func(), asked <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.asking[key]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	c.asking[key] = ch
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.asking, key)
		close(ch)
	}, nil
}

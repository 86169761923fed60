package visibility

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/hopguard/hopguard/synapse/pdp"
)

// CachedPlanner reuses Cerbos's plans as synapse's decision cache reuses its decisions
// (synapse/authz/cache.go), and for the same reason it is sound: a plan is a function of the
// plan request and the policies, and the key is the whole request (the principal with its roles
// and attributes, the kind, the actions, the known attributes of the item) but the ids that name
// this one list. Every list an agent asks for plans the same items for the same principal, so
// without it each tools/list cost Cerbos one PlanResources per tool: at a third of the bench's
// requests, more than Cerbos's whole CPU on two cores. A policy change is served stale for at
// most the TTL, the decision cache's bound; a failed plan is never kept. A plan is asked only for
// a list whose check was allowed, which never happens while Cerbos is known down, so unlike the
// decision cache this one needs no purge when Cerbos goes away.
type CachedPlanner struct {
	next    Planner
	entries *expirable.LRU[planKey, pdp.Plan]
}

// planKey is the SHA-256 of a plan request's canonical JSON, so that an entry's size does not
// depend on the principal's attributes.
type planKey [sha256.Size]byte

// NewCachedPlanner asks next for what it has not planned within ttl, keeping at most size plans.
func NewCachedPlanner(next Planner, ttl time.Duration, size int) (*CachedPlanner, error) {
	if ttl <= 0 || size <= 0 {
		return nil, fmt.Errorf("plan cache: ttl and size must be positive, got %s and %d", ttl, size)
	}
	return &CachedPlanner{next: next, entries: expirable.NewLRU[planKey, pdp.Plan](size, nil, ttl)}, nil
}

// Plan implements Planner.
func (c *CachedPlanner) Plan(ctx context.Context, req pdp.PlanRequest) (pdp.Plan, error) {
	key, ok := keyOfPlan(req)
	if ok {
		if plan, hit := c.entries.Get(key); hit {
			return plan, nil
		}
	}
	plan, err := c.next.Plan(ctx, req)
	if err != nil {
		return plan, err
	}
	if ok {
		c.entries.Add(key, plan)
	}
	return plan, nil
}

// keyOfPlan is the key of a plan request: everything in it but the ids of this one list. A
// request that cannot be encoded is never cached.
func keyOfPlan(req pdp.PlanRequest) (planKey, bool) {
	req.RequestID, req.Metadata.DecisionID = "", ""
	b, err := json.Marshal(req) // map keys sorted: the same request gives the same bytes
	if err != nil {
		return planKey{}, false
	}
	return sha256.Sum256(b), true
}

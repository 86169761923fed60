package visibility

import (
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/hopguard/hopguard/synapse/pdp"
)

// Grant is what the response path needs of an allowed tools/list: who asked, as Cerbos saw
// them, and of which server.
type Grant struct {
	Principal pdp.Principal
	Kind      string
	Metadata  pdp.Metadata
}

// Grants hands an allowed tools/list from the request path (ext_authz) to the response path
// (ext_proc) of the same request in one process, by its decision id, which the ext_authz server
// alone sets on the request the gateway forwards. A grant is taken once, and expires.
//
// synapse itself does not use it: with replicas, a request's check and its answer's processing
// reach different processes, so synapse seals the grant into the request instead (Sealer). It
// serves a stand-in whose response path runs in the process of its checks.
type Grants struct {
	entries *expirable.LRU[string, Grant]
}

// NewGrants keeps at most size grants, each for at most ttl.
func NewGrants(size int, ttl time.Duration) *Grants {
	return &Grants{entries: expirable.NewLRU[string, Grant](size, nil, ttl)}
}

// Put keeps the grant of the decision called decisionID.
func (g *Grants) Put(decisionID string, grant Grant) { g.entries.Add(decisionID, grant) }

// Take returns the grant of decisionID and forgets it.
func (g *Grants) Take(decisionID string) (Grant, bool) {
	grant, ok := g.entries.Get(decisionID)
	if ok {
		g.entries.Remove(decisionID)
	}
	return grant, ok
}

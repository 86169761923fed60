package visibility

import (
	"fmt"
	"hash/maphash"
	"slices"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/hopguard/hopguard/synapse/pdp"
)

// Hints remember, per principal, server and list, which tools the last such list hid, so that
// the next one is planned in the shape that costs Cerbos least: the tools hidden last time one
// by one, the rest together (Visible). Planning tools together saves Cerbos a call per tool when
// none is hidden, and costs a plan of them all when one is: an agent that lists the same server
// again, and is denied the same tool again, would pay that on every list. A hint decides only
// how Cerbos is asked, never what is shown (every tool is still planned, and a wrong hint costs
// at most the plans it was meant to save), so hints need no TTL and serve with the decision
// cache off too.
type Hints struct {
	seed maphash.Seed
	last *lru.Cache[hintKey, []uint64]
}

// hintKey is one principal's list of one server.
type hintKey struct{ principal, kind, method string }

// maxHinted bounds what a hint holds: a list that hid more tools than a plan holds is planned as
// one with no hint.
const maxHinted = pdp.MaxPlanActions

// NewHints keeps the hints of at most size lists, least recently used out first.
func NewHints(size int) (*Hints, error) {
	last, err := lru.New[hintKey, []uint64](size)
	if err != nil {
		return nil, fmt.Errorf("visibility hints: %w", err)
	}
	return &Hints{seed: maphash.MakeSeed(), last: last}, nil
}

// hiddenLastTime says which items the list of key hid last time; nil Hints know none.
func (h *Hints) hiddenLastTime(key hintKey) func(item string) bool {
	var sums []uint64
	if h != nil {
		sums, _ = h.last.Get(key)
	}
	return func(item string) bool {
		return len(sums) > 0 && slices.Contains(sums, maphash.String(h.seed, item))
	}
}

// remember keeps which items the list of key hid this time.
func (h *Hints) remember(key hintKey, hidden []string) {
	if h == nil {
		return
	}
	if len(hidden) == 0 || len(hidden) > maxHinted {
		h.last.Remove(key)
		return
	}
	sums := make([]uint64, len(hidden))
	for i, item := range hidden {
		sums[i] = maphash.String(h.seed, item)
	}
	h.last.Add(key, sums)
}

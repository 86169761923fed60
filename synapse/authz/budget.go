package authz

import (
	"context"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// errOverBudget refuses a check whose principal has spent its budget of Cerbos work for longer
// than a check may wait.
var errOverBudget = errors.New("this principal's checks cost more policy decision work per second than it may spend")

// Budget holds each principal to a rate of work asked of Cerbos: the bytes of the checks it
// sends (mapping.ChecksSize), per second, with a burst. A check that would overspend waits until
// the principal's budget covers it, or is refused when that would take longer than MaxWait. A
// check larger than the burst is charged the burst: it may still be sent (the limits bound its
// size), at most once per burst's worth of budget.
//
// Why bytes per second, on top of Admission's turns: Cerbos's work on a check grows with its
// attributes, and a check of a thousand legal arguments costs it some forty times a model
// call's. Served in turn, a principal sending such checks still keeps the PDP's few cores busy,
// and every other principal's checks wait for the CPU, not for a slot. A budget in bytes lets
// that principal's checks through at a bounded rate of work, while one that sends ordinary
// checks never comes near it. The burst is small for the same reason: a principal that saved
// up its budget would otherwise spend it on a burst of such checks at once, which is what
// delayed the others most. Only checks that ask Cerbos spend: an answer from the decision
// cache, or a refusal before Cerbos, costs nothing here.
//
// A check waits for the budget rather than being refused at once, up to MaxWait: a client that
// sends as fast as it is answered is then slowed to the budget's pace, whereas refusing it at
// once would have it send (and the gateway and synapse read) many more.
type Budget struct {
	bytesPerSecond rate.Limit
	burst          int
	maxWait        time.Duration
	principals     *lru.Cache[string, *rate.Limiter]
}

// NewBudget returns a budget of bytesPerSecond with burst for each principal, for at most
// principals principals at once (the least recently seen is forgotten first, and starts again
// with a full budget when it comes back).
func NewBudget(bytesPerSecond, burst int, maxWait time.Duration, principals int) (*Budget, error) {
	if bytesPerSecond <= 0 || burst <= 0 || maxWait <= 0 || principals <= 0 {
		return nil, fmt.Errorf("budget: rate %d, burst %d, wait %s and principals %d must all be positive", bytesPerSecond, burst, maxWait, principals)
	}
	cache, err := lru.New[string, *rate.Limiter](principals)
	if err != nil {
		return nil, fmt.Errorf("budget: %w", err)
	}
	return &Budget{bytesPerSecond: rate.Limit(bytesPerSecond), burst: burst, maxWait: maxWait, principals: cache}, nil
}

// spend waits until principal's budget covers cost (at most the burst) and spends it. It
// returns errOverBudget when that would take longer than MaxWait, or ctx's error when the
// caller left first; either way nothing is spent.
func (b *Budget) spend(ctx context.Context, principal string, cost int, now time.Time) error {
	limiter, ok := b.principals.Get(principal)
	if !ok {
		limiter = rate.NewLimiter(b.bytesPerSecond, b.burst)
		if prior, found, _ := b.principals.PeekOrAdd(principal, limiter); found {
			limiter = prior
		}
	}
	reservation := limiter.ReserveN(now, min(cost, b.burst))
	if !reservation.OK() {
		return errOverBudget
	}
	delay := reservation.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	if delay > b.maxWait {
		reservation.CancelAt(now)
		return errOverBudget
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		reservation.Cancel()
		return ctx.Err()
	}
}

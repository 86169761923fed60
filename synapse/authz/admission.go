package authz

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errPrincipalBusy refuses a check whose principal already has as many checks waiting for Cerbos
// as it may, or whose wait outlasted the bound: the principal is flooding, not Cerbos failing.
var errPrincipalBusy = errors.New("too many checks of this principal are waiting for the policy decision point")

// Admission lets at most Slots checks ask Cerbos at once and, when every slot is taken, hands
// each freed slot to the principals waiting in turn, one check each (round robin). A principal
// that floods Cerbos with checks then waits behind its own checks, not in front of everyone
// else's: another principal's check waits for at most one slot to free, whatever the flood.
//
// Why a fair queue rather than a cap per principal: on a PDP of few cores, a cap of N checks per
// principal still lets one principal keep N checks running beside another's one, which slows
// that one N-fold; a handful of slots served in turn bounds what a flood costs the others to
// about one check's time.
type Admission struct {
	// Slots is how many checks may ask Cerbos at once.
	Slots int
	// MaxWaiting is how many checks of one principal may wait for a slot, or follow an identical
	// check (follow); one more is refused.
	MaxWaiting int
	// MaxWait bounds a check's wait for a slot; past it the check is refused.
	MaxWait time.Duration

	mu      sync.Mutex
	inUse   int
	turns   []string                   // principals with waiting checks, in turn order
	waiting map[string][]chan struct{} // per principal, in arrival order; closed when granted
	// following counts, per principal, the checks waiting for an identical check's answer
	// (follow): they need no slot, but count against MaxWaiting as any waiting check.
	following map[string]int
}

// acquire waits for a slot for a check of principal. It returns the slot's release, or
// errPrincipalBusy, or ctx's error when the caller left first.
func (a *Admission) acquire(ctx context.Context, principal string) (func(), error) {
	a.mu.Lock()
	if a.inUse < a.Slots && len(a.turns) == 0 {
		a.inUse++
		a.mu.Unlock()
		return a.release, nil
	}
	if a.waiting == nil {
		a.waiting = map[string][]chan struct{}{}
	}
	if a.full(principal) {
		a.mu.Unlock()
		return nil, errPrincipalBusy
	}
	queue := a.waiting[principal]
	granted := make(chan struct{})
	if len(queue) == 0 {
		a.turns = append(a.turns, principal)
	}
	a.waiting[principal] = append(queue, granted)
	a.mu.Unlock()

	timer := time.NewTimer(a.MaxWait)
	defer timer.Stop()
	var err error
	select {
	case <-granted:
		return a.release, nil
	case <-timer.C:
		err = errPrincipalBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	if a.withdraw(principal, granted) {
		return nil, err
	}
	// Granted while giving up: the slot is ours to hand on.
	a.release()
	return nil, err
}

// follow waits until asked is closed, as one of principal's waiting checks: a check identical
// to one asking Cerbos (DecisionCache.claim) takes no slot, but a flood of identical checks is
// bounded as a flood of any others is. It returns errPrincipalBusy when the principal already
// has MaxWaiting checks waiting or the wait outlasts MaxWait, or ctx's error when the caller
// left first.
func (a *Admission) follow(ctx context.Context, principal string, asked <-chan struct{}) error {
	a.mu.Lock()
	if a.full(principal) {
		a.mu.Unlock()
		return errPrincipalBusy
	}
	if a.following == nil {
		a.following = map[string]int{}
	}
	a.following[principal]++
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.following[principal]--; a.following[principal] == 0 {
			delete(a.following, principal)
		}
	}()

	timer := time.NewTimer(a.MaxWait)
	defer timer.Stop()
	select {
	case <-asked:
		return nil
	case <-timer.C:
		return errPrincipalBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// full says whether principal has as many checks waiting, for a slot or following another, as
// it may. The caller holds a.mu.
func (a *Admission) full(principal string) bool {
	return len(a.waiting[principal])+a.following[principal] >= a.MaxWaiting
}

// release frees a slot, or hands it to the principal whose turn it is.
func (a *Admission) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.turns) == 0 {
		a.inUse--
		return
	}
	principal := a.turns[0]
	queue := a.waiting[principal]
	close(queue[0])
	a.turns = a.turns[1:]
	if rest := queue[1:]; len(rest) > 0 {
		a.waiting[principal] = rest
		a.turns = append(a.turns, principal) // its next check waits for its next turn
	} else {
		delete(a.waiting, principal)
	}
}

// withdraw removes a waiting check; false means it had been granted a slot already.
func (a *Admission) withdraw(principal string, granted chan struct{}) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	queue := a.waiting[principal]
	for i, ch := range queue {
		if ch != granted {
			continue
		}
		queue = append(queue[:i:i], queue[i+1:]...)
		if len(queue) > 0 {
			a.waiting[principal] = queue
			return true
		}
		delete(a.waiting, principal)
		for j, p := range a.turns {
			if p == principal {
				a.turns = append(a.turns[:j:j], a.turns[j+1:]...)
				break
			}
		}
		return true
	}
	return false
}

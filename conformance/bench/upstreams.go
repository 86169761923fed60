package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// The agent trace's tool calls change the mock upstreams' state: every update_ticket and
// add_comment appends a comment to its ticket, and get_ticket answers with all of them; the
// mocks also journal every request that reaches them. Left alone over a run, a ticket gathers
// thousands of comments, its answers grow with them, and so does each mock's journal. The
// upstreams' CPU then rose through the run, and within a round the target measured later (b,
// after a) paid for what the earlier one had left behind. Every round therefore starts from
// the mocks' seed state.

// upstreamResetTimeout bounds the reset of one mock upstream.
const upstreamResetTimeout = 5 * time.Second

// resetter puts one mock upstream back in its seed state and empties its journal
// (journal.Client.Reset).
type resetter interface {
	Reset(ctx context.Context) error
}

// resetUpstreams returns a function that resets every upstream, in the order of their names.
func resetUpstreams[R resetter](upstreams map[string]R) func(context.Context) error {
	names := slices.Sorted(maps.Keys(upstreams))
	return func(ctx context.Context) error {
		for _, name := range names {
			rctx, cancel := context.WithTimeout(ctx, upstreamResetTimeout)
			err := upstreams[name].Reset(rctx)
			cancel()
			if err != nil {
				return fmt.Errorf("reset the upstream of %s to its seed state: %w", name, err)
			}
		}
		return nil
	}
}

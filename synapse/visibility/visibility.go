// Package visibility decides which tools, documents and prompts of an MCP server an agent is
// shown, and takes the others out of a tools/list, resources/list or prompts/list answer on its
// way back. An item is shown when the principal may use it in some way on its task: Cerbos plans
// the action that uses it (tools/call/<tool>, resources/read of its URI, prompts/get/<prompt>) on
// the server's kind (PlanResources) with what is known of it, the same policies that decide the
// use itself, and anything but "always denied" shows it. Every failure withholds: an answer this
// package cannot read, or a plan Cerbos did not make, is an error, and the caller must not pass
// the list on unfiltered.
package visibility

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hopguard/hopguard/synapse/pdp"
)

// Planner is the part of Cerbos's client visibility uses.
type Planner interface {
	Plan(ctx context.Context, req pdp.PlanRequest) (pdp.Plan, error)
}

// PlannerFunc is a function that plans, as a Planner.
type PlannerFunc func(ctx context.Context, req pdp.PlanRequest) (pdp.Plan, error)

// Plan calls f.
func (f PlannerFunc) Plan(ctx context.Context, req pdp.PlanRequest) (pdp.Plan, error) {
	return f(ctx, req)
}

// maxItems bounds how many items one answer may list: each is one plan asked of Cerbos.
const maxItems = 256

// ErrTooManyItems is returned for a list longer than maxItems.
var ErrTooManyItems = errors.New("the list is longer than synapse plans for")

// Visible returns which of items (of listing) principal may use on kind ("mcp:payments") in some
// way: one plan per item, asked at once. Any plan that fails fails it all.
func Visible(ctx context.Context, planner Planner, principal pdp.Principal, meta pdp.Metadata, kind string, listing Listing, items []string) (map[string]bool, error) {
	if len(items) > maxItems {
		return nil, fmt.Errorf("%w: %d in a %s answer, at most %d", ErrTooManyItems, len(items), listing.Method, maxItems)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		visible = make(map[string]bool, len(items))
		first   error
		wg      sync.WaitGroup
	)
	for _, item := range items {
		wg.Go(func() {
			action := listing.Action(item)
			plan, err := planner.Plan(ctx, pdp.PlanRequest{
				RequestID: meta.DecisionID, Principal: principal, Kind: kind, Action: action,
				Attr: listing.Attr(serverOf(kind), item), Metadata: meta,
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("plan %s of %q on %s: %w", action, item, kind, err)
					cancel()
				}
				return
			}
			visible[item] = plan != pdp.PlanAlwaysDenied
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return visible, nil
}

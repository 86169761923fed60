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
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

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

// maxItems bounds how many items one answer may list: each may be one plan asked of Cerbos.
const maxItems = 256

// ErrTooManyItems is returned for a list longer than maxItems.
var ErrTooManyItems = errors.New("the list is longer than synapse plans for")

// Visible returns which of items (of listing) principal may use on kind ("mcp:payments") in some
// way. Where the listing's items are actions on one resource (tools), Cerbos is asked one plan
// for all of their actions (MaxPlanActions at a time): that plan is always denied as soon as one
// action's is, so any other answer shows them all, and a list that hides nothing, the common
// case, costs one plan rather than one per item. The tools hints say this principal's last such
// list hid (nil hints say none) are planned one by one beside them, and the items of a plan that
// was always denied after them; the items of any other listing are planned one by one, all at
// once. Any plan that fails fails it all.
func Visible(ctx context.Context, planner Planner, hints *Hints, principal pdp.Principal, meta pdp.Metadata, kind string, listing Listing, items []string) (map[string]bool, error) {
	if len(items) > maxItems {
		return nil, fmt.Errorf("%w: %d in a %s answer, at most %d", ErrTooManyItems, len(items), listing.Method, maxItems)
	}
	items = unique(items) // Cerbos refuses an action asked twice in one plan
	p := plans{planner: planner, principal: principal, meta: meta, kind: kind, listing: listing}
	if !listing.OneResource {
		return p.each(ctx, items, map[string]bool{})
	}
	key := hintKey{principal: principal.ID, kind: kind, method: listing.Method}
	hiddenBefore := hints.hiddenLastTime(key)
	var alone, together []string
	for _, item := range items {
		if hiddenBefore(item) {
			alone = append(alone, item)
		} else {
			together = append(together, item)
		}
	}
	// The groups and the tools hidden last time, at once; then, alone, the tools of any group
	// that was always denied.
	groups := slices.Collect(slices.Chunk(together, pdp.MaxPlanActions))
	for _, item := range alone {
		groups = append(groups, []string{item})
	}
	shown, err := p.ask(ctx, groups)
	if err != nil {
		return nil, err
	}
	visible := make(map[string]bool, len(items))
	var again []string
	for i, group := range groups {
		switch {
		case shown[i]:
			for _, item := range group {
				visible[item] = true
			}
		case len(group) == 1:
			visible[group[0]] = false
		default:
			again = append(again, group...)
		}
	}
	if visible, err = p.each(ctx, again, visible); err != nil {
		return nil, err
	}
	var hidden []string
	for _, item := range items {
		if !visible[item] {
			hidden = append(hidden, item)
		}
	}
	hints.remember(key, hidden)
	return visible, nil
}

// each plans every one of items on its own, all at once, and adds whether it is shown to visible.
func (p plans) each(ctx context.Context, items []string, visible map[string]bool) (map[string]bool, error) {
	singles := make([][]string, len(items))
	for i, item := range items {
		singles[i] = []string{item}
	}
	shown, err := p.ask(ctx, singles)
	if err != nil {
		return nil, err
	}
	for i, item := range items {
		visible[item] = shown[i]
	}
	return visible, nil
}

// plans asks Cerbos about the items of one list.
type plans struct {
	planner   Planner
	principal pdp.Principal
	meta      pdp.Metadata
	kind      string
	listing   Listing
}

// ask plans each group of items at once, and returns for each whether its plan shows it (is not
// always denied). A group of several shares its first item's attributes (listing.OneResource).
func (p plans) ask(ctx context.Context, groups [][]string) ([]bool, error) {
	shown := make([]bool, len(groups))
	g, ctx := errgroup.WithContext(ctx)
	for i, group := range groups {
		g.Go(func() error {
			actions := make([]string, len(group))
			for j, item := range group {
				actions[j] = p.listing.Action(item)
			}
			plan, err := p.planner.Plan(ctx, pdp.PlanRequest{
				RequestID: p.meta.DecisionID, Principal: p.principal, Kind: p.kind, Actions: actions,
				Attr: p.listing.Attr(serverOf(p.kind), group[0]), Metadata: p.meta,
			})
			if err != nil {
				return fmt.Errorf("plan %s of %q on %s: %w", strings.Join(actions, ", "), group, p.kind, err)
			}
			shown[i] = plan != pdp.PlanAlwaysDenied
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return shown, nil
}

// unique returns items without repeats, in the order they first came.
func unique(items []string) []string {
	seen := make(map[string]bool, len(items))
	out := make([]string, 0, len(items))
	for _, item := range items {
		if !seen[item] {
			seen[item] = true
			out = append(out, item)
		}
	}
	return out
}

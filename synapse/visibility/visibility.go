// Package visibility decides which tools of an MCP server an agent is shown, and takes the others
// out of a tools/list answer on its way back. A tool is shown when the principal may call it
// under some arguments on its task: Cerbos plans tools/call/<tool> on the server's kind
// (PlanResources), the same policies that decide the call itself, and anything but "always
// denied" shows it. Every failure withholds: an answer this package cannot read, or a plan
// Cerbos did not make, is an error, and the caller must not pass the list on unfiltered.
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

// maxTools bounds how many tools one answer may list: each is one plan asked of Cerbos.
const maxTools = 256

// ErrTooManyTools is returned for a list longer than maxTools.
var ErrTooManyTools = errors.New("the tool list is longer than synapse plans for")

// Visible returns which of tools principal may call on kind ("mcp:payments") under some
// arguments: one plan per tool, asked at once. Any plan that fails fails it all.
func Visible(ctx context.Context, planner Planner, principal pdp.Principal, meta pdp.Metadata, kind string, tools []string) (map[string]bool, error) {
	if len(tools) > maxTools {
		return nil, fmt.Errorf("%w: %d tools, at most %d", ErrTooManyTools, len(tools), maxTools)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		visible = make(map[string]bool, len(tools))
		first   error
		wg      sync.WaitGroup
	)
	for _, tool := range tools {
		wg.Go(func() {
			plan, err := planner.Plan(ctx, pdp.PlanRequest{
				RequestID: meta.DecisionID, Principal: principal, Kind: kind, Action: "tools/call/" + tool, Metadata: meta,
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("plan tools/call/%s on %s: %w", tool, kind, err)
					cancel()
				}
				return
			}
			visible[tool] = plan != pdp.PlanAlwaysDenied
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return visible, nil
}

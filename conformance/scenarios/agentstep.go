package scenarios

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/conformance/evidence"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/mockservers/journal"
)

// agentStep runs the whole agent and checks, for every model and tool call it made, that what
// reached the upstreams is exactly what was allowed: a denied hop never shows up in a journal.
func (r *Run) agentStep(ctx context.Context, t *testing.T, step Step) {
	before := r.journalLengths(ctx, t)
	res, err := r.runAgent(ctx, step)
	require.NoError(t, err)
	t.Logf("agent run: outcome %s after %d model calls, %d hops, %d denied", res.Outcome, res.Steps, len(res.Hops), res.Denials())

	for _, h := range res.Hops {
		if h.Plane == trace.PlaneSTS {
			continue
		}
		// Whether each hop reached its upstream is checked below against the journals.
		d := report.Decision{Step: step.Name + ": " + hopLabel(h), Decision: string(h.Decision), Upstream: h.Decision == trace.Allow}
		if h.Denial != nil {
			d.Code = h.Denial.Code
		}
		r.record(d)
	}

	fresh := map[string][]journal.Entry{}
	for resource := range r.env.Journals {
		fresh[resource] = r.journalSince(ctx, t, resource, before[resource])
	}
	for _, tally := range evidence.Compare(res.Hops, fresh) {
		assert.False(t, tally.Leaked(), "%s: %d allowed and %d denied by the gateway, %d reached the upstream", tally, tally.Allowed, tally.Denied, tally.Reached)
	}
	if step.Hop.Check != nil {
		require.NoError(t, step.Hop.Check(r, res), "what the agent did (outcome %s: %s)", res.Outcome, res.Reason)
	}
}

// hopLabel names an agent hop in the report.
func hopLabel(h trace.Hop) string {
	label := string(h.Plane) + " " + h.Target + " " + h.Action
	if h.Tool != "" {
		label += " " + h.Tool
	}
	return label
}

// Hops returns the agent's hops that match plane, action and tool ("" matches any).
func Hops(res loop.Result, plane trace.Plane, action, tool string) []trace.Hop {
	var out []trace.Hop
	for _, h := range res.Hops {
		if h.Plane == plane && (action == "" || h.Action == action) && (tool == "" || h.Tool == tool) {
			out = append(out, h)
		}
	}
	return out
}

// argument reads one top-level string or number argument of a hop, as text.
func argument(h trace.Hop, name string) string {
	var args map[string]any
	if json.Unmarshal(h.Arguments, &args) != nil {
		return ""
	}
	v, ok := args[name]
	if !ok {
		return ""
	}
	raw, _ := json.Marshal(v)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

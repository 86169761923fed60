package scenarios

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/narrate"
	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/conformance/evidence"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/mockservers/journal"
)

// agentStep runs the whole agent and checks, for every model and tool call it made, that what
// reached the upstreams is exactly what was allowed: a denied hop never shows up in a journal,
// and a server denied at the handshake received nothing at all. Then the step's own Check.
func (r *Run) agentStep(ctx context.Context, step Step) {
	c := r.c
	before := r.journalLengths(ctx)
	res, taskID, err := r.runAgent(ctx, step)
	run := &AgentRun{TaskID: taskID, Result: res}
	r.agent = run
	c.noError(err, "the agent run")
	var summary strings.Builder
	narrate.NewText(&summary).Summary(res)
	for _, line := range strings.Split(strings.TrimSpace(summary.String()), "\n") {
		c.logf("%s", line)
	}

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
		// The agent is told which policy decided each hop the gateway let synapse decide.
		if h.Decision != trace.Error {
			c.isTrue(h.Policy != "", "the agent's hop %s names the policy that decided it", hopLabel(h))
		}
	}

	fresh := map[string][]journal.Entry{}
	for resource := range r.env.Journals {
		fresh[resource] = r.journalSince(ctx, resource, before[resource])
	}
	run.Tallies = evidence.Compare(res.Hops, fresh)
	for _, tally := range run.Tallies {
		c.isTrue(!tally.Leaked(), "%s: %d allowed and %d denied by the gateway, %d reached the upstream", tally, tally.Allowed, tally.Denied, tally.Reached)
	}
	for _, srv := range res.Servers {
		entries, journaled := fresh[loop.MCPResource(srv.Name)]
		if srv.State != loop.ServerDenied || !journaled || !handshakeDenied(res, srv.Name) {
			continue
		}
		if c.isTrue(len(entries) == 0, "%s was denied at the handshake yet received %d requests: %+v", srv.Name, len(entries), entries) {
			run.Untouched = append(run.Untouched, srv.Name)
		}
	}
	if step.Hop.Check != nil {
		if err := step.Hop.Check(r, res); err != nil {
			c.logf("what the agent did: outcome %s: %s", res.Outcome, res.Reason)
			for _, line := range strings.Split(err.Error(), "\n") {
				c.errorf("%s", line)
			}
		}
	}
}

// handshakeDenied says whether the agent's handshake with server was denied (not only a later
// request of the session).
func handshakeDenied(res loop.Result, server string) bool {
	for _, h := range res.Hops {
		if h.Plane == trace.PlaneMCP && h.Target == server && h.Action == "initialize" && h.Decision == trace.Deny {
			return true
		}
	}
	return false
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

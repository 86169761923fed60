// Package evidence holds an agent's own account of its hops against what the mock upstreams
// recorded, to show that a denied hop never reached an upstream: for every model and tool the
// agent called, the upstream saw exactly as many calls as the gateway allowed.
package evidence

import (
	"cmp"
	"slices"

	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/mockservers/journal"
)

// Call is a model call (Model set) or a tool call (Tool set) on one resource.
type Call struct {
	Resource string // "llm", "mcp:payments"
	Model    string
	Tool     string
}

// CallOf returns the call a hop made; false for hops that are neither a model nor a tool call
// (the STS exchange, handshakes, tool listings).
func CallOf(h trace.Hop) (Call, bool) {
	switch {
	case h.Plane == trace.PlaneLLM:
		return Call{Resource: "llm", Model: h.Target}, true
	case h.Plane == trace.PlaneMCP && h.Action == "tools/call":
		return Call{Resource: "mcp:" + h.Target, Tool: h.Tool}, true
	default:
		return Call{}, false
	}
}

// Matches says whether a journal entry is this call reaching its upstream.
func (c Call) Matches(e journal.Entry) bool {
	if c.Model != "" {
		return e.Model == c.Model
	}
	return e.MCPMethod == "tools/call" && e.Tool == c.Tool
}

func (c Call) String() string {
	if c.Model != "" {
		return "model " + c.Model
	}
	return c.Resource + " " + c.Tool
}

// Tally is one call's count: how often the gateway allowed and denied it, and how often it
// reached the upstream.
type Tally struct {
	Call
	Allowed, Denied, Reached int
}

// Leaked says a denied call reached the upstream (or anything beyond what was allowed did).
func (t Tally) Leaked() bool { return t.Reached != t.Allowed }

// Compare tallies every model and tool call in hops against the journal entries recorded
// during the run, keyed by resource. The result is sorted by resource, then call.
func Compare(hops []trace.Hop, entries map[string][]journal.Entry) []Tally {
	byCall := map[Call]*Tally{}
	for _, h := range hops {
		c, ok := CallOf(h)
		if !ok {
			continue
		}
		t := byCall[c]
		if t == nil {
			t = &Tally{Call: c}
			byCall[c] = t
		}
		switch h.Decision {
		case trace.Allow:
			t.Allowed++
		case trace.Deny:
			t.Denied++
		}
	}
	out := make([]Tally, 0, len(byCall))
	for c, t := range byCall {
		for _, e := range entries[c.Resource] {
			if c.Matches(e) {
				t.Reached++
			}
		}
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Tally) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Tool, b.Tool))
	})
	return out
}

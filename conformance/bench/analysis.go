package bench

import (
	"fmt"
	"slices"

	"github.com/hopguard/hopguard/conformance/gateways"
)

// The four targets, named as in the issue.
const (
	TargetBaseline = "a" // Envoy -> mock upstream, no ext_authz
	TargetGoverned = "b" // the same route with ext_authz -> synapse -> Cerbos
	TargetSynapse  = "c" // synapse's Check over gRPC
	TargetCerbos   = "d" // Cerbos's CheckResources over gRPC
	// TargetCompared is another synapse build's Check, measured beside c (optional).
	TargetCompared = "c2"
	// TargetAgentBaseline and TargetAgentGoverned are a and b behind agentgateway instead of
	// Envoy (optional: measured where agentgateway can run).
	TargetAgentBaseline = "a2"
	TargetAgentGoverned = "b2"
)

// Targets describes the four targets.
func Targets() []Target {
	return []Target{
		{TargetBaseline, "Envoy, no ext_authz", "HTTP through Envoy to the mock upstreams, the ext_authz filter removed (the baseline)"},
		{TargetGoverned, "Envoy + ext_authz", "the same routes with ext_authz -> synapse -> Cerbos (a governed hop)"},
		{TargetSynapse, "synapse Check", "synapse's ext_authz Check called directly over gRPC (synapse + Cerbos)"},
		{TargetCerbos, "Cerbos CheckResources", "Cerbos's CheckResources called directly over gRPC with synapse's requests"},
	}
}

// AgentGatewayTargets describes a2 and b2; detail says which agentgateway.
func AgentGatewayTargets(detail string) []Target {
	return []Target{
		{TargetAgentBaseline, "agentgateway, no extAuthz", "HTTP through agentgateway to the mock upstreams, every route's extAuthz removed (" + detail + ")"},
		{TargetAgentGoverned, "agentgateway + extAuthz", "the same routes with extAuthz -> synapse -> Cerbos (a governed hop behind agentgateway)"},
	}
}

// The baselines' names: the governed gateways' own, each rendered without ext_authz.
const (
	BaselineEnvoy        = "envoy-baseline"
	BaselineAgentGateway = "agentgateway-baseline"
)

// gatewayProcess is the gateway process that serves a gateway target, if target is one: the
// component of the gateway Run puts behind it.
func gatewayProcess(target string) (string, bool) {
	switch target {
	case TargetBaseline:
		return BaselineEnvoy, true
	case TargetGoverned:
		return (&gateways.Envoy{}).Name(), true
	case TargetAgentBaseline:
		return BaselineAgentGateway, true
	case TargetAgentGoverned:
		return (&gateways.AgentGateway{}).Name(), true
	}
	return "", false
}

// The targets.
const (
	GoalRate              = 1000
	goalSynapseP99us      = 300
	goalGovernedP99us     = 3000
	goalSynapseRSSMiB     = 64
	synapseComponent      = "synapse"
	mib                   = 1 << 20
	overheadGoverned      = "governed hop (b − a)"
	overheadSynapseItself = "synapse itself (c − d)"
	overheadCompared      = "compared synapse build (c2 − d)"
	overheadAgentGoverned = "governed hop behind agentgateway (b2 − a2)"
)

// medianDifference is the median over the rounds of with's figure less without's, round by
// round; steps without rounds fall back to the whole steps' figures.
func medianDifference(with, without Step, figure func(Summary) float64) float64 {
	n := min(len(with.Rounds), len(without.Rounds))
	if n == 0 {
		return figure(with.Latency) - figure(without.Latency)
	}
	diffs := make([]float64, n)
	for i := range n {
		diffs[i] = figure(with.Rounds[i]) - figure(without.Rounds[i])
	}
	slices.Sort(diffs)
	if n%2 == 1 {
		return diffs[n/2]
	}
	return (diffs[n/2-1] + diffs[n/2]) / 2
}

// Analyze computes the overheads at every fixed rate and judges the goals.
func Analyze(steps []Step) ([]Overhead, []Goal) {
	find := func(target string, rate float64) (Step, bool) {
		for _, s := range steps {
			if s.Target == target && s.Rate == rate {
				return s, true
			}
		}
		return Step{}, false
	}
	var rates []float64
	seen := map[float64]bool{}
	for _, s := range steps {
		if s.Rate > 0 && !seen[s.Rate] {
			seen[s.Rate] = true
			rates = append(rates, s.Rate)
		}
	}
	var overheads []Overhead
	for _, rate := range rates {
		for _, pair := range []struct{ name, with, without string }{
			{overheadGoverned, TargetGoverned, TargetBaseline},
			{overheadSynapseItself, TargetSynapse, TargetCerbos},
			{overheadCompared, TargetCompared, TargetCerbos},
			{overheadAgentGoverned, TargetAgentGoverned, TargetAgentBaseline},
		} {
			w, ok1 := find(pair.with, rate)
			wo, ok2 := find(pair.without, rate)
			if !ok1 || !ok2 {
				continue
			}
			overheads = append(overheads, Overhead{
				Name: pair.name, Rate: rate,
				P50:      medianDifference(w, wo, func(s Summary) float64 { return s.P50 }),
				P90:      medianDifference(w, wo, func(s Summary) float64 { return s.P90 }),
				P99:      medianDifference(w, wo, func(s Summary) float64 { return s.P99 }),
				WholeP99: w.Latency.P99 - wo.Latency.P99,
				Clean:    w.Clean() && wo.Clean(),
			})
		}
	}

	overheadGoal := func(name, overhead string, limit float64) Goal {
		g := Goal{Name: name, Limit: limit, Unit: "µs"}
		for _, o := range overheads {
			if o.Name == overhead && o.Rate == GoalRate {
				g.Measured, g.Met = o.P99, o.Clean && o.P99 <= limit
				switch {
				case !o.Clean:
					g.Note = "a step had failed or unsent requests"
				case o.P99 < 0:
					g.Met, g.Note = false, "negative: below this run's noise, no verdict"
				}
				return g
			}
		}
		g.Note = fmt.Sprintf("not measured: no steps at %d/s", GoalRate)
		return g
	}
	goals := []Goal{
		overheadGoal(fmt.Sprintf("synapse's own overhead (c − d), p99 at %d/s", GoalRate), overheadSynapseItself, goalSynapseP99us),
		overheadGoal(fmt.Sprintf("a governed hop (b − a), p99 at %d/s", GoalRate), overheadGoverned, goalGovernedP99us),
	}
	rss := Goal{Name: fmt.Sprintf("synapse resident memory at %d/s (steps b and c)", GoalRate), Limit: goalSynapseRSSMiB, Unit: "MiB"}
	measured := false
	for _, target := range []string{TargetGoverned, TargetSynapse} {
		if s, ok := find(target, GoalRate); ok {
			if p, ok := s.Processes[synapseComponent]; ok {
				measured = true
				rss.Measured = max(rss.Measured, float64(p.RSSMaxBytes)/mib)
			}
		}
	}
	rss.Met = measured && rss.Measured <= rss.Limit
	if !measured {
		rss.Note = "not measured"
	}
	return overheads, append(goals, rss)
}

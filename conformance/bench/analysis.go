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
	// TargetCerbosDefaults is d against a Cerbos with its own default settings (DefaultsCerbos).
	TargetCerbosDefaults = "d2"
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
		{TargetCerbosDefaults, "Cerbos CheckResources, defaults", "the same calls to a second Cerbos with its own defaults: info logging, GOGC=100, no memory limit (what d's tuning replaced)"},
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
	GoalRate          = 1000
	goalSynapseP99us  = 300
	goalGovernedP99us = 3000
	// goalFixedOffP99us is the "at most half of today's" for the fixed mix with the
	// cache off: half of the 20.0 ms b − a p99 at 1000/s of the run of 2026-11-25, the one the
	// issue was written from (BENCHMARKS.md).
	goalFixedOffP99us     = 10000
	goalHopCPUus          = 600
	cerbosComponent       = "cerbos"
	goalSynapseRSSMiB     = 64
	synapseComponent      = "synapse"
	mib                   = 1 << 20
	overheadGoverned      = "governed hop (b − a)"
	overheadSynapseItself = "synapse itself (c − d)"
	overheadCompared      = "compared synapse build (c2 − d)"
	overheadAgentGoverned = "governed hop behind agentgateway (b2 − a2)"
	// overheadCerbosDefaults is what Cerbos's own defaults cost over the stack's tuning: positive
	// when the tuning saves.
	overheadCerbosDefaults = "Cerbos with its defaults, beyond the tuned one (d2 − d)"
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

// stepKey finds a step: a target at a load, for one mix and cache setting.
type stepKey struct {
	mix, cache, target string
	rate               float64
}

// group is one mix under one cache setting, in the order measured.
type group struct{ mix, cache string }

// stepIndex finds steps by key, and lists the groups and rates in the order measured.
type stepIndex struct {
	steps  map[stepKey]Step
	groups []group
	rates  []float64 // fixed rates only
}

func indexSteps(steps []Step) stepIndex {
	idx := stepIndex{steps: map[stepKey]Step{}}
	for _, s := range steps {
		idx.steps[stepKey{s.Mix, s.Cache, s.Target, s.Rate}] = s
		if g := (group{s.Mix, s.Cache}); !slices.Contains(idx.groups, g) {
			idx.groups = append(idx.groups, g)
		}
		if s.Rate > 0 && !slices.Contains(idx.rates, s.Rate) {
			idx.rates = append(idx.rates, s.Rate)
		}
	}
	return idx
}

func (idx stepIndex) find(g group, target string, rate float64) (Step, bool) {
	s, ok := idx.steps[stepKey{g.mix, g.cache, target, rate}]
	return s, ok
}

// overheadPairs are the differences reported: the target with the layer, the one without.
func overheadPairs() []struct{ name, with, without string } {
	return []struct{ name, with, without string }{
		{overheadGoverned, TargetGoverned, TargetBaseline},
		{overheadSynapseItself, TargetSynapse, TargetCerbos},
		{overheadCompared, TargetCompared, TargetCerbos},
		{overheadAgentGoverned, TargetAgentGoverned, TargetAgentBaseline},
		{overheadCerbosDefaults, TargetCerbosDefaults, TargetCerbos},
	}
}

// Analyze computes the overheads and the CPU per governed hop for every mix and cache setting
// at every fixed rate, and judges the goals.
func Analyze(steps []Step) ([]Overhead, []HopCPU, []Goal) {
	idx := indexSteps(steps)
	var overheads []Overhead
	var cpu []HopCPU
	for _, g := range idx.groups {
		for _, rate := range idx.rates {
			overheads = append(overheads, groupOverheads(idx, g, rate)...)
			if c, ok := hopCPU(idx, g, rate); ok {
				cpu = append(cpu, c)
			}
		}
	}
	return overheads, cpu, goals(idx, overheads, cpu)
}

func groupOverheads(idx stepIndex, g group, rate float64) []Overhead {
	var out []Overhead
	for _, pair := range overheadPairs() {
		w, ok1 := idx.find(g, pair.with, rate)
		wo, ok2 := idx.find(g, pair.without, rate)
		if !ok1 || !ok2 {
			continue
		}
		out = append(out, Overhead{
			Mix: g.mix, Cache: g.cache, Name: pair.name, Rate: rate,
			P50:      medianDifference(w, wo, func(s Summary) float64 { return s.P50 }),
			P90:      medianDifference(w, wo, func(s Summary) float64 { return s.P90 }),
			P99:      medianDifference(w, wo, func(s Summary) float64 { return s.P99 }),
			WholeP99: w.Latency.P99 - wo.Latency.P99,
			Clean:    w.Clean() && wo.Clean(),
		})
	}
	return out
}

// hopCPU is the CPU per governed hop of step b, by component; Envoy's ext_authz share needs
// step a at the same load.
func hopCPU(idx stepIndex, g group, rate float64) (HopCPU, bool) {
	b, ok := idx.find(g, TargetGoverned, rate)
	if !ok {
		return HopCPU{}, false
	}
	envoy, _ := gatewayProcess(TargetGoverned)
	out := HopCPU{
		Mix: g.mix, Cache: g.cache, Rate: rate,
		Cerbos: b.CPUPerRequest(cerbosComponent), Synapse: b.CPUPerRequest(synapseComponent), Envoy: b.CPUPerRequest(envoy),
		CachedShare: b.CachedShare(),
	}
	baseline, _ := gatewayProcess(TargetBaseline)
	if a, ok := idx.find(g, TargetBaseline, rate); ok && a.Processes[baseline] != (ProcessLoad{}) {
		out.EnvoyAuthz = max(0, out.Envoy-a.CPUPerRequest(baseline))
	}
	out.Total = out.Cerbos + out.Synapse + out.EnvoyAuthz
	return out, true
}

// goals judges the goals, each on the mix and cache setting it is about.
func goals(idx stepIndex, overheads []Overhead, cpu []HopCPU) []Goal {
	agentOn, fixedOff := group{MixAgent, CacheOn}, group{MixFixed, CacheOff}
	out := []Goal{
		overheadGoal(fmt.Sprintf("agent trace, cache on: a governed hop (b − a), p99 at %d/s", GoalRate), overheads, agentOn, overheadGoverned, goalGovernedP99us),
		cpuGoal(fmt.Sprintf("agent trace, cache on: CPU per governed hop (Cerbos + synapse + Envoy's ext_authz) at %d/s", GoalRate), cpu, agentOn, goalHopCPUus),
		overheadGoal(fmt.Sprintf("fixed mix, cache off: a governed hop (b − a), p99 at %d/s", GoalRate), overheads, fixedOff, overheadGoverned, goalFixedOffP99us),
		overheadGoal(fmt.Sprintf("fixed mix, cache off: synapse's own share (c − d), p99 at %d/s", GoalRate), overheads, fixedOff, overheadSynapseItself, goalSynapseP99us),
	}
	return append(out, rssGoal(idx))
}

func overheadGoal(name string, overheads []Overhead, g group, overhead string, limit float64) Goal {
	goal := Goal{Name: name, Limit: limit, Unit: "µs"}
	for _, o := range overheads {
		if o.Mix != g.mix || o.Cache != g.cache || o.Name != overhead || o.Rate != GoalRate {
			continue
		}
		goal.Measured, goal.Met = o.P99, o.Clean && o.P99 <= limit
		switch {
		case !o.Clean:
			goal.Note = "a step had failed or unsent requests"
		case o.P99 < 0:
			goal.Met, goal.Note = false, "negative: below this run's noise, no verdict"
		}
		return goal
	}
	goal.Note = fmt.Sprintf("not measured: no %s mix with the cache %s at %d/s", g.mix, g.cache, GoalRate)
	return goal
}

func cpuGoal(name string, cpu []HopCPU, g group, limit float64) Goal {
	goal := Goal{Name: name, Limit: limit, Unit: "µs"}
	for _, c := range cpu {
		if c.Mix == g.mix && c.Cache == g.cache && c.Rate == GoalRate {
			goal.Measured = c.Total
			goal.Met = c.Total > 0 && c.Total <= limit
			return goal
		}
	}
	goal.Note = fmt.Sprintf("not measured: no %s mix with the cache %s at %d/s", g.mix, g.cache, GoalRate)
	return goal
}

// rssGoal is synapse's peak resident memory over every step at the goal rate where it serves.
func rssGoal(idx stepIndex) Goal {
	rss := Goal{Name: fmt.Sprintf("synapse resident memory at %d/s (steps b and c, every mix and setting)", GoalRate), Limit: goalSynapseRSSMiB, Unit: "MiB"}
	measured := false
	for _, g := range idx.groups {
		for _, target := range []string{TargetGoverned, TargetSynapse} {
			if s, ok := idx.find(g, target, GoalRate); ok {
				if p, ok := s.Processes[synapseComponent]; ok {
					measured = true
					rss.Measured = max(rss.Measured, float64(p.RSSMaxBytes)/mib)
				}
			}
		}
	}
	rss.Met = measured && rss.Measured <= rss.Limit
	if !measured {
		rss.Note = "not measured"
	}
	return rss
}

package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func step(target string, rate, p50, p99 float64, synapseCPU float64, rssMiB uint64) Step {
	s := Step{
		Mix: MixFixed, Cache: CacheOff,
		Target: target, Rate: rate, Sent: 1000, Throughput: max(rate, 1000),
		Latency: Summary{Count: 1000, P50: p50, P90: p50, P99: p99, Max: p99},
		ByKind:  map[string]Summary{KindCompletion: {P99: p99}},
		Processes: map[string]ProcessLoad{
			"cerbos": {CPUPercent: 50, RSSMaxBytes: 100 * mib},
		},
	}
	if target == TargetGoverned || target == TargetSynapse {
		s.Processes[synapseComponent] = ProcessLoad{CPUPercent: synapseCPU, RSSMaxBytes: rssMiB * mib}
	}
	return s
}

func TestAnalyzeJudgesTheGoalsAtTheGoalRate(t *testing.T) {
	steps := []Step{
		step(TargetBaseline, 1000, 1000, 2000, 0, 0),
		step(TargetGoverned, 1000, 2000, 4500, 40, 30),
		step(TargetSynapse, 1000, 1500, 2600, 41, 70),
		step(TargetCerbos, 1000, 1200, 2400, 0, 0),
		step(TargetBaseline, 0, 3000, 9000, 0, 0),
	}
	overheads, _, goals := Analyze(steps)
	require.Len(t, overheads, 2, "saturation has no overhead: the two never ran at the same rate")
	assert.Equal(t, Overhead{Mix: MixFixed, Cache: CacheOff, Name: overheadGoverned, Rate: 1000, P50: 1000, P90: 1000, P99: 2500, WholeP99: 2500, Clean: true}, overheads[0])
	assert.Equal(t, Overhead{Mix: MixFixed, Cache: CacheOff, Name: overheadSynapseItself, Rate: 1000, P50: 300, P90: 300, P99: 200, WholeP99: 200, Clean: true}, overheads[1])

	require.Len(t, goals, 5)
	assert.True(t, goals[goalFixedOffSynapse].Met, "synapse's own p99 overhead 0.2 ms <= 0.3 ms")
	assert.InDelta(t, 200, goals[goalFixedOffSynapse].Measured, 1e-9)
	assert.True(t, goals[goalFixedOffHop].Met, "governed hop 2.5 ms <= 10 ms")
	assert.False(t, goals[goalRSS].Met, "70 MiB > 64 MiB")
	assert.InDelta(t, 70, goals[goalRSS].Measured, 1e-9)
	assert.False(t, goals[goalAgentOnHop].Met, "no agent trace with the cache on was measured")
	assert.Contains(t, goals[goalAgentOnHop].Note, "not measured: no agent mix with the cache on")
}

func TestOverheadsAreTheMedianOfTheRoundsDifferences(t *testing.T) {
	rounds := func(p99s ...float64) []Summary {
		out := make([]Summary, len(p99s))
		for i, v := range p99s {
			out[i] = Summary{P50: v / 2, P90: v, P99: v}
		}
		return out
	}
	c := step(TargetSynapse, 1000, 1000, 50000, 40, 30)
	d := step(TargetCerbos, 1000, 900, 2000, 0, 0)
	// A 48 ms burst in c's third round moves the whole-step p99, not the median of the rounds.
	c.Rounds = rounds(2200, 2300, 50000, 2250)
	d.Rounds = rounds(2000, 2000, 2100, 2000)
	overheads, _, goals := Analyze([]Step{c, d})
	require.Len(t, overheads, 1)
	assert.InDelta(t, 275, overheads[0].P99, 1e-9, "median of 200, 300, 47900, 250")
	assert.InDelta(t, 48000, overheads[0].WholeP99, 1e-9)
	assert.True(t, goals[goalFixedOffSynapse].Met)

	d.Rounds = rounds(3000, 3000, 3000, 3000)
	_, _, goals = Analyze([]Step{c, d})
	assert.False(t, goals[goalFixedOffSynapse].Met, "a negative overhead is noise, not a pass")
	assert.Contains(t, goals[goalFixedOffSynapse].Note, "below this run's noise")
}

func TestAnalyzeDoesNotCountAGoalMetWhenRequestsFailed(t *testing.T) {
	governed := step(TargetGoverned, 1000, 1100, 1200, 40, 30)
	governed.Failed = 3
	_, _, goals := Analyze([]Step{step(TargetBaseline, 1000, 1000, 1000, 0, 0), governed})
	assert.False(t, goals[goalFixedOffHop].Met)
	assert.Contains(t, goals[goalFixedOffHop].Note, "failed or unsent")
	assert.Contains(t, goals[goalFixedOffSynapse].Note, "not measured")
}

func TestCPUPerRequest(t *testing.T) {
	s := step(TargetSynapse, 1000, 1, 1, 41, 30)
	assert.InDelta(t, 410, s.CPUPerRequest(synapseComponent), 1e-9, "41% of a core at 1000/s is 410 µs a request")
	assert.Zero(t, s.CPUPerRequest("envoy"))
}

func TestWriteProducesBothReports(t *testing.T) {
	steps := []Step{
		step(TargetBaseline, 1000, 1000, 2000, 0, 0),
		step(TargetGoverned, 1000, 2000, 9000, 40, 30),
		step(TargetSynapse, 1000, 1500, 2600, 41, 30),
		step(TargetCerbos, 1000, 1200, 2400, 0, 0),
	}
	steps[1].Errors = []string{"completion: status 503"}
	r := &Report{
		Started: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Duration: "2m30s",
		Machine: Machine{CPU: "Test CPU", Cores: 2}, Targets: Targets(), Steps: steps,
		Method: Method{Mixes: []MixInfo{fixedInfo()}, Rates: []float64{1000}, SaturationWorkers: 16},
	}
	r.Overheads, r.HopCPU, r.Goals = Analyze(steps)
	dir := t.TempDir()
	require.NoError(t, Write(dir, r))

	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	text := string(md)
	assert.Contains(t, text, "| 1000/s | b Envoy + ext_authz | 1000 | 0 | 0 | 1000 | 2.000 | 2.000 | 9.000 | 9.000 |")
	assert.Contains(t, text, "| fixed mix, cache off: a governed hop (b − a), p99 at 1000/s | 10.000 ms | 7.000 ms | yes |")
	assert.Contains(t, text, "- fixed mix, cache off, b at 1000/s: completion: status 503")
	assert.Contains(t, text, "| synapse | – | 40% / 30 | 41% / 30 | – |")
	assert.Contains(t, text, "| all of them (share of the 2 cores) | 50% (25%) | 90% (45%) | 91% (46%) | 50% (25%) |",
		"the processes' CPU summed per target: cerbos 50 % each, synapse 40 and 41 on b and c")
	assert.Equal(t, 1, strings.Count(text, "# What a governed hop costs"))

	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, r.Steps, back.Steps)
	assert.Equal(t, r.Goals, back.Goals)
}

func TestTallyWeighsRoundsByTheirLength(t *testing.T) {
	var tl tally
	h := &Histogram{}
	h.Record(time.Millisecond)
	out := Outcome{Sent: 1, Latency: map[string]*Histogram{KindCompletion: h}, All: h, Lag: &Histogram{}, Elapsed: time.Second}
	tl.add(out, map[string]ProcessLoad{"synapse": {CPUPercent: 60, RSSMaxBytes: 40 * mib, RSSEndBytes: 30 * mib}}, 3*time.Second)
	tl.add(out, map[string]ProcessLoad{"synapse": {CPUPercent: 20, RSSMaxBytes: 35 * mib, RSSEndBytes: 33 * mib}}, time.Second)
	s := tl.step(TargetSynapse, 1000)
	assert.InDelta(t, 50, s.Processes["synapse"].CPUPercent, 1e-6, "(60x3 + 20x1) / 4")
	assert.EqualValues(t, 40*mib, s.Processes["synapse"].RSSMaxBytes)
	assert.EqualValues(t, 33*mib, s.Processes["synapse"].RSSEndBytes)
	assert.EqualValues(t, 2, s.Sent)
	assert.EqualValues(t, 2, s.Latency.Count)
	assert.InDelta(t, 1.0, s.Throughput, 1e-9, "two answers over two seconds")
}

func TestAnalyzeGivesTheHopBehindAgentgatewayLikeTheOneBehindEnvoy(t *testing.T) {
	a := step(TargetBaseline, 1000, 1000, 2000, 0, 0)
	b := step(TargetGoverned, 1000, 2000, 4500, 40, 30)
	a2 := step(TargetAgentBaseline, 1000, 1100, 2100, 0, 0)
	b2 := step(TargetAgentGoverned, 1000, 2400, 9000, 40, 30)
	a2.Rounds = []Summary{{P99: 2000}, {P99: 2000}, {P99: 2000}}
	b2.Rounds = []Summary{{P99: 4000}, {P99: 30000}, {P99: 4400}}
	overheads, _, goals := Analyze([]Step{a, b, a2, b2})
	require.Len(t, overheads, 2)
	assert.Equal(t, overheadGoverned, overheads[0].Name)
	agent := overheads[1]
	assert.Equal(t, overheadAgentGoverned, agent.Name)
	assert.InDelta(t, 2400, agent.P99, 1e-9, "median of 2000, 28000, 2400")
	assert.InDelta(t, 6900, agent.WholeP99, 1e-9)
	assert.True(t, agent.Clean)

	require.Len(t, goals, 5, "the goals are about Envoy and synapse only")
	assert.InDelta(t, 2500, goals[goalFixedOffHop].Measured, 1e-9, "the governed-hop goal is b − a, never b2 − a2")
}

func TestReportSaysWhetherAgentgatewayRan(t *testing.T) {
	base := func() *Report {
		steps := []Step{step(TargetBaseline, 1000, 1000, 2000, 0, 0), step(TargetGoverned, 1000, 2000, 4500, 40, 30)}
		r := &Report{Targets: Targets(), Steps: steps, Method: Method{Mixes: []MixInfo{fixedInfo()}, Rates: []float64{1000}}}
		r.Overheads, r.HopCPU, r.Goals = Analyze(steps)
		return r
	}

	notRun := base()
	notRun.AgentGateway = "not run: agentgateway: no binary"
	dir := t.TempDir()
	require.NoError(t, Write(dir, notRun))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "agentgateway targets: not run: agentgateway: no binary")
	assert.NotContains(t, string(md), "b2 − a2")
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, notRun.AgentGateway, back.AgentGateway)

	ran := base()
	ran.AgentGateway = "measured (a2, b2)"
	ran.Machine.AgentGateway = "agentgateway v1.4.1 (binary in bin/)"
	ran.Targets = append(ran.Targets, AgentGatewayTargets("test")...)
	b2 := step(TargetAgentGoverned, 1000, 2400, 5000, 40, 30)
	b2.Processes["agentgateway"] = ProcessLoad{CPUPercent: 30}
	ran.Steps = append(ran.Steps, step(TargetAgentBaseline, 1000, 1100, 2100, 0, 0), b2)
	ran.Overheads, ran.HopCPU, ran.Goals = Analyze(ran.Steps)
	var out strings.Builder
	WriteMarkdown(&out, ran)
	text := out.String()
	assert.Contains(t, text, "agentgateway targets: measured (a2, b2)")
	assert.Contains(t, text, "; agentgateway v1.4.1 (binary in bin/);")
	assert.Contains(t, text, "| 1000/s | b2 agentgateway + extAuthz | 1000 | 0 | 0 | 1000 | 2.400 |")
	assert.Contains(t, text, "| 1000/s | governed hop behind agentgateway (b2 − a2) | 1.300 | 1.300 | 2.900 | 2.900 | yes |")
	assert.Contains(t, text, "| 1000/s | – | – | – | 300 |", "b2's gateway: 30% of a core over 1000 answers/s")
}

// The goals in the order Analyze gives them.
const (
	goalAgentOnHop = iota
	goalAgentOnCPU
	goalFixedOffHop
	goalFixedOffSynapse
	goalRSS
)

func fixedInfo() MixInfo {
	return MixInfo{Name: MixFixed, Hops: 3, Kinds: Kinds(Hops(benchTicket))}
}

// in puts s in a mix and cache setting.
func in(mix, cache string, s Step) Step {
	s.Mix, s.Cache = mix, cache
	return s
}

// withCPU sets a process's CPU on s.
func withCPU(s Step, process string, percent float64) Step {
	s.Processes[process] = ProcessLoad{CPUPercent: percent}
	return s
}

func TestAnalyzeKeepsEachMixAndCacheSettingApart(t *testing.T) {
	var steps []Step
	for _, g := range []struct {
		mix, cache string
		bP99       float64
	}{
		{MixFixed, CacheOn, 2500},
		{MixFixed, CacheOff, 5000},
		{MixAgent, CacheOn, 2200},
		{MixAgent, CacheOff, 4000},
	} {
		steps = append(steps,
			in(g.mix, g.cache, step(TargetBaseline, 1000, 1000, 1000, 0, 0)),
			in(g.mix, g.cache, step(TargetGoverned, 1000, 1500, 1000+g.bP99, 30, 30)),
		)
	}
	overheads, cpu, goals := Analyze(steps)
	require.Len(t, overheads, 4)
	require.Len(t, cpu, 4)
	for i, want := range []struct {
		mix, cache string
		p99        float64
	}{
		{MixFixed, CacheOn, 2500}, {MixFixed, CacheOff, 5000}, {MixAgent, CacheOn, 2200}, {MixAgent, CacheOff, 4000},
	} {
		assert.Equal(t, want.mix, overheads[i].Mix, i)
		assert.Equal(t, want.cache, overheads[i].Cache, i)
		assert.InDelta(t, want.p99, overheads[i].P99, 1e-9, i)
		assert.Equal(t, want.mix, cpu[i].Mix, i)
	}
	for _, tc := range []struct {
		goal     int
		measured float64
		met      bool
	}{
		{goalAgentOnHop, 2200, true},
		{goalFixedOffHop, 5000, true}, // at most 10 ms: half of the 2026-11-25 run's 20 ms
	} {
		assert.InDelta(t, tc.measured, goals[tc.goal].Measured, 1e-9, goals[tc.goal].Name)
		assert.Equal(t, tc.met, goals[tc.goal].Met, goals[tc.goal].Name)
	}
}

func TestHopCPUByComponent(t *testing.T) {
	envoy, _ := gatewayProcess(TargetGoverned)
	baseline, _ := gatewayProcess(TargetBaseline)
	for _, tc := range []struct {
		name                            string
		cerbos, synapse, envoyB, envoyA float64 // % of a core at 1000/s
		wantAuthz, wantTotal            float64 // µs
		withBaseline                    bool
	}{
		{name: "cache on", cerbos: 5, synapse: 20, envoyB: 40, envoyA: 24, wantAuthz: 160, wantTotal: 410, withBaseline: true},
		{name: "cache off", cerbos: 72, synapse: 40, envoyB: 40, envoyA: 24, wantAuthz: 160, wantTotal: 1280, withBaseline: true},
		{name: "noise puts Envoy below the baseline", cerbos: 10, synapse: 20, envoyB: 20, envoyA: 24, wantAuthz: 0, wantTotal: 300, withBaseline: true},
		{name: "no baseline step", cerbos: 10, synapse: 20, envoyB: 40, wantAuthz: 0, wantTotal: 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := in(MixAgent, CacheOn, step(TargetGoverned, 1000, 1500, 2000, tc.synapse, 30))
			b = withCPU(withCPU(b, cerbosComponent, tc.cerbos), envoy, tc.envoyB)
			steps := []Step{b}
			if tc.withBaseline {
				steps = append(steps, withCPU(in(MixAgent, CacheOn, step(TargetBaseline, 1000, 1000, 1000, 0, 0)), baseline, tc.envoyA))
			}
			_, cpu, goals := Analyze(steps)
			require.Len(t, cpu, 1)
			assert.InDelta(t, tc.cerbos*10, cpu[0].Cerbos, 1e-6)
			assert.InDelta(t, tc.synapse*10, cpu[0].Synapse, 1e-6)
			assert.InDelta(t, tc.envoyB*10, cpu[0].Envoy, 1e-6)
			assert.InDelta(t, tc.wantAuthz, cpu[0].EnvoyAuthz, 1e-6)
			assert.InDelta(t, tc.wantTotal, cpu[0].Total, 1e-6)
			assert.Equal(t, tc.wantTotal <= goalHopCPUus, goals[goalAgentOnCPU].Met)
		})
	}
}

func TestMarkdownShowsEachMixAndCacheSetting(t *testing.T) {
	envoy, _ := gatewayProcess(TargetGoverned)
	var steps []Step
	for _, cache := range []string{CacheOn, CacheOff} {
		for _, mix := range []string{MixFixed, MixAgent} {
			b := withCPU(in(mix, cache, step(TargetGoverned, 1000, 2000, 4000, 30, 30)), envoy, 40)
			steps = append(steps,
				in(mix, cache, step(TargetBaseline, 1000, 1000, 1500, 0, 0)), b,
				in(mix, cache, step(TargetSynapse, 1000, 1500, 2600, 41, 30)),
				in(mix, cache, step(TargetCerbos, 1000, 1200, 2400, 0, 0)),
			)
		}
	}
	r := &Report{
		Targets: Targets(), Steps: steps,
		Method: Method{
			Mixes:  []MixInfo{fixedInfo(), {Name: MixAgent, Hops: 44, Kinds: []string{KindInitialize, KindCompletion}}},
			Caches: []CacheInfo{{CacheOn, "2s"}, {CacheOff, "0s"}},
			Rates:  []float64{1000}, Rounds: 4,
		},
	}
	r.Overheads, r.HopCPU, r.Goals = Analyze(steps)
	var out strings.Builder
	WriteMarkdown(&out, r)
	text := out.String()
	for _, want := range []string{
		"| mix | cache | load | b − a p50 | b − a p99 | c − d p50 | c − d p99 |",
		"| fixed | on | 1000/s | 1.000 | 2.500 | 0.300 | 0.200 |",
		"| agent | off | 1000/s | 1.000 | 2.500 | 0.300 | 0.200 |",
		"| agent | on | 1000/s | 500 | 300 | 400 | 0 | 800 |",
		"## fixed mix, cache on",
		"## agent mix, cache off",
		"| load | target | initialize | completion |",
		"- **agent** mix (44 hops",
		"SYNAPSE_DECISION_CACHE_TTL=0s",
		"| agent trace, cache on: a governed hop (b − a), p99 at 1000/s | 3.000 ms | 2.500 ms | yes |",
	} {
		assert.Contains(t, text, want)
	}
	assert.Equal(t, 4, strings.Count(text, "### Latency and throughput"), "one section per mix and setting")
}

package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func registryBackend(name string, p50, p99, mean, cpu float64) RegistryBackend {
	return RegistryBackend{
		Name: name, Detail: name + " here",
		Sequential: Summary{Count: 1000, P50: p50, P90: p50, P99: p99, Max: 2 * p99, Mean: mean}, CPUPerLookup: cpu,
		AtRate: RegistryLoad{Rate: GoalRate, Sent: 1000, Throughput: GoalRate, Latency: Summary{Count: 1000, P50: p50 + 10, P99: p99 + 20}},
	}
}

func measuredRegistry(backends ...RegistryBackend) RegistryCost {
	return RegistryCost{Status: "measured", Tasks: registryTasks, StepSeconds: 1, Rounds: 4, Rate: GoalRate, Backends: backends}
}

func governedHop(mix, cache string, rate, p50 float64) Overhead {
	return Overhead{Mix: mix, Cache: cache, Name: overheadGoverned, Rate: rate, P50: p50, P99: 3 * p50, Clean: true}
}

func TestRegistrySection(t *testing.T) {
	bolt := registryBackend(RegistryBBolt, 6, 20, 7, 5)
	pg := registryBackend(RegistryPostgres, 54, 120, 60, 45)
	for _, tc := range []struct {
		name      string
		cost      RegistryCost
		overheads []Overhead
		hopCPU    []HopCPU
		want      []string
		notWant   []string
		added     *RegistryAdded
	}{
		{
			name: "both measured, set against the cheapest hop at the goal rate",
			cost: measuredRegistry(bolt, pg),
			overheads: []Overhead{
				governedHop(MixFixed, CacheOff, GoalRate, 2400),
				governedHop(MixAgent, CacheOn, GoalRate, 960),
				governedHop(MixAgent, CacheOn, 2000, 500),
				{Mix: MixAgent, Cache: CacheOn, Name: overheadSynapseItself, Rate: GoalRate, P50: 100},
			},
			hopCPU: []HopCPU{{Mix: MixAgent, Cache: CacheOn, Rate: GoalRate, Total: 800}, {Mix: MixFixed, Cache: CacheOff, Rate: GoalRate, Total: 1300}},
			want: []string{
				"## The task registry per check: bbolt beside PostgreSQL",
				"| registry | lookups | p50 | p90 | p99 | max | mean | CPU per lookup | at 1000/s: p50 | p99 | failed or unsent |",
				"| **bbolt**: bbolt here | 1000 | 6.0 | 6.0 | 20.0 | 40.0 | 7.0 | 5.0 µs | 16.0 | 40.0 | 0 |",
				"| **postgres**: postgres here | 1000 | 54.0 | 54.0 | 120.0 | 240.0 | 60.0 | 45.0 µs | 64.0 | 140.0 | 0 |",
				"takes 54.0 µs at the median against bbolt's 6.0 µs (9.0×): PostgreSQL adds 48.0 µs (mean 53.0 µs) to each check and 40.0 µs of CPU",
				"cheapest governed hop (agent mix, cache on, b − a p50 at 1000/s: 0.960 ms) that is 5.0% more latency, and 5.0% of the 800 µs of CPU",
			},
			added: &RegistryAdded{P50: 48, P99: 100, Mean: 53, Ratio: 9, CPU: 40, Hop: &RegistryHop{
				Mix: MixAgent, Cache: CacheOn, Rate: GoalRate, P50: 960, Share: 5, CPU: 800, CPUShare: 5,
			}},
		},
		{
			name: "no clean hop at the goal rate: the highest clean fixed rate, without its CPU",
			cost: measuredRegistry(bolt, pg),
			overheads: []Overhead{
				governedHop(MixFixed, CacheOn, 100, 2000),
				governedHop(MixFixed, CacheOn, 500, 2400),
				{Mix: MixFixed, Cache: CacheOn, Name: overheadGoverned, Rate: GoalRate, P50: 265000},
			},
			hopCPU: []HopCPU{{Mix: MixFixed, Cache: CacheOn, Rate: 500, Total: 3000}},
			want: []string{
				"PostgreSQL adds 48.0 µs (mean 53.0 µs) to each check and 40.0 µs of CPU (this process and PostgreSQL's backend). Against this run's cheapest governed hop (fixed mix, cache on, b − a p50 at 500/s: 2.400 ms) that is 2.0% more latency. PostgreSQL is there",
			},
			notWant: []string{"of CPU the hop costs"},
			added: &RegistryAdded{P50: 48, P99: 100, Mean: 53, Ratio: 9, CPU: 40, Hop: &RegistryHop{
				Mix: MixFixed, Cache: CacheOn, Rate: 500, P50: 2400, Share: 2, CPU: -1, CPUShare: -1,
			}},
		},
		{
			name:      "CPU per lookup unknown",
			cost:      measuredRegistry(bolt, registryBackend(RegistryPostgres, 54, 120, 60, -1)),
			overheads: []Overhead{governedHop(MixAgent, CacheOn, GoalRate, 960)},
			hopCPU:    []HopCPU{{Mix: MixAgent, Cache: CacheOn, Rate: GoalRate, Total: 800}},
			want: []string{
				"| **postgres**: postgres here | 1000 | 54.0 | 54.0 | 120.0 | 240.0 | 60.0 | – | 64.0 | 140.0 | 0 |",
				"PostgreSQL adds 48.0 µs (mean 53.0 µs) to each check. Against this run's cheapest governed hop (agent mix, cache on, b − a p50 at 1000/s: 0.960 ms) that is 5.0% more latency. PostgreSQL is there",
			},
			notWant: []string{"of CPU"},
			added: &RegistryAdded{P50: 48, P99: 100, Mean: 53, Ratio: 9, CPU: -1, Hop: &RegistryHop{
				Mix: MixAgent, Cache: CacheOn, Rate: GoalRate, P50: 960, Share: 5, CPU: 800, CPUShare: -1,
			}},
		},
		{
			name:  "no governed hop measured",
			cost:  measuredRegistry(bolt, pg),
			want:  []string{"This run measured no governed hop without failures to set it against."},
			added: &RegistryAdded{P50: 48, P99: 100, Mean: 53, Ratio: 9, CPU: 40},
		},
		{
			name:      "the only hop had failures",
			cost:      measuredRegistry(bolt, pg),
			overheads: []Overhead{{Mix: MixFixed, Cache: CacheOn, Name: overheadGoverned, Rate: GoalRate, P50: 600000}},
			want:      []string{"of CPU (this process and PostgreSQL's backend). This run measured no governed hop without failures to set it against. PostgreSQL is there"},
			added:     &RegistryAdded{P50: 48, P99: 100, Mean: 53, Ratio: 9, CPU: 40},
		},
		{
			name:      "PostgreSQL not installed",
			cost:      measuredRegistry(bolt, RegistryBackend{Name: RegistryPostgres, Detail: "PostgreSQL", NotRun: "PostgreSQL is not installed: run `make tools`"}),
			overheads: []Overhead{governedHop(MixAgent, CacheOn, GoalRate, 960)},
			want: []string{
				"| **bbolt**: bbolt here | 1000 |",
				"| **postgres** | not run: PostgreSQL is not installed: run `make tools` | – |",
				"postgres was not run (PostgreSQL is not installed: run `make tools`), so this run does not say what PostgreSQL adds to a check over bbolt.",
			},
			notWant: []string{"| **postgres**: ", "cheapest governed hop"},
		},
		{
			name:    "left out",
			cost:    RegistryCost{Status: "not run: the registry step is 0 (--registry-step)"},
			want:    []string{"Task registry: not run: the registry step is 0 (--registry-step). The task registry was not measured in this run."},
			notWant: []string{"| registry |"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Started: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), Registry: tc.cost, Overheads: tc.overheads, HopCPU: tc.hopCPU}
			r.Registry.compare(tc.overheads, tc.hopCPU)
			if tc.added == nil {
				assert.Nil(t, r.Registry.Added)
			} else {
				require.NotNil(t, r.Registry.Added)
				assertAdded(t, *tc.added, *r.Registry.Added)
			}
			dir := t.TempDir()
			require.NoError(t, Write(dir, r))
			md, err := os.ReadFile(filepath.Join(dir, "report.md"))
			require.NoError(t, err)
			for _, want := range tc.want {
				assert.Contains(t, string(md), want)
			}
			for _, not := range tc.notWant {
				assert.NotContains(t, string(md), not)
			}
			assert.Contains(t, string(md), r.Registry.Meaning, "the sentence is in report.md as it is in report.json")

			raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
			require.NoError(t, err)
			var back Report
			require.NoError(t, json.Unmarshal(raw, &back))
			assert.Equal(t, r.Registry, back.Registry)
			var fields map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &fields))
			assert.Contains(t, fields, "task_registry")
		})
	}
}

// assertAdded compares two additions to within rounding.
func assertAdded(t *testing.T, want, got RegistryAdded) {
	t.Helper()
	for _, f := range []struct {
		name      string
		want, got float64
	}{
		{"p50", want.P50, got.P50}, {"p99", want.P99, got.P99}, {"mean", want.Mean, got.Mean},
		{"ratio", want.Ratio, got.Ratio}, {"cpu", want.CPU, got.CPU},
	} {
		assert.InDelta(t, f.want, f.got, 1e-9, f.name)
	}
	if want.Hop == nil {
		assert.Nil(t, got.Hop)
		return
	}
	require.NotNil(t, got.Hop)
	assert.Equal(t, []string{want.Hop.Mix, want.Hop.Cache}, []string{got.Hop.Mix, got.Hop.Cache})
	for _, f := range []struct {
		name      string
		want, got float64
	}{
		{"hop rate", want.Hop.Rate, got.Hop.Rate}, {"hop p50", want.Hop.P50, got.Hop.P50}, {"hop share", want.Hop.Share, got.Hop.Share},
		{"hop cpu", want.Hop.CPU, got.Hop.CPU}, {"hop cpu share", want.Hop.CPUShare, got.Hop.CPUShare},
	} {
		assert.InDelta(t, f.want, f.got, 1e-9, f.name)
	}
}

func TestRegistryStepIsChecked(t *testing.T) {
	for _, tc := range []struct {
		step time.Duration
		err  string
	}{
		{step: time.Second},
		{step: 0},
		{step: -time.Second, err: "registry step -1s must not be negative"},
	} {
		opts := DefaultOptions(t.TempDir())
		opts.RegistryStep = tc.step
		err := opts.Validate()
		if tc.err == "" {
			assert.NoError(t, err, tc.step)
		} else {
			assert.ErrorContains(t, err, tc.err, tc.step)
		}
	}
}

// The measurement itself, on bbolt's file and a real PostgreSQL (skipped where PostgreSQL is
// not installed, which the report would say): go test -run MeasureRegistry -v ./conformance/bench
func TestMeasureRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	opts := DefaultOptions(t.TempDir())
	opts.RegistryStep, opts.Rounds, opts.Warmup = 400*time.Millisecond, 2, 50*time.Millisecond
	var progress strings.Builder
	opts.Progress = &progress
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cost := measureRegistry(ctx, opts)
	t.Log(progress.String())
	require.Equal(t, "measured", cost.Status)
	require.Len(t, cost.Backends, 2)
	for _, b := range cost.Backends {
		if b.Name == RegistryPostgres && strings.Contains(b.NotRun, "not installed") {
			t.Skipf("PostgreSQL: %s", b.NotRun)
		}
		require.Empty(t, b.NotRun, b.Name)
		assert.Positive(t, b.Sequential.Count, b.Name)
		assert.Positive(t, b.Sequential.P50, b.Name)
		assert.Positive(t, b.AtRate.Sent, b.Name)
		assert.Zero(t, b.AtRate.Failed+b.AtRate.Unsent, "%s: %v", b.Name, b.AtRate.Errors)
		assert.Greater(t, b.CPUPerLookup, 0.0, b.Name)
	}
	cost.compare(nil, nil)
	require.NotNil(t, cost.Added)
	t.Log(cost.Meaning)
}

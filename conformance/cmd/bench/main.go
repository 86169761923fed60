// Command bench is `make bench`: it measures what a governed hop costs. It brings hopguard's
// environment up on 127.0.0.1 with two real Envoys (one governed, one without ext_authz) and,
// where it can run, two agentgateways likewise, drives the targets side by side at fixed rates
// and at saturation, watches synapse's CPU and memory, and writes report.md and report.json.
// Everything started is stopped at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hopguard/hopguard/conformance/bench"
	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/internal/version"
)

const usage = `Usage: bench [flags]

Measures, in one run on this machine, side by side:
  a  Envoy -> mock upstream, ext_authz removed (the baseline)
  b  the same routes with ext_authz -> synapse -> Cerbos (a governed hop)
  c  synapse's Check called directly over gRPC
  d  Cerbos's CheckResources called directly over gRPC
and, where agentgateway can run, a and b behind agentgateway instead of Envoy:
  a2 agentgateway -> mock upstream, extAuthz removed
  b2 the same routes with extAuthz -> synapse -> Cerbos
with each request mix (--mix):
  fixed  the issue's three requests in turn: an allowed completion, a refund denied with the
         policy's output, tools/list on the tickets server
  agent  the agent trace: the demo's story replayed as synapse decided it (its audit log, 44
         hops in order per principal: alice's and the triage agent's completions, MCP
         initialize and tools/list, tool calls, and the denials among them)
under each setting of synapse's decision cache (--cache):
  on     SYNAPSE_DECISION_CACHE_TTL=2s (synapse's default)
  off    SYNAPSE_DECISION_CACHE_TTL=0s
the environment brought up afresh for each setting, at each fixed rate (open loop, latency from
each request's due time) and at saturation (closed loop). Each step is split into rounds with
the targets taking turns, so that noise from other work on the machine falls on all of them
alike, and each round starts from the mock upstreams' seed state. Reports, per mix and cache
setting, p50/p90/p99/max latency, throughput, b − a and c − d at each rate, the CPU per
governed hop by component (Cerbos, synapse, Envoy), and the CPU and resident memory of every
process. Once the environment is down, the task registry's lookup
that every task-bound check makes is measured on bbolt and on PostgreSQL (a server of its own on
127.0.0.1, from bin/postgresql/bin or Debian's postgresql-15; "not run: <reason>" without one),
back to back and at 1000/s, and set against the governed hop (--registry-step; 0 leaves it
out). All traffic stays on 127.0.0.1; every step is bounded in time and count. The defaults
take about ten minutes (2 settings x 2 mixes x 4 loads x 6 targets x 4 rounds x 1.25 s, plus
start-up and some six seconds of registry); --mix, --cache and --rates measure less. Needs
./bin/cerbos and ./bin/envoy (make tools).

a2 and b2 need agentgateway in ./bin/agentgateway (make tools installs it where it can), and a
network whose sole interface is loopback, since it binds every interface: the benchmark runs
itself in a network namespace of its own where one can be made (root or user namespaces;
HOPGUARD_NETNS_SWITCH=off stays on the host's network). Elsewhere the report says
"agentgateway targets: not run: <reason>" and the rest is measured as usual.

Writes <out>/report.md and <out>/report.json. The environment runs in memory (/dev/shm) so that
disk writeback from other work cannot stall the components' per-request logs; it is removed at
the end unless --env names a directory to keep it in.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, harness.Isolate)
	stop()
	os.Exit(code)
}

// isolator runs the program again in a loopback-only network namespace (harness.Isolate); tests
// pass one that stays put, since running a test binary again would run its tests.
type isolator func(ctx context.Context, runtimeName string, log io.Writer, who string) (netns.Where, int, bool)

func run(ctx context.Context, args []string, stdout, stderr io.Writer, isolate isolator) int {
	defaults := bench.DefaultOptions("")
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	outDir := fs.String("out", "", "`directory` for the report and the environment (default <repo>/out/bench)")
	rates := fs.String("rates", joinRates(defaults.Rates), "fixed request `rates` per second, comma-separated")
	step := fs.Duration("step", defaults.Step, "measured length of each step")
	warmup := fs.Duration("warmup", defaults.Warmup, "discarded warmup before each round of a step")
	rounds := fs.Int("rounds", defaults.Rounds, "rounds each step is split into, the targets taking turns")
	inFlight := fs.Int("max-in-flight", defaults.MaxInFlight, "requests in flight at most at a fixed rate")
	workers := fs.Int("saturation-workers", defaults.SaturationWorkers, "senders back to back at saturation")
	timeout := fs.Duration("timeout", defaults.Timeout, "bound on each request")
	total := fs.Duration("deadline", 15*time.Minute, "bound on the whole run (the defaults take about ten minutes)")
	mixes := fs.String("mix", strings.Join(defaults.Mixes, ","), "request `mixes` to measure, comma-separated: fixed (the issue's three requests), agent (the demo's story as synapse decided it)")
	caches := fs.String("cache", cacheNames(defaults.Caches), "synapse decision cache `settings` to measure, comma-separated: on (its default TTL), off (SYNAPSE_DECISION_CACHE_TTL=0s); the environment is brought up once per setting")
	envDir := fs.String("env", "", "keep the running environments (logs, decision logs) in this `directory`, one cache-<setting> subdirectory per cache setting (default: in /dev/shm, removed after the run)")
	registryStep := fs.Duration("registry-step", defaults.RegistryStep, "how long the task registry's lookup is measured on each backend (bbolt, PostgreSQL), back to back and again at 1000/s; 0 leaves it out")
	compare := fs.String("compare-synapse", "", "another synapse `binary` to measure beside the current one (target c2): a before/after from one run")
	showVersion := version.Flag(fs)
	if exit, done := version.ParseCommand(fs, showVersion, "bench", args, stdout, stderr); done {
		return exit
	}
	parsed, err := parseRates(*rates)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	cacheSettings, err := parseCaches(*caches)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	if *outDir == "" {
		root, err := binaries.ModuleRoot()
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		*outDir = filepath.Join(root, "out", "bench")
	}
	opts := bench.Options{
		OutDir: *outDir, Rates: parsed, Step: *step, Warmup: *warmup, Rounds: *rounds,
		MaxInFlight: *inFlight, SaturationWorkers: *workers, Timeout: *timeout, Progress: stdout,
		CompareSynapse: *compare, EnvDir: *envDir,
		Mixes: splitList(*mixes), Caches: cacheSettings, RegistryStep: *registryStep,
	}
	if err := opts.Validate(); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}

	// agentgateway's targets run only in a loopback-only network namespace: the benchmark runs
	// in one of its own where it can.
	network, code, exited := isolate(ctx, "process", stderr, "bench")
	if exited {
		return code
	}
	opts.Network = network

	ctx, cancel := context.WithTimeout(ctx, *total)
	defer cancel()
	report, err := bench.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if err := bench.Write(*outDir, report); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "\n==> goals")
	for _, g := range report.Goals {
		verdict := "met"
		if !g.Met {
			verdict = "NOT met"
		}
		fmt.Fprintf(stdout, "    %-90s %s (%s)\n", g.Name, verdict, describe(g))
	}
	fmt.Fprintf(stdout, "\n    report: %s\n            %s\n", filepath.Join(*outDir, "report.md"), filepath.Join(*outDir, "report.json"))
	return 0
}

func describe(g bench.Goal) string {
	s := fmt.Sprintf("%.1f %s, limit %.1f %s", g.Measured, g.Unit, g.Limit, g.Unit)
	if g.Note != "" {
		s += "; " + g.Note
	}
	return s
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 || r > 100_000 {
			return nil, fmt.Errorf("rate %q is not a number of requests per second between 0 and 100000", f)
		}
		out = append(out, r)
	}
	return out, nil
}

func joinRates(rates []float64) string {
	parts := make([]string, len(rates))
	for i, r := range rates {
		parts[i] = strconv.FormatFloat(r, 'f', -1, 64)
	}
	return strings.Join(parts, ",")
}

// splitList splits a comma-separated flag, dropping blanks and repeats.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func parseCaches(s string) ([]bench.CacheSetting, error) {
	var out []bench.CacheSetting
	for _, name := range splitList(s) {
		c, err := bench.CacheSettingByName(name)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func cacheNames(settings []bench.CacheSetting) string {
	names := make([]string, len(settings))
	for i, c := range settings {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

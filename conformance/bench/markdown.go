package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Write puts report.md and report.json into dir.
func Write(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	var md strings.Builder
	WriteMarkdown(&md, r)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteMarkdown renders the report for people.
func WriteMarkdown(w io.Writer, r *Report) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("# What a governed hop costs")
	p("")
	p("One run of conformance/cmd/bench (`make bench`), %s, %s. Every figure below comes from this run.", r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Duration)
	p("")
	m := r.Machine
	gatewaysRun := m.Envoy
	if m.AgentGateway != "" {
		gatewaysRun += "; " + m.AgentGateway
	}
	p("Machine: %s, %d cores, Linux %s, %s; %s; %s. Load average before %s, after %s (the machine is shared: read ratios and differences, not absolutes).",
		m.CPU, m.Cores, m.Kernel, m.Go, gatewaysRun, m.Cerbos, m.LoadBefore, m.LoadAfter)
	p("")
	p("## Goals")
	p("")
	p("| goal | limit | measured | met |")
	p("|---|---:|---:|---|")
	for _, g := range r.Goals {
		met := "yes"
		if !g.Met {
			met = "**no**"
		}
		if g.Note != "" {
			met += " (" + g.Note + ")"
		}
		p("| %s | %s | %s | %s |", g.Name, quantity(g.Limit, g.Unit), quantity(g.Measured, g.Unit), met)
	}
	p("")
	writeAnswer(p, r)
	writeHopCPU(p, r)
	writeRegistry(p, r)
	p("## Targets")
	p("")
	for _, t := range r.Targets {
		p("- **%s** %s: %s", t.ID, t.Name, t.Description)
	}
	p("")
	p("agentgateway targets: %s", r.AgentGateway)
	p("")
	p("## Mixes and cache settings")
	p("")
	for _, m := range r.Method.Mixes {
		note := ""
		if m.Note != "" {
			note = " Note: " + m.Note + "."
		}
		p("- **%s** mix (%d hops, sent in turn, over and over): %s. Kinds: %s.%s", m.Name, m.Hops, m.Description, strings.Join(m.Kinds, ", "), note)
	}
	for _, c := range r.Method.Caches {
		p("- synapse's decision cache **%s**: SYNAPSE_DECISION_CACHE_TTL=%s.", c.Name, c.TTL)
	}
	p("")
	p("The environment is brought up afresh for each cache setting (synapse is started with the setting; everything else is the same), and every mix is measured in it. Latency in ms; at a fixed rate it counts from when each request was due, so a stall cannot hide (no coordinated omission); only the generator's own timer oversleep (up to about 1 ms) is not charged. Saturation: %d senders back to back, latency from each send.",
		r.Method.SaturationWorkers)
	p("")
	kept := "in memory, removed after the run"
	if r.Method.EnvironmentKept {
		kept = "kept"
	}
	p("Each step: %.0f s measured, in %d rounds with the targets in turn (a burst of noise falls on all alike), each round after a %.2f s warmup; at most %d requests in flight; %.0f s timeout. Environment (logs, decision logs) in %s and its like for the other settings (%s).",
		r.Method.StepSeconds, r.Method.Rounds, r.Method.WarmupSeconds, r.Method.MaxInFlight, r.Method.TimeoutSeconds, r.Method.EnvironmentDir, kept)
	p("")
	for _, g := range indexSteps(r.Steps).groups {
		writeGroup(p, r, g)
	}
	writeErrors(p, r)
}

// writeAnswer is the overheads the issue asks about, one row per mix, cache setting and load.
func writeAnswer(p func(string, ...any), r *Report) {
	var names []string
	for _, pair := range overheadPairs() {
		if slices.ContainsFunc(r.Overheads, func(o Overhead) bool { return o.Name == pair.name }) {
			names = append(names, pair.name)
		}
	}
	p("## The answer: what governance adds, per mix and cache setting")
	p("")
	p("Median over the %d rounds of each round's difference of percentiles, in ms (details per mix and setting below). With the cache on, c answers most checks without calling Cerbos, so c − d sets a cached answer against a Cerbos call and may well be negative; synapse's own share of a Cerbos round trip is c − d with the cache off.", r.Method.Rounds)
	p("")
	header, rule := "| mix | cache | load |", "|---|---|---|"
	for _, n := range names {
		header += fmt.Sprintf(" %s p50 | %s p99 |", shortOverhead(n), shortOverhead(n))
		rule += "---:|---:|"
	}
	p("%s", header)
	p("%s", rule)
	for _, g := range indexSteps(r.Steps).groups {
		for _, rate := range indexSteps(r.Steps).rates {
			row := fmt.Sprintf("| %s | %s | %s |", g.mix, g.cache, loadName(rate))
			for _, n := range names {
				cell := " – | – |"
				for _, o := range r.Overheads {
					if o.Mix == g.mix && o.Cache == g.cache && o.Rate == rate && o.Name == n {
						cell = fmt.Sprintf(" %s | %s |", msNum(o.P50), msNum(o.P99))
						if !o.Clean {
							cell = fmt.Sprintf(" %s | %s (failures) |", msNum(o.P50), msNum(o.P99))
						}
					}
				}
				row += cell
			}
			p("%s", row)
		}
	}
	p("")
}

// shortOverhead is the formula in an overhead's name ("governed hop (b − a)" -> "b − a").
func shortOverhead(name string) string {
	open, end := strings.LastIndex(name, "("), strings.LastIndex(name, ")")
	if open < 0 || end < open {
		return name
	}
	return name[open+1 : end]
}

// writeHopCPU is the CPU one governed hop through Envoy costs, by component.
func writeHopCPU(p func(string, ...any), r *Report) {
	p("## CPU per governed hop (µs per request of b)")
	p("")
	p("| mix | cache | load | Cerbos | synapse | Envoy (whole process) | Envoy's ext_authz share (b's Envoy − a's) | total: Cerbos + synapse + ext_authz share | decisions from the cache |")
	p("|---|---|---|---:|---:|---:|---:|---:|---:|")
	for _, c := range r.HopCPU {
		p("| %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %s |", c.Mix, c.Cache, loadName(c.Rate), c.Cerbos, c.Synapse, c.Envoy, c.EnvoyAuthz, c.Total, percent(c.CachedShare))
	}
	p("")
	p("Each process's CPU time over the requests b answered while it ran; Envoy's ext_authz share is what the governed Envoy spends beyond the baseline Envoy at the same load (0 when noise puts it below). Decisions from the cache: the share of synapse's audit log lines written during b's rounds marked cached (no call to Cerbos).")
	p("")
}

// writeRegistry is the task registry's lookup per check, bbolt beside PostgreSQL.
func writeRegistry(p func(string, ...any), r *Report) {
	c := r.Registry
	p("## The task registry per check: bbolt beside PostgreSQL")
	p("")
	if c.Status != "measured" {
		p("Task registry: %s. %s", c.Status, c.Meaning)
		p("")
		return
	}
	p("synapse reads the token's task on every task-bound check (authz.TaskStore.Get, never cached, so that a revocation holds from the next hop): the same lookup on each backend, %d tasks in each, read in turn, in %d rounds with the backends in turn; per backend %.1f s of lookups back to back (one at a time, after a warm-up), then %.1f s at %.0f/s (open loop, latency from each lookup's due time, as for the targets above). Latency in µs.",
		c.Tasks, c.Rounds, c.StepSeconds, c.StepSeconds, c.Rate)
	p("")
	p("| registry | lookups | p50 | p90 | p99 | max | mean | CPU per lookup | at %.0f/s: p50 | p99 | failed or unsent |", c.Rate)
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, b := range c.Backends {
		if b.NotRun != "" {
			p("| **%s** | not run: %s | – | – | – | – | – | – | – | – | – |", b.Name, b.NotRun)
			continue
		}
		q, l := b.Sequential, b.AtRate
		p("| **%s**: %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %.1f | %.1f | %d |",
			b.Name, b.Detail, q.Count, q.P50, q.P90, q.P99, q.Max, q.Mean, microseconds(b.CPUPerLookup), l.Latency.P50, l.Latency.P99, l.Failed+l.Unsent)
	}
	p("")
	p("CPU per lookup: this process's CPU time (getrusage) plus, for PostgreSQL, its server backends' (/proc/<pid>/schedstat), over the lookups made back to back.")
	p("")
	p("%s", c.Meaning)
	p("")
	errors := false
	for _, b := range c.Backends {
		for _, e := range b.AtRate.Errors {
			p("- %s at %.0f/s: %s", b.Name, b.AtRate.Rate, e)
			errors = true
		}
	}
	if errors {
		p("")
	}
}

// writeGroup renders the figures of one mix under one cache setting.
func writeGroup(p func(string, ...any), r *Report, g group) {
	var steps []Step
	for _, s := range r.Steps {
		if s.Mix == g.mix && s.Cache == g.cache {
			steps = append(steps, s)
		}
	}
	p("## %s mix, cache %s", g.mix, g.cache)
	p("")
	writeSteps(p, r, steps)
	writeOverheads(p, r, g)
	writeGatewayCPU(p, r, steps)
	writeByKind(p, r, g.mix, steps)
	writeProcesses(p, r, steps)
}

func writeSteps(p func(string, ...any), r *Report, steps []Step) {
	p("### Latency and throughput")
	p("")
	p("| load | target | sent | failed | unsent | throughput/s | p50 | p90 | p99 | max | send lag p99 | synapse CPU | synapse CPU per request | synapse RSS | decisions from the cache |")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range steps {
		syn, ok := s.Processes[s.synapseProcess()]
		cpu, perRequest, rss, cached := "–", "–", "–", "–"
		// Only where synapse serves the step; elsewhere its CPU is its idle probes.
		serves := slices.Contains([]string{TargetGoverned, TargetAgentGoverned, TargetSynapse, TargetCompared}, s.Target)
		if ok && serves {
			cpu = fmt.Sprintf("%.0f%%", syn.CPUPercent)
			perRequest = fmt.Sprintf("%.0f µs", s.CPUPerRequest(s.synapseProcess()))
		}
		// The audit log read is the current synapse's, not the compared build's.
		if serves && s.Target != TargetCompared {
			cached = percent(s.CachedShare())
		}
		if ok {
			rss = fmt.Sprintf("%.1f MiB", float64(syn.RSSMaxBytes)/mib)
		}
		lag := "–"
		if s.Rate > 0 {
			lag = msNum(s.Lag.P99)
		}
		p("| %s | %s %s | %d | %d | %d | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
			loadName(s.Rate), s.Target, targetName(r, s.Target), s.Sent, s.Failed, s.Unsent, s.Throughput,
			msNum(s.Latency.P50), msNum(s.Latency.P90), msNum(s.Latency.P99), msNum(s.Latency.Max), lag, cpu, perRequest, rss, cached)
	}
	p("")
	p("Send lag: how late requests left against the schedule, timer oversleep included (it counts in the latency, less the oversleep). Synapse columns: the synapse serving the step (the compared build for c2). CPU per request: the process's CPU time over the requests answered, the figure least moved by other work on the machine.")
	p("")
}

func writeOverheads(p func(string, ...any), r *Report, g group) {
	p("### Overheads (differences of percentiles, same run)")
	p("")
	p("Median over the %d rounds of each round's difference (a burst in one round cannot move it); the last column is the difference of the whole steps' p99.", r.Method.Rounds)
	p("")
	p("| load | overhead | p50 | p90 | p99 | whole-step p99 | clean |")
	p("|---|---|---:|---:|---:|---:|---|")
	for _, o := range r.Overheads {
		if o.Mix != g.mix || o.Cache != g.cache {
			continue
		}
		clean := "yes"
		if !o.Clean {
			clean = "no: failures"
		}
		p("| %s | %s | %s | %s | %s | %s | %s |", loadName(o.Rate), o.Name, msNum(o.P50), msNum(o.P90), msNum(o.P99), msNum(o.WholeP99), clean)
	}
	p("")
}

// writeGatewayCPU shows each gateway's CPU time per answered request: what its ext_authz work
// costs the gateway itself, beside what the hop costs in latency.
func writeGatewayCPU(p func(string, ...any), r *Report, steps []Step) {
	var ids []string
	for _, t := range r.Targets {
		if _, ok := gatewayProcess(t.ID); ok {
			ids = append(ids, t.ID)
		}
	}
	p("### Gateway CPU per request (µs)")
	p("")
	p("| load | %s |", strings.Join(ids, " | "))
	p("|---|%s", strings.Repeat("---:|", len(ids)))
	var loads []float64
	for _, s := range steps {
		if !slices.Contains(loads, s.Rate) {
			loads = append(loads, s.Rate)
		}
	}
	for _, rate := range loads {
		row := "| " + loadName(rate) + " |"
		for _, id := range ids {
			cell := " – |"
			for _, s := range steps {
				if s.Target == id && s.Rate == rate {
					process, _ := gatewayProcess(id)
					if _, ok := s.Processes[process]; ok {
						cell = fmt.Sprintf(" %.0f |", s.CPUPerRequest(process))
					}
				}
			}
			row += cell
		}
		p("%s", row)
	}
	p("")
	p("The gateway's process only (%s); synapse's and Cerbos's CPU are in the tables above and below.", gatewayProcessList(ids))
	p("")
}

func gatewayProcessList(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		process, _ := gatewayProcess(id)
		parts[i] = id + ": " + process
	}
	return strings.Join(parts, ", ")
}

func writeByKind(p func(string, ...any), r *Report, mix string, steps []Step) {
	var kinds []string
	for _, m := range r.Method.Mixes {
		if m.Name == mix {
			kinds = m.Kinds
		}
	}
	p("### p99 by request kind (ms)")
	p("")
	header := "| load | target |"
	rule := "|---|---|"
	for _, k := range kinds {
		header += " " + k + " |"
		rule += "---:|"
	}
	p("%s", header)
	p("%s", rule)
	for _, s := range steps {
		row := fmt.Sprintf("| %s | %s |", loadName(s.Rate), s.Target)
		for _, k := range kinds {
			row += " " + msNum(s.ByKind[k].P99) + " |"
		}
		p("%s", row)
	}
	p("")
}

// writeProcesses shows every process's CPU and memory at the goal rate: on two shared cores,
// who takes the CPU explains the latency.
func writeProcesses(p func(string, ...any), r *Report, steps []Step) {
	var names []string
	for _, s := range steps {
		for name := range s.Processes {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	p("### CPU (%% of one core) and peak RSS (MiB) per process at %d/s", GoalRate)
	p("")
	p("| process | %s |", strings.Join(targetIDs(r), " | "))
	p("|---|%s", strings.Repeat("---:|", len(r.Targets)))
	for _, name := range names {
		row := "| " + name + " |"
		for _, id := range targetIDs(r) {
			cell := " – |"
			for _, s := range steps {
				if pl, ok := s.Processes[name]; ok && s.Target == id && s.Rate == GoalRate {
					cell = fmt.Sprintf(" %.0f%% / %.0f |", pl.CPUPercent, float64(pl.RSSMaxBytes)/mib)
				}
			}
			row += cell
		}
		p("%s", row)
	}
	if r.Machine.Cores > 0 {
		p("%s", busyRow(r, steps))
	}
	p("")
}

// busyRow sums the processes' CPU while each target ran: how busy the machine's cores were with
// the environment and the load generator (other work on the machine not counted). A queue in
// front of cores that busy, not any one process, sets the p99.
func busyRow(r *Report, steps []Step) string {
	row := fmt.Sprintf("| all of them (share of the %d cores) |", r.Machine.Cores)
	for _, id := range targetIDs(r) {
		cell := " – |"
		for _, s := range steps {
			if s.Target != id || s.Rate != GoalRate {
				continue
			}
			var sum float64
			for _, pl := range s.Processes {
				sum += pl.CPUPercent
			}
			cell = fmt.Sprintf(" %.0f%% (%.0f%%) |", sum, sum/float64(r.Machine.Cores))
		}
		row += cell
	}
	return row
}

func writeErrors(p func(string, ...any), r *Report) {
	var lines []string
	for _, s := range r.Steps {
		for _, e := range s.Errors {
			lines = append(lines, fmt.Sprintf("- %s mix, cache %s, %s at %s: %s", s.Mix, s.Cache, s.Target, loadName(s.Rate), e))
		}
	}
	if len(lines) == 0 {
		return
	}
	p("## Errors (first distinct ones per step)")
	p("")
	for _, l := range lines {
		p("%s", l)
	}
	p("")
}

func targetIDs(r *Report) []string {
	ids := make([]string, len(r.Targets))
	for i, t := range r.Targets {
		ids[i] = t.ID
	}
	return ids
}

func targetName(r *Report, id string) string {
	for _, t := range r.Targets {
		if t.ID == id {
			return t.Name
		}
	}
	return ""
}

func loadName(rate float64) string {
	if rate == 0 {
		return "saturation"
	}
	return fmt.Sprintf("%.0f/s", rate)
}

// percent formats a share in percent; a negative one is unknown.
func percent(share float64) string {
	if share < 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", share)
}

func msNum(us float64) string { return fmt.Sprintf("%.3f", us/1000) }

func quantity(v float64, unit string) string {
	if unit == "µs" {
		return fmt.Sprintf("%.3f ms", v/1000)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// On a machine shared with other work, noise comes in bursts. A step is therefore measured in
// rounds: at each load every target runs for a slice of its step, in turn, Rounds times over,
// and its slices are merged. A burst then falls on all targets alike instead of on whichever
// one happened to be running, which is what makes the differences between them mean something.

// tally accumulates the rounds of one target at one load.
type tally struct {
	out    Outcome
	rounds []Summary
	procs  map[string]*processTally
	// decisions and cached count synapse's audit log lines written during the rounds.
	decisions, cached uint64
}

type processTally struct {
	cpu, wall      time.Duration
	rssMax, rssEnd uint64
}

func (t *tally) add(out Outcome, loads map[string]ProcessLoad, wall time.Duration) {
	t.out.Merge(out)
	if out.All != nil {
		t.rounds = append(t.rounds, summarize(out.All))
	}
	if t.procs == nil {
		t.procs = map[string]*processTally{}
	}
	for name, l := range loads {
		p := t.procs[name]
		if p == nil {
			p = &processTally{}
			t.procs[name] = p
		}
		p.cpu += time.Duration(l.CPUPercent / 100 * float64(wall))
		p.wall += wall
		p.rssMax = max(p.rssMax, l.RSSMaxBytes)
		p.rssEnd = l.RSSEndBytes
	}
}

func (t *tally) step(target string, rate float64) Step {
	s := Step{
		Target: target, Rate: rate,
		Sent: t.out.Sent, Failed: t.out.Failed, Unsent: t.out.Unsent, Throughput: t.out.Throughput(),
		ByKind: map[string]Summary{}, Processes: map[string]ProcessLoad{}, Errors: t.out.Errors,
		Rounds: t.rounds, Decisions: t.decisions, CachedDecisions: t.cached,
	}
	if t.out.All != nil {
		s.Latency = summarize(t.out.All)
	}
	if t.out.Lag != nil {
		s.Lag = summarize(t.out.Lag)
	}
	for _, kind := range slices.Sorted(maps.Keys(t.out.Latency)) {
		s.ByKind[kind] = summarize(t.out.Latency[kind])
	}
	for name, p := range t.procs {
		load := ProcessLoad{RSSMaxBytes: p.rssMax, RSSEndBytes: p.rssEnd}
		if p.wall > 0 {
			load.CPUPercent = 100 * p.cpu.Seconds() / p.wall.Seconds()
		}
		s.Processes[name] = load
	}
	return s
}

// measureLoad runs every target at one load, in rounds, and returns a step per target. Before
// each round, reset (nil: none) puts the upstreams back in their seed state (upstreams.go); each
// round's decisions are read from synapse's audit log (audit; nil reads none).
func measureLoad(ctx context.Context, monitor *Monitor, audit *auditTail, reset func(context.Context) error, targets []target, rate float64, opts Options) ([]Step, error) {
	slice := opts.Step / time.Duration(opts.Rounds)
	load := Load{Rate: rate, Workers: opts.MaxInFlight, Duration: slice, Warmup: opts.Warmup, Timeout: opts.Timeout}
	if rate == 0 {
		load.Workers = opts.SaturationWorkers
	}
	tallies := make([]tally, len(targets))
	// What was decided before this load is no round's.
	if _, _, err := audit.read(); err != nil {
		return nil, err
	}
	for range opts.Rounds {
		for i, t := range targets {
			if reset != nil {
				if err := reset(ctx); err != nil {
					return nil, fmt.Errorf("before target %s at %v/s: %w", t.id, rate, err)
				}
			}
			var out Outcome
			var err error
			began := time.Now()
			loads := monitor.Watch(ctx, func(ctx context.Context) { out, err = Drive(ctx, t.mix, load) })
			if err != nil {
				return nil, fmt.Errorf("target %s at %v/s: %w", t.id, rate, err)
			}
			tallies[i].add(out, loads, time.Since(began))
			decisions, cached, err := audit.read()
			if err != nil {
				return nil, err
			}
			tallies[i].decisions += decisions
			tallies[i].cached += cached
		}
	}
	steps := make([]Step, len(targets))
	for i, t := range targets {
		steps[i] = tallies[i].step(t.id, rate)
	}
	return steps, nil
}

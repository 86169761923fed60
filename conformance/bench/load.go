package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one kind of request in a mix: Do sends it once and returns an error when it
// failed or its outcome was not the expected one (an allow where a denial was due counts as
// a failure, so a misconfigured run cannot pass for a fast one).
type Request struct {
	Kind string
	Do   func(ctx context.Context) error
}

// Load says how hard and how long one step drives a target.
type Load struct {
	// Rate is the fixed request rate per second (open loop); zero means saturation: Workers
	// send back to back (closed loop).
	Rate float64
	// Workers bounds concurrency: the requests in flight at a fixed rate, the senders at
	// saturation.
	Workers int
	// Duration of the measured part; Warmup runs first at the same load and is discarded.
	Duration, Warmup time.Duration
	// Timeout bounds each request.
	Timeout time.Duration
}

// Validate says what is wrong with l.
func (l Load) Validate() error {
	var errs []error
	if l.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %v is negative", l.Rate))
	}
	if l.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers %d: need at least one", l.Workers))
	}
	if l.Duration <= 0 || l.Warmup < 0 || l.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("duration %s, warmup %s and timeout %s must be positive", l.Duration, l.Warmup, l.Timeout))
	}
	return errors.Join(errs...)
}

// Outcome is what one step measured.
type Outcome struct {
	// Latency of every request, by kind and over all kinds. At a fixed rate it runs from the
	// moment the schedule said the request was due, not from when it was sent, so a stalled
	// target shows in the figures instead of silently lowering the rate. The one lateness not
	// charged to the target is the generator's own timer oversleeping (Go's timers wake up to
	// a millisecond late here): after a sleep, latency runs from the wake-up.
	Latency map[string]*Histogram
	All     *Histogram
	// Lag is how late requests were sent against the schedule (fixed rate only): large values
	// mean the generator or the in-flight bound held requests back.
	Lag *Histogram
	// Sent, Failed and Unsent count requests; Unsent were due but never sent before the
	// step's deadline (the target could not keep up).
	Sent, Failed, Unsent uint64
	// Errors holds a few distinct failure messages, for the report.
	Errors []string
	// Elapsed is from the first due time to the last answer.
	Elapsed time.Duration
}

// Throughput is the rate of answered requests that succeeded.
func (o Outcome) Throughput() float64 {
	if o.Elapsed <= 0 {
		return 0
	}
	return float64(o.Sent-o.Failed) / o.Elapsed.Seconds()
}

// maxErrors bounds the failure messages kept per step.
const maxErrors = 5

// recorder collects results from concurrent requests.
type recorder struct {
	mu      sync.Mutex
	out     Outcome
	errSeen map[string]bool
}

func newRecorder(mix []Request) *recorder {
	r := &recorder{out: Outcome{Latency: map[string]*Histogram{}, All: &Histogram{}, Lag: &Histogram{}}, errSeen: map[string]bool{}}
	for _, req := range mix {
		r.out.Latency[req.Kind] = &Histogram{}
	}
	return r
}

func (r *recorder) record(kind string, latency, lag time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.Sent++
	r.out.Lag.Record(lag)
	if err != nil {
		r.out.Failed++
		msg := kind + ": " + err.Error()
		if len(r.out.Errors) < maxErrors && !r.errSeen[msg] {
			r.errSeen[msg] = true
			r.out.Errors = append(r.out.Errors, msg)
		}
		return
	}
	r.out.Latency[kind].Record(latency)
	r.out.All.Record(latency)
}

// Drive runs one step of l against the mix (requests in turn) and returns what it measured.
// The warmup is run and thrown away first. It stops early, with what it has, when ctx ends.
func Drive(ctx context.Context, mix []Request, l Load) (Outcome, error) {
	if len(mix) == 0 {
		return Outcome{}, errors.New("drive: empty request mix")
	}
	if err := l.Validate(); err != nil {
		return Outcome{}, fmt.Errorf("drive: %w", err)
	}
	if l.Warmup > 0 {
		warm := l
		warm.Duration, warm.Warmup = l.Warmup, 0
		drive(ctx, mix, warm)
	}
	out := drive(ctx, mix, l)
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("drive: %w", err)
	}
	return out, nil
}

func drive(ctx context.Context, mix []Request, l Load) Outcome {
	if l.Rate == 0 {
		return closedLoop(ctx, mix, l)
	}
	return openLoop(ctx, mix, l)
}

// openLoop sends requests at their due times, t0 + i/rate, whatever happened to earlier ones
// (wrk2's answer to coordinated omission). At most Workers are in flight; a request held back
// by that bound, or by a generator running behind, is sent late, and its lateness counts in
// its latency.
func openLoop(ctx context.Context, mix []Request, l Load) Outcome {
	rec := newRecorder(mix)
	total := int(l.Rate * l.Duration.Seconds())
	interval := time.Duration(float64(time.Second) / l.Rate)
	// Requests due but not yet sent by then are counted as Unsent.
	ctx, cancel := context.WithTimeout(ctx, l.Duration+l.Timeout)
	defer cancel()

	inFlight := make(chan struct{}, l.Workers)
	var wg sync.WaitGroup
	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now()
	var sent int
schedule:
	for ; sent < total; sent++ {
		due := start.Add(time.Duration(sent) * interval)
		origin := due
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break schedule
			}
			// The request was on time; how late the timer woke is the generator's error.
			origin = time.Now()
		}
		select {
		case inFlight <- struct{}{}:
		case <-ctx.Done():
			break schedule
		}
		req := mix[sent%len(mix)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inFlight }()
			began := time.Now()
			rctx, cancel := context.WithTimeout(ctx, l.Timeout)
			err := req.Do(rctx)
			cancel()
			rec.record(req.Kind, time.Since(origin), began.Sub(due), err)
		}()
	}
	wg.Wait()
	rec.out.Unsent = uint64(total - sent)
	rec.out.Elapsed = time.Since(start)
	return rec.out
}

// closedLoop finds saturation: Workers send back to back for Duration. Latency runs from each
// send; the figure that matters here is the throughput.
func closedLoop(ctx context.Context, mix []Request, l Load) Outcome {
	rec := newRecorder(mix)
	ctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	var next atomic.Uint64
	var wg sync.WaitGroup
	start := time.Now()
	for range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req := mix[(next.Add(1)-1)%uint64(len(mix))]
				began := time.Now()
				// Requests still running when the step ends finish on their own timeout, so the
				// last ones are not cut short and counted as failures.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.Timeout)
				err := req.Do(rctx)
				cancel()
				rec.record(req.Kind, time.Since(began), 0, err)
			}
		}()
	}
	wg.Wait()
	rec.out.Elapsed = time.Since(start)
	return rec.out
}

// Merge adds other's requests to o: the rounds of one step make one outcome.
func (o *Outcome) Merge(other Outcome) {
	if o.Latency == nil {
		o.Latency = map[string]*Histogram{}
	}
	for kind, h := range other.Latency {
		if o.Latency[kind] == nil {
			o.Latency[kind] = &Histogram{}
		}
		o.Latency[kind].Merge(h)
	}
	for _, pair := range []struct {
		into **Histogram
		from *Histogram
	}{{&o.All, other.All}, {&o.Lag, other.Lag}} {
		if *pair.into == nil {
			*pair.into = &Histogram{}
		}
		if pair.from != nil {
			(*pair.into).Merge(pair.from)
		}
	}
	o.Sent += other.Sent
	o.Failed += other.Failed
	o.Unsent += other.Unsent
	o.Elapsed += other.Elapsed
	for _, e := range other.Errors {
		if len(o.Errors) < maxErrors && !slices.Contains(o.Errors, e) {
			o.Errors = append(o.Errors, e)
		}
	}
}

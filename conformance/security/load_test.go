package security_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hopguard/hopguard/conformance/rawhttp"
	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/synapse/respond"
)

// sendTimeout bounds one request of the load; Envoy's own authz timeout is 2 seconds.
const sendTimeout = 15 * time.Second

// prepared is a probe with its request built.
type prepared struct {
	bypass.Probe
	req rawhttp.Request
}

func prepare(ctx context.Context, t *testing.T, tg bypass.Target) []prepared {
	t.Helper()
	var out []prepared
	for _, p := range bypass.Probes() {
		req, err := p.Request(ctx, tg)
		if err != nil {
			t.Fatalf("build probe %q: %v", p.Name, err)
		}
		out = append(out, prepared{Probe: p, req: req})
	}
	return out
}

// observation is one request of the load and what came of it.
type observation struct {
	probe      prepared
	start, end time.Time
	verdict    bypass.Verdict
	// shouldRetry is every x-should-retry value of the response, comma-joined (a doubled header
	// is not "false"); "" when absent or with no response.
	shouldRetry string
	err         error // a transport failure other than the gateway closing the connection
}

// allowed reports that the request was let through.
func (o observation) allowed() bool { return o.err == nil && !o.verdict.Denied }

func (o observation) String() string {
	if o.err != nil {
		return fmt.Sprintf("%s: %v", o.probe.Name, o.err)
	}
	v := o.verdict
	return fmt.Sprintf("%s: denied=%t layer=%s status=%d code=%s", o.probe.Name, v.Denied, v.Layer, v.Status, v.Code)
}

func send(ctx context.Context, addr string, p prepared) observation {
	o := observation{probe: p, start: time.Now()}
	resp, err := rawhttp.Send(ctx, addr, p.req, sendTimeout)
	o.end = time.Now()
	if err != nil && !errors.Is(err, rawhttp.ErrNoResponse) {
		o.err = err
		return o
	}
	o.verdict = bypass.Judge(resp)
	if resp != nil {
		o.shouldRetry = strings.Join(resp.Header.Values(respond.HeaderShouldRetry), ",")
	}
	return o
}

// traffic keeps workers sending the probes round-robin until stopped.
type traffic struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	obs []observation
}

func startTraffic(ctx context.Context, addr string, probes []prepared, workers int) *traffic {
	ctx, cancel := context.WithCancel(ctx)
	tr := &traffic{cancel: cancel}
	for w := range workers {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for i := w; ctx.Err() == nil; i += workers {
				o := send(ctx, addr, probes[i%len(probes)])
				if ctx.Err() != nil {
					return // cut short by the stop, not by the gateway
				}
				tr.mu.Lock()
				tr.obs = append(tr.obs, o)
				tr.mu.Unlock()
			}
		}()
	}
	return tr
}

// snapshot is what was observed so far.
func (tr *traffic) snapshot() []observation {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]observation(nil), tr.obs...)
}

// stop ends the traffic and returns every observation.
func (tr *traffic) stop() []observation {
	tr.cancel()
	tr.wg.Wait()
	return tr.snapshot()
}

// waitFor polls cond until it holds, or fails after limit: a wait for an event, not a check
// of speed.
func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("still not so after %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

package security_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/rawhttp"
	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/conformance/security/summary"
)

// The isolation drill's bounds: how long each phase lasts, how often the victim sends, and how
// many of the flooder's requests are in flight at once.
const (
	isolationPhase    = 3 * time.Second
	isolationInterval = 20 * time.Millisecond
	isolationFlooders = 4
	// isolationPadding is how many extra argument keys each flood request carries: expensive for
	// Cerbos (each is converted, validated against the tool's schema and logged), legal for
	// synapse and the policies (the ticket tools' schema admits extra arguments), and just under
	// synapse's limit of members per object (mapping.DefaultLimits, 1,000 with the two others).
	isolationPadding = 990
	// isolationSlowdown is the goal for the victim's p99 under the flood against its quiet p99.
	// A latency goal is a measurement, not an assertion (these machines are shared and noisy):
	// the security report gives the ratio and says whether the goal was met.
	isolationSlowdown = 3.0
)

// TestIsolationUnderAFlood measures, behind every gateway, another principal's valid hops while
// one principal floods the authorization path with expensive but legal checks: first quiet,
// then under the flood. Each of the victim's hops must be allowed; the report gives their p99
// under the flood against the quiet figure of the same run, the goal being isolationSlowdown at
// most. Every request of both differs from the ones before it, so that synapse's decision cache
// answers none and each asks Cerbos.
func TestIsolationUnderAFlood(t *testing.T) {
	h := requireEnv(t)
	for _, g := range h.Gateways {
		t.Run(g.Name(), func(t *testing.T) {
			ctx := t.Context()
			tg := target(t, g.Name())
			_, aliceToken, err := newTask(ctx, tg.Gateway, "victim", "T-1001")
			require.NoError(t, err)
			_, triageToken, err := newTaskOf(ctx, bypass.Triage, tg.Gateway, "flood", "T-2001")
			require.NoError(t, err)
			victimLLM, err := aliceToken(bypass.Alice, "llm")
			require.NoError(t, err)
			flooderTickets, err := triageToken(bypass.Triage, "mcp:tickets")
			require.NoError(t, err)

			quiet := victimHops(ctx, t, tg.Addr, victimLLM, 0)
			floodCtx, stopFlood := context.WithCancel(ctx)
			flooded := make(chan int, 1)
			go func() { flooded <- flood(floodCtx, tg.Addr, flooderTickets) }()
			loud := victimHops(ctx, t, tg.Addr, victimLLM, len(quiet.latencies))
			stopFlood()
			floodSent := <-flooded

			quietP99, loudP99 := p99(quiet.latencies), p99(loud.latencies)
			ratio := float64(loudP99) / float64(max(quietP99, time.Microsecond))
			goal := "met"
			if ratio > isolationSlowdown {
				goal = "NOT MET"
			}
			detail := fmt.Sprintf("the victim's p99 %.1f ms quiet, %.1f ms under a flood of %d expensive checks (%d in flight): %.1fx (goal %.0fx at most: %s); %d of %d hops denied",
				ms(quietP99), ms(loudP99), floodSent, isolationFlooders, ratio, isolationSlowdown, goal, quiet.denied+loud.denied, len(quiet.latencies)+len(loud.latencies))
			t.Log(g.Name() + ": " + detail)
			suite.recorder.Fault(summary.Fault{Name: "one principal floods, another's hops are served", Gateway: g.Name(),
				Probes: len(quiet.latencies) + len(loud.latencies) + floodSent, InWindow: len(loud.latencies),
				Pass: quiet.denied+loud.denied == 0 && floodSent > 0, Detail: detail})
			assert.Zero(t, quiet.denied+loud.denied, "every hop of the victim is allowed: %s", strings.Join(append(quiet.problems, loud.problems...), "; "))
			assert.Positive(t, floodSent, "the flood sent something")
		})
	}
}

type victimRun struct {
	latencies []time.Duration
	denied    int
	problems  []string
}

// victimHops sends Alice's model calls, one every isolationInterval for isolationPhase, each
// asking for another max_tokens so that none is answered from the decision cache.
func victimHops(ctx context.Context, t *testing.T, addr, token string, from int) victimRun {
	t.Helper()
	var run victimRun
	tick := time.NewTicker(isolationInterval)
	defer tick.Stop()
	for end := time.Now().Add(isolationPhase); time.Now().Before(end); {
		i := from + len(run.latencies)
		req := modelPost("/v1/chat/completions", token, fmt.Appendf(nil, `{"model":"gpt-4o-mini","max_tokens":%d,"messages":[{"role":"user","content":"Work ticket T-1001."}]}`, 16+i))
		start := time.Now()
		o := send(ctx, addr, prepared{Probe: bypass.Probe{Name: "alice's model call"}, req: req})
		run.latencies = append(run.latencies, time.Since(start))
		if !o.allowed() {
			run.denied++
			run.problems = append(run.problems, o.String())
		}
		select {
		case <-ctx.Done():
			return run
		case <-tick.C:
		}
	}
	return run
}

// flood keeps isolationFlooders of the triage agent's expensive tools/call requests in flight
// until ctx ends, and returns how many it sent. Their answers do not matter.
func flood(ctx context.Context, addr, token string) int {
	padding := make([]string, isolationPadding)
	for i := range padding {
		padding[i] = fmt.Sprintf(`"note_%d":"a legal but costly argument"`, i)
	}
	var (
		mu   sync.Mutex
		sent int
		wg   sync.WaitGroup
	)
	for w := range isolationFlooders {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				body := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_ticket","arguments":{"ticket_id":"T-2001","nonce":"%d-%d",%s}}}`,
					n, w, n, strings.Join(padding, ","))
				req := mcpPost("tickets", token, body)
				_, _ = rawhttp.Send(ctx, addr, req, sendTimeout)
				mu.Lock()
				sent++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return sent
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[min(len(sorted)-1, len(sorted)*99/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

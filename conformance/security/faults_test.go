package security_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/conformance/security/summary"
	"github.com/hopguard/hopguard/conformance/stack"
)

// Bounds of a drill. Each is a wait for an event (evidence gathered, a component back), never
// an assertion about speed.
const (
	drillWorkers = 4
	// evidenceWait bounds the wait for every probe to have been made inside the fault window.
	evidenceWait = 60 * time.Second
	// recoveryWait bounds the wait for an allowed request to be allowed again after healing.
	recoveryWait = 60 * time.Second
)

// drill breaks one thing under traffic.
type drill struct {
	name string
	// inject breaks it and returns once the fault holds; heal mends it.
	inject, heal func(ctx context.Context) error
	// allDeny: every request made while the fault holds must be denied. The STS drill clears it:
	// genuine tokens keep verifying from synapse's cached key set.
	allDeny bool
	// check judges one request made entirely inside the fault window.
	check func(o observation) error
	// proof names what must be seen at least once inside the window, so that the drill shows
	// the path it is about (synapse's own pdp_unavailable, not only the gateway's timeout).
	proof     func(o observation) bool
	proofName string
}

// TestFaults runs every fault drill under traffic behind every gateway, then checks that a
// revoked task stays revoked across a synapse restart.
func TestFaults(t *testing.T) {
	h := requireEnv(t)
	rt := h.Runtime
	for _, g := range h.Gateways {
		t.Run(g.Name(), func(t *testing.T) {
			tg := target(t, g.Name())
			probes := prepare(t.Context(), t, tg)
			for _, d := range []drill{
				cerbosHung(t, g.Name()),
				{name: "Cerbos killed, then restarted",
					inject: func(ctx context.Context) error {
						if err := rt.Stop(ctx, stack.Cerbos); err != nil {
							return err
						}
						return synapseKnowsCerbosGone(ctx, h)
					},
					heal:    func(ctx context.Context) error { return rt.Restart(ctx, stack.Cerbos) },
					allDeny: true, check: pdpUnavailable(g.Name()), proof: isPDPUnavailable, proofName: "synapse's fail-closed pdp_unavailable"},
				{name: "synapse killed, then restarted",
					inject:  func(ctx context.Context) error { return rt.Stop(ctx, stack.Synapse) },
					heal:    func(ctx context.Context) error { return rt.Restart(ctx, stack.Synapse) },
					allDeny: true, check: gatewayFailsClosed(g.Name()), proof: func(o observation) bool { return gatewayFailsClosed(g.Name())(o) == nil },
					proofName: "the gateway's own fail-closed reply"},
				{name: "STS down after boot",
					inject: func(ctx context.Context) error { return rt.Stop(ctx, stack.STS) },
					heal:   func(ctx context.Context) error { return rt.Restart(ctx, stack.STS) },
					check:  cachedKeysOnly, proof: func(o observation) bool { return o.probe.Allowed && o.allowed() },
					proofName: "a genuine token verified from the cached keys"},
			} {
				t.Run(d.name, func(t *testing.T) {
					f := runDrill(t, tg, probes, d)
					suite.recorder.Fault(f)
					if !f.Pass {
						t.Errorf("%s: %s", d.name, f.Detail)
					}
				})
			}
			t.Run("decision cache attacks", func(t *testing.T) {
				f := cacheAttacks(t, tg)
				suite.recorder.Fault(f)
				if !f.Pass {
					t.Errorf("%s", f.Detail)
				}
			})
			t.Run("revocation survives a synapse restart", func(t *testing.T) {
				f := revocationAcrossRestart(t, tg, probes)
				suite.recorder.Fault(f)
				if !f.Pass {
					t.Errorf("%s", f.Detail)
				}
			})
		})
	}
}

// runDrill sends traffic, waits for an allow, breaks the thing, waits until every probe has
// been made while it was broken, mends it, and waits until an allowed request is allowed again.
func runDrill(t *testing.T, tg bypass.Target, probes []prepared, d drill) summary.Fault {
	ctx := t.Context()
	f := summary.Fault{Name: d.name, Gateway: tg.Gateway}
	var problems []string
	fail := func(format string, args ...any) summary.Fault {
		f.Detail = fmt.Sprintf(format, args...)
		return f
	}
	for resource, j := range tg.Journals {
		if err := j.Reset(ctx); err != nil {
			return fail("reset the %s journal: %v", resource, err)
		}
	}
	tr := startTraffic(ctx, tg.Addr, probes, drillWorkers)
	defer tr.stop()
	if err := waitFor(ctx, recoveryWait, func() bool { return anyAllowed(tr.snapshot(), time.Time{}) }); err != nil {
		return fail("nothing was allowed before the fault: %v", err)
	}

	if err := d.inject(ctx); err != nil {
		return fail("inject the fault: %v", err)
	}
	from := time.Now()
	evidence := waitFor(ctx, evidenceWait, func() bool { return everyProbeSince(tr.snapshot(), probes, from) })
	to := time.Now()
	if err := d.heal(ctx); err != nil {
		return fail("heal the fault: %v", err)
	}
	healed := time.Now()
	if evidence != nil {
		problems = append(problems, "not every probe was made while the fault held: "+evidence.Error())
	}
	if err := waitFor(ctx, recoveryWait, func() bool { return anyAllowed(tr.snapshot(), healed) }); err != nil {
		problems = append(problems, "no allowed request went through after healing, without a hand: "+err.Error())
	}
	obs := tr.stop()

	f.Probes = len(obs)
	proven := false
	for _, o := range obs {
		if o.err != nil {
			problems = append(problems, "transport failure: "+o.String())
			continue
		}
		if !o.probe.Allowed && o.allowed() {
			problems = append(problems, "FORBIDDEN REQUEST ALLOWED: "+o.String())
		}
		if o.start.Before(from) || o.end.After(to) {
			continue
		}
		f.InWindow++
		if o.allowed() {
			f.Allowed++
			if d.allDeny {
				problems = append(problems, "ALLOWED WHILE THE FAULT HELD: "+o.String())
			}
		}
		if err := d.check(o); err != nil {
			problems = append(problems, err.Error())
		}
		proven = proven || d.proof(o)
	}
	if !proven {
		problems = append(problems, "never saw "+d.proofName+" while the fault held")
	}
	leaked, err := forbiddenUpstream(ctx, tg)
	if err != nil {
		problems = append(problems, err.Error())
	}
	f.Leaked = len(leaked)
	for _, l := range leaked {
		problems = append(problems, "REACHED AN UPSTREAM: "+l)
	}
	f.Pass = len(problems) == 0 && f.InWindow > 0
	f.Detail = summarize(problems)
	if f.Pass {
		f.Detail = fmt.Sprintf("%d requests made entirely while the fault held, each answered as the drill requires; recovered by itself", f.InWindow)
	}
	return f
}

// synapseKnowsCerbosGone waits until synapse's readiness says Cerbos does not answer. Until
// then (its probe runs every second) synapse may answer a hop from its decision cache with what
// Cerbos decided for the very same request less than the cache's TTL ago (synapse/authz,
// cache.go): a decision Cerbos made, not a bypass. The fault holds, for the drill, from the
// moment synapse knows; from then on nothing is reused and every check fails closed.
func synapseKnowsCerbosGone(ctx context.Context, h *harness.Env) error {
	base, err := h.URL(stack.Synapse)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Second}
	return waitFor(ctx, recoveryWait, func() bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
}

// cerbosHung holds Cerbos still (SIGSTOP on the process runtime, docker pause on the container
// runtime): it accepts connections and never answers, so synapse's Cerbos timeout (500 ms) must
// turn every check into pdp_unavailable.
func cerbosHung(t *testing.T, gateway string) drill {
	f, err := cerbosFreezer(suite.env)
	if err != nil {
		return drill{
			name:   "Cerbos hung past synapse's timeout, then resumed",
			inject: func(context.Context) error { return err },
			heal:   func(context.Context) error { return nil },
		}
	}
	t.Cleanup(func() { // never leave Cerbos stopped, whatever fails
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.thaw(ctx); err != nil {
			t.Errorf("Cerbos may still be held: %v", err)
		}
	})
	return drill{
		name: "Cerbos hung past synapse's timeout (" + f.how() + "), then resumed",
		inject: func(ctx context.Context) error {
			if err := f.freeze(ctx); err != nil {
				return err
			}
			return synapseKnowsCerbosGone(ctx, suite.env)
		},
		heal:      f.thaw,
		allDeny:   true,
		check:     pdpUnavailable(gateway),
		proof:     isPDPUnavailable,
		proofName: "synapse's fail-closed pdp_unavailable",
	}
}

// pdpUnavailable: with Cerbos gone, synapse denies whatever would have asked it, with the code
// pdp_unavailable (503, or 200 with the JSON-RPC error for an MCP request); the rest is refused
// as always. A gateway's own fail-closed reply (its authz call timed out on a machine too busy
// for synapse to answer within it) is closed too.
func pdpUnavailable(gateway string) func(observation) error {
	return func(o observation) error {
		v := o.verdict
		switch {
		case !v.Denied:
			return fmt.Errorf("%s was not denied", o)
		case !o.probe.ReachesCerbos, isPDPUnavailable(o), gatewayFailsClosed(gateway)(o) == nil:
			return nil
		}
		return fmt.Errorf("want synapse's fail-closed pdp_unavailable (status %d): %s", failClosedStatus(o, ""), o)
	}
}

func isPDPUnavailable(o observation) bool {
	v := o.verdict
	return o.probe.ReachesCerbos && v.Layer == bypass.LayerSynapse && v.Code == "pdp_unavailable" && v.Status == failClosedStatus(o, "")
}

// ownMCPReplyStays503 are the gateways whose own fail-closed reply stays 503 on MCP too: they
// cannot shape it (agentgateway's notes, "synapse unreachable").
var ownMCPReplyStays503 = []string{"agentgateway"}

// failClosedStatus is the status a fail-closed reply to the probe has: 200 for an MCP POST
// (every probe's is a JSON-RPC request), answered the MCP-native way with the JSON-RPC error
// -32011 since the MCP Go SDK never reads a 5xx's body; 503 for anything else. gateway names
// the gateway whose own reply it is, "" for synapse's.
func failClosedStatus(o observation, gateway string) int {
	mcpPost := o.probe.req.Method == "POST" && strings.HasPrefix(o.probe.req.Target, "/mcp/")
	if mcpPost && !slices.Contains(ownMCPReplyStays503, gateway) {
		return 200
	}
	return 503
}

// gatewayFailsClosed: with synapse gone, the gateway itself denies everything with a reply that
// says so: x-hopguard-decision: deny without a decision id (synapse made none) and
// x-should-retry: false, 503 (200 for an MCP POST behind Envoy and Istio). Every gateway's
// config adds both marks (Envoy's local_reply_config, Istio's EnvoyFilter, agentgateway's
// response transformation), so a client can tell the denial from an outage and does not retry it.
func gatewayFailsClosed(gateway string) func(observation) error {
	return func(o observation) error {
		want := failClosedStatus(o, gateway)
		if v := o.verdict; v.Layer != bypass.LayerAuthzFailure || v.Status != want || o.shouldRetry != "false" {
			return fmt.Errorf("want the gateway's own %d denial, marked deny and x-should-retry: false: %s x-should-retry=%q", want, o, o.shouldRetry)
		}
		return nil
	}
}

// cachedKeysOnly: with the STS gone, tokens signed by the key synapse already holds keep
// verifying (the answer is the usual one), and a token under any other key id is denied.
func cachedKeysOnly(o observation) error {
	if o.allowed() != o.probe.Allowed {
		return fmt.Errorf("answered otherwise than with the STS up: %s", o)
	}
	return nil
}

func anyAllowed(obs []observation, since time.Time) bool {
	for _, o := range obs {
		if o.probe.Allowed && o.allowed() && !o.start.Before(since) {
			return true
		}
	}
	return false
}

// everyProbeSince reports that each probe was made at least once entirely after from.
func everyProbeSince(obs []observation, probes []prepared, from time.Time) bool {
	done := map[string]bool{}
	for _, o := range obs {
		if !o.start.Before(from) {
			done[o.probe.Name] = true
		}
	}
	return len(done) == len(probes)
}

// forbiddenUpstream lists what reached an upstream that no probe may cause.
func forbiddenUpstream(ctx context.Context, tg bypass.Target) ([]string, error) {
	var out []string
	for resource, j := range tg.Journals {
		entries, err := j.Entries(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the %s journal: %w", resource, err)
		}
		for _, e := range entries {
			if bypass.Forbidden(resource, e) {
				out = append(out, fmt.Sprintf("%s %s %s %s %s %s", resource, e.HTTPMethod, e.Path, e.MCPMethod, e.Tool, e.Model))
			}
		}
	}
	return out, nil
}

// summarize keeps a failure report readable: the first problems and how many more there were.
func summarize(problems []string) string {
	const keep = 8
	if len(problems) > keep {
		return strings.Join(problems[:keep], "; ") + fmt.Sprintf("; and %d more", len(problems)-keep)
	}
	return strings.Join(problems, "; ")
}

package authz_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/authz"
	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/metrics"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/tasks"
)

const cacheTTL = 2 * time.Second

// cached is a Service with its decision cache on, and every collaborator under the test's
// control: the clock, Cerbos's answer, the task's status and synapse's readiness.
type cached struct {
	iss     *identitytest.Issuer
	audit   *auditRecorder
	metrics *metrics.Metrics
	svc     *authz.Service

	mu     sync.Mutex
	now    time.Time
	ids    int
	calls  int // to Cerbos
	effect pdp.Effect
	pdpErr error
	// gate, when set, holds every call to Cerbos until it is closed.
	gate    chan struct{}
	status  tasks.Status
	unready error
	// version is the policy set's version Cerbos answers under ("" answers without one).
	version string
}

func newCached(t *testing.T) *cached {
	t.Helper()
	c := &cached{iss: identitytest.NewIssuer(t), audit: &auditRecorder{}, metrics: metrics.New(), now: time.Unix(1_800_000_000, 0),
		effect: pdp.EffectAllow, status: tasks.StatusActive}
	cache, err := authz.NewDecisionCache(cacheTTL, 100)
	require.NoError(t, err)
	keys := identity.NewKeySet(identity.KeySetConfig{URL: c.iss.JWKSURL()})
	svc, err := authz.New(authz.Options{
		Routes:   mapping.RouteTable{{PathPrefix: "/v1/", Resource: "llm"}},
		Tokens:   identity.NewVerifier(keys, identitytest.DefaultIssuer, 30*time.Second),
		Tasks:    taskFunc(c.task),
		PDP:      pdpFunc(c.check),
		Audit:    c.audit,
		Metrics:  c.metrics,
		Log:      slog.New(slog.DiscardHandler),
		Cache:    cache,
		PDPReady: c.ready,
		NewID:    c.newID,
		Now:      c.clock,
	})
	require.NoError(t, err)
	c.svc = svc
	return c
}

type taskFunc func(context.Context, string) (tasks.Task, error)

func (f taskFunc) Get(ctx context.Context, id string) (tasks.Task, error) { return f(ctx, id) }

func (c *cached) task(_ context.Context, id string) (tasks.Task, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := aliceTask
	t.Status = c.status
	return t, nil
}

func (c *cached) check(ctx context.Context, req pdp.Request) (*pdp.Response, error) {
	c.mu.Lock()
	c.calls++
	effect, err, version, gate := c.effect, c.pdpErr, c.version, c.gate
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if err != nil {
		return nil, err
	}
	resp, err := answer(effect, nil, nil)(ctx, req)
	if err != nil || version == "" {
		return resp, err
	}
	for i := range resp.Results {
		resp.Results[i].Outputs = append(resp.Results[i].Outputs, pdp.Output{Source: "resource.llm.vdefault#provenance", Action: "completion", Value: version})
	}
	return resp, nil
}

func (c *cached) ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unready
}

func (c *cached) newID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids++
	return fmt.Sprintf("d%d", c.ids)
}

func (c *cached) clock() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *cached) set(f func(*cached)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

// hop sends alice's chat completion for model and returns its audit record.
func (c *cached) hop(t *testing.T, model string) audit.Record {
	t.Helper()
	return c.hopIn(t, context.Background(), model)
}

// hopIn is hop under ctx.
func (c *cached) hopIn(t *testing.T, ctx context.Context, model string) audit.Record {
	t.Helper()
	resp, err := c.svc.Check(ctx, checktest.Envoy("llm", "POST", "/v1/chat/completions", c.iss.Mint(t, identitytest.Token{
		Subject: "alice", Audience: "llm", Roles: []string{"tier-1-support"}, AgentID: "triage", HarnessVersion: "1.0.0", TaskID: "task-1",
	}), checktest.ChatBody(model)))
	require.NoError(t, err)
	id, _ := header(resp.GetOkResponse().GetResponseHeadersToAdd(), "x-hopguard-decision-id")
	if denied := resp.GetDeniedResponse(); denied != nil {
		id, _ = header(denied.GetHeaders(), "x-hopguard-decision-id")
	}
	c.audit.mu.Lock()
	defer c.audit.mu.Unlock()
	for i := len(c.audit.recs) - 1; i >= 0; i-- {
		if c.audit.recs[i].DecisionID == id {
			return c.audit.recs[i]
		}
	}
	t.Fatalf("no audit record of decision %s", id)
	return audit.Record{}
}

func TestDecisionCache(t *testing.T) {
	tests := []struct {
		name string
		// between happens after a first hop (d1, asked Cerbos) and before the second.
		between    func(*cached)
		model      string // of the second hop; "" is the first's
		wantCached bool
		wantEffect string
		wantCode   string
	}{
		{name: "the same hop within the TTL reuses the decision", between: func(*cached) {}, wantCached: true, wantEffect: "allow"},
		{name: "just before the TTL it still does", between: func(c *cached) { c.now = c.now.Add(cacheTTL - time.Nanosecond) }, wantCached: true, wantEffect: "allow"},
		{name: "at the TTL Cerbos is asked again: a policy change applies", between: func(c *cached) {
			c.now, c.effect = c.now.Add(cacheTTL), pdp.EffectDeny
		}, wantEffect: "deny", wantCode: "no_matching_rule"},
		{name: "a revoked task is never served from the cache", between: func(c *cached) {
			c.status, c.effect = tasks.StatusRevoked, pdp.EffectDeny // as the policies answer a revoked task
		}, wantEffect: "deny", wantCode: "no_matching_rule"},
		{name: "another model asks Cerbos", between: func(c *cached) { c.effect = pdp.EffectDeny }, model: "gpt-4o", wantEffect: "deny", wantCode: "no_matching_rule"},
		{name: "while synapse knows Cerbos is down nothing is reused", between: func(c *cached) {
			c.unready, c.pdpErr = errors.New("cerbos does not answer"), errors.New("unavailable")
		}, wantEffect: "deny", wantCode: "pdp_unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCached(t)
			first := c.hop(t, "gpt-4o-mini")
			require.Equal(t, "allow", first.Effect)
			require.False(t, first.Cached)
			require.Equal(t, "cerbos-call-1", first.CerbosCallID)

			c.set(tt.between)
			model := tt.model
			if model == "" {
				model = "gpt-4o-mini"
			}
			second := c.hop(t, model)
			assert.Equal(t, tt.wantEffect, second.Effect)
			assert.Equal(t, tt.wantCode, second.Code)
			assert.Equal(t, "d2", second.DecisionID, "a reused decision is a decision of its own")
			assert.Equal(t, tt.wantCached, second.Cached)
			if tt.wantCached {
				assert.Equal(t, 1.0, counter(t, c.metrics, "synapse_decisions_from_cache_total", nil))
				assert.Equal(t, "d1", second.CachedFrom)
				assert.Empty(t, second.CerbosCallID, "no Cerbos call of its own")
				assert.Equal(t, 1, c.calls)
			} else {
				assert.Empty(t, second.CachedFrom)
				assert.Equal(t, 2, c.calls)
			}
		})
	}
}

// TestDecisionCacheForgetsAnOlderPolicySet: the first decision Cerbos makes under a new policy
// set version empties the cache, and every decision names the version it was made under.
func TestDecisionCacheForgetsAnOlderPolicySet(t *testing.T) {
	c := newCached(t)
	c.set(func(c *cached) { c.version = "sha256:1111111111111111" })
	first := c.hop(t, "gpt-4o-mini")
	assert.Equal(t, "resource.llm.vdefault", first.Policy)
	assert.Equal(t, "sha256:1111111111111111", first.PolicyVersion)
	reused := c.hop(t, "gpt-4o-mini")
	require.True(t, reused.Cached)
	assert.Equal(t, "sha256:1111111111111111", reused.PolicyVersion, "a reused decision names the version that made it")

	c.set(func(c *cached) { c.version, c.effect = "sha256:2222222222222222", pdp.EffectDeny })
	other := c.hop(t, "gpt-4o") // not cached: Cerbos answers under the new version
	assert.Equal(t, "sha256:2222222222222222", other.PolicyVersion)
	again := c.hop(t, "gpt-4o-mini")
	assert.False(t, again.Cached, "what the old policy set decided is not reused under the new one")
	assert.Equal(t, "deny", again.Effect)
	assert.Equal(t, "sha256:2222222222222222", again.PolicyVersion)
	assert.Equal(t, 3, c.calls)
}

// A decision Cerbos did not make (it failed) is never cached, and a failure empties the cache:
// Cerbos may come back with other policies.
func TestDecisionCacheForgetsWhenCerbosFails(t *testing.T) {
	c := newCached(t)
	require.Equal(t, "allow", c.hop(t, "gpt-4o-mini").Effect)
	c.set(func(c *cached) { c.pdpErr = errors.New("unavailable") })
	failed := c.hop(t, "gpt-4o") // not cached yet: asks Cerbos, which fails
	require.Equal(t, "pdp_unavailable", failed.Code)
	c.set(func(c *cached) { c.pdpErr, c.effect = nil, pdp.EffectDeny })

	for _, model := range []string{"gpt-4o-mini", "gpt-4o"} {
		rec := c.hop(t, model)
		assert.False(t, rec.Cached, "%s: asked Cerbos again", model)
		assert.Equal(t, "deny", rec.Effect, model)
	}
	assert.Equal(t, 4, c.calls)
}

// TestIdenticalChecksAskCerbosOnce: checks identical to one that is asking Cerbos wait for its
// answer and reuse it, marked as cached from it; when it gets none (Cerbos failed), each asks
// Cerbos itself, and a check whose client goes while it waits is not decided.
func TestIdenticalChecksAskCerbosOnce(t *testing.T) {
	const followers = 3
	tests := []struct {
		name       string
		pdpErr     error
		cancelled  bool // the followers' clients are gone
		wantCalls  int
		wantCode   string
		wantCached bool
	}{
		{name: "they reuse its answer", wantCalls: 1, wantCached: true},
		{name: "it got no answer: each asks itself", pdpErr: errors.New("unavailable"), wantCalls: 1 + followers, wantCode: "pdp_unavailable"},
		{name: "a client gone while waiting", cancelled: true, wantCalls: 1, wantCode: "client_cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCached(t)
			gate := make(chan struct{})
			c.set(func(c *cached) { c.gate, c.pdpErr = gate, tt.pdpErr })
			leader := make(chan audit.Record, 1)
			go func() { leader <- c.hop(t, "gpt-4o-mini") }()
			require.Eventually(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.calls == 1 }, 5*time.Second, time.Millisecond,
				"the first check asks Cerbos")

			ctx := context.Background()
			if tt.cancelled {
				cancelledCtx, cancel := context.WithCancel(ctx)
				cancel()
				ctx = cancelledCtx
			}
			recs := make(chan audit.Record, followers)
			for range followers {
				go func() { recs <- c.hopIn(t, ctx, "gpt-4o-mini") }()
			}
			// Let the followers reach Cerbos, or the wait for the first check's answer.
			require.Eventually(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.ids == 1+followers }, 5*time.Second, time.Millisecond)
			time.Sleep(50 * time.Millisecond)
			if tt.cancelled {
				for range followers {
					select {
					case rec := <-recs:
						assert.Equal(t, tt.wantCode, rec.Code)
					case <-time.After(5 * time.Second):
						t.Fatal("not decided while the first check still waits for Cerbos")
					}
				}
			}
			if tt.pdpErr != nil {
				// The followers' own calls are held too: all of them must reach Cerbos at
				// once, not one after another behind each other's failures.
				again := make(chan struct{})
				c.set(func(c *cached) { c.gate = again })
				close(gate)
				require.Eventually(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.calls == tt.wantCalls }, 5*time.Second, time.Millisecond)
				close(again)
			} else {
				close(gate)
			}

			first := <-leader
			assert.False(t, first.Cached)
			if !tt.cancelled {
				for range followers {
					rec := <-recs
					assert.Equal(t, tt.wantCached, rec.Cached)
					assert.Equal(t, tt.wantCode, rec.Code)
					if tt.wantCached {
						assert.Equal(t, first.DecisionID, rec.CachedFrom)
						assert.Equal(t, "allow", rec.Effect)
					}
				}
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			assert.Equal(t, tt.wantCalls, c.calls)
		})
	}
}

func TestNewDecisionCacheRefusesNonsense(t *testing.T) {
	for _, tt := range []struct {
		ttl  time.Duration
		size int
	}{{0, 10}, {-time.Second, 10}, {time.Second, 0}, {time.Second, -1}} {
		_, err := authz.NewDecisionCache(tt.ttl, tt.size)
		assert.Error(t, err, "ttl %s size %d", tt.ttl, tt.size)
	}
}

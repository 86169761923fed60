package visibility_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/visibility"
)

// countingPlanner answers every plan always allowed and counts what it was asked.
type countingPlanner struct{ calls atomic.Int32 }

func (p *countingPlanner) Plan(context.Context, pdp.PlanRequest) (pdp.Plan, error) {
	p.calls.Add(1)
	return pdp.PlanAlwaysAllowed, nil
}

func planRequest() pdp.PlanRequest {
	return pdp.PlanRequest{
		RequestID: "dec-1", Principal: pdp.Principal{ID: "triage", Roles: []string{"triage-agent"}, Attr: map[string]any{"task_status": "active"}},
		Kind: "mcp:tickets", Actions: []string{"tools/call/get_ticket"}, Attr: map[string]any{"uri": "kb://policies/refunds"},
		Metadata: pdp.Metadata{DecisionID: "dec-1", AgentID: "triage", TaskID: "task-1"},
	}
}

// TestCachedPlannerReusesOnlyTheSameRequest: a plan is reused for a request that differs only
// in the ids naming its list, and asked again for any change in what Cerbos reads.
func TestCachedPlannerReusesOnlyTheSameRequest(t *testing.T) {
	tests := []struct {
		name   string
		change func(*pdp.PlanRequest)
		reused bool
	}{
		{"another list's ids", func(r *pdp.PlanRequest) { r.RequestID, r.Metadata.DecisionID = "dec-2", "dec-2" }, true},
		{"another principal", func(r *pdp.PlanRequest) { r.Principal.ID = "alice" }, false},
		{"another role", func(r *pdp.PlanRequest) { r.Principal.Roles = []string{"tier-1-support"} }, false},
		{"a principal attribute changed", func(r *pdp.PlanRequest) { r.Principal.Attr = map[string]any{"task_status": "revoked"} }, false},
		{"another server", func(r *pdp.PlanRequest) { r.Kind = "mcp:payments" }, false},
		{"another item", func(r *pdp.PlanRequest) { r.Actions = []string{"tools/call/update_ticket"} }, false},
		{"more items", func(r *pdp.PlanRequest) { r.Actions = append(r.Actions, "tools/call/update_ticket") }, false},
		{"another item attribute", func(r *pdp.PlanRequest) { r.Attr = map[string]any{"uri": "kb://hr/salaries"} }, false},
		{"another task", func(r *pdp.PlanRequest) { r.Metadata.TaskID = "task-2" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &countingPlanner{}
			c, err := visibility.NewCachedPlanner(next, time.Minute, 100)
			require.NoError(t, err)
			_, err = c.Plan(t.Context(), planRequest())
			require.NoError(t, err)
			req := planRequest()
			tt.change(&req)
			plan, err := c.Plan(t.Context(), req)
			require.NoError(t, err)
			assert.Equal(t, pdp.PlanAlwaysAllowed, plan)
			want := int32(2)
			if tt.reused {
				want = 1
			}
			assert.Equal(t, want, next.calls.Load(), "calls to Cerbos")
		})
	}
}

func TestCachedPlannerKeepsNoFailure(t *testing.T) {
	calls := 0
	next := visibility.PlannerFunc(func(context.Context, pdp.PlanRequest) (pdp.Plan, error) {
		calls++
		if calls == 1 {
			return "", errors.New("cerbos: unavailable")
		}
		return pdp.PlanAlwaysDenied, nil
	})
	c, err := visibility.NewCachedPlanner(next, time.Minute, 100)
	require.NoError(t, err)
	_, err = c.Plan(t.Context(), planRequest())
	require.Error(t, err)
	plan, err := c.Plan(t.Context(), planRequest())
	require.NoError(t, err, "a failure is asked again, never reused")
	assert.Equal(t, pdp.PlanAlwaysDenied, plan)
	assert.Equal(t, 2, calls)
}

// TestCachedPlannerForgetsAfterTheTTL: a policy change reaches the lists within the TTL.
func TestCachedPlannerForgetsAfterTheTTL(t *testing.T) {
	next := &countingPlanner{}
	const ttl = 20 * time.Millisecond
	c, err := visibility.NewCachedPlanner(next, ttl, 100)
	require.NoError(t, err)
	_, err = c.Plan(t.Context(), planRequest())
	require.NoError(t, err)
	time.Sleep(3 * ttl)
	_, err = c.Plan(t.Context(), planRequest())
	require.NoError(t, err)
	assert.Equal(t, int32(2), next.calls.Load())
}

func TestNewCachedPlannerRefusesNonsense(t *testing.T) {
	for _, tt := range []struct {
		ttl  time.Duration
		size int
	}{{0, 10}, {-time.Second, 10}, {time.Second, 0}} {
		_, err := visibility.NewCachedPlanner(&countingPlanner{}, tt.ttl, tt.size)
		assert.Error(t, err, "ttl %s size %d", tt.ttl, tt.size)
	}
}

package visibility_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/visibility"
)

var triage = pdp.Principal{ID: "spiffe://hopguard.local/ns/agents/sa/triage", Roles: []string{"triage-agent"}}

func TestVisibleShowsWhatSomeArgumentsAllow(t *testing.T) {
	plans := map[string]pdp.Plan{
		"tools/call/get_ticket":    pdp.PlanAlwaysAllowed,
		"tools/call/update_ticket": pdp.PlanConditional, // only on the task's own ticket
		"tools/call/delete_ticket": pdp.PlanAlwaysDenied,
	}
	planner := visibility.PlannerFunc(func(_ context.Context, req pdp.PlanRequest) (pdp.Plan, error) {
		assert.Equal(t, "mcp:tickets", req.Kind)
		assert.Equal(t, triage, req.Principal)
		assert.Equal(t, "dec-1", req.Metadata.DecisionID)
		return plans[req.Action], nil
	})
	got, err := visibility.Visible(context.Background(), planner, triage, pdp.Metadata{DecisionID: "dec-1"}, "mcp:tickets",
		[]string{"get_ticket", "update_ticket", "delete_ticket"})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"get_ticket": true, "update_ticket": true, "delete_ticket": false}, got)
}

func TestVisibleFailsWhenAnyPlanFails(t *testing.T) {
	planner := visibility.PlannerFunc(func(_ context.Context, req pdp.PlanRequest) (pdp.Plan, error) {
		if req.Action == "tools/call/refund_issue" {
			return "", errors.New("cerbos is unavailable")
		}
		return pdp.PlanAlwaysAllowed, nil
	})
	_, err := visibility.Visible(context.Background(), planner, triage, pdp.Metadata{}, "mcp:payments", []string{"get_charge", "refund_issue"})
	require.ErrorContains(t, err, "cerbos is unavailable", "no list is shown half-planned")
}

func TestVisiblePlansAtMostSoManyTools(t *testing.T) {
	tools := make([]string, 257)
	for i := range tools {
		tools[i] = fmt.Sprintf("tool_%d", i)
	}
	calls := 0
	planner := visibility.PlannerFunc(func(context.Context, pdp.PlanRequest) (pdp.Plan, error) { calls++; return pdp.PlanAlwaysAllowed, nil })
	_, err := visibility.Visible(context.Background(), planner, triage, pdp.Metadata{}, "mcp:crm", tools)
	require.ErrorIs(t, err, visibility.ErrTooManyTools)
	assert.Zero(t, calls, "nothing is asked of Cerbos for a list that long")
}

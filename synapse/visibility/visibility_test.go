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
	got, err := visibility.Visible(context.Background(), planner, triage, pdp.Metadata{DecisionID: "dec-1"}, "mcp:tickets", toolsListing(t),
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
	_, err := visibility.Visible(context.Background(), planner, triage, pdp.Metadata{}, "mcp:payments", toolsListing(t), []string{"get_charge", "refund_issue"})
	require.ErrorContains(t, err, "cerbos is unavailable", "no list is shown half-planned")
}

func TestVisiblePlansAtMostSoManyTools(t *testing.T) {
	tools := make([]string, 257)
	for i := range tools {
		tools[i] = fmt.Sprintf("tool_%d", i)
	}
	calls := 0
	planner := visibility.PlannerFunc(func(context.Context, pdp.PlanRequest) (pdp.Plan, error) { calls++; return pdp.PlanAlwaysAllowed, nil })
	_, err := visibility.Visible(context.Background(), planner, triage, pdp.Metadata{}, "mcp:crm", toolsListing(t), tools)
	require.ErrorIs(t, err, visibility.ErrTooManyItems)
	assert.Zero(t, calls, "nothing is asked of Cerbos for a list that long")
}

func TestVisiblePlansDocumentsAndPromptsWithWhatIsKnown(t *testing.T) {
	tests := []struct {
		method     string
		item       string
		wantAction string
		wantAttr   map[string]any
	}{
		{"tools/list", "search_articles", "tools/call/search_articles", nil},
		{"resources/list", "kb://hr/salaries", "resources/read", map[string]any{"method": "resources/read", "server": "knowledge", "uri": "kb://hr/salaries"}},
		{"prompts/list", "triage_summary", "prompts/get/triage_summary", map[string]any{"method": "prompts/get", "server": "knowledge", "prompt": "triage_summary"}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			listing, ok := visibility.ListingFor(tt.method)
			require.True(t, ok)
			planner := visibility.PlannerFunc(func(_ context.Context, req pdp.PlanRequest) (pdp.Plan, error) {
				assert.Equal(t, tt.wantAction, req.Action)
				assert.Equal(t, tt.wantAttr, req.Attr)
				return pdp.PlanAlwaysDenied, nil
			})
			got, err := visibility.Visible(context.Background(), planner, triage, pdp.Metadata{}, "mcp:knowledge", listing, []string{tt.item})
			require.NoError(t, err)
			assert.Equal(t, map[string]bool{tt.item: false}, got)
		})
	}
	_, ok := visibility.ListingFor("resources/templates/list")
	assert.False(t, ok, "a template names no document: its reads are decided one by one")
}

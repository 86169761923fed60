package pdp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/pdp/cerbostest"
)

func startCerbos(t *testing.T) (*cerbostest.Cerbos, *pdp.Client) {
	t.Helper()
	dir, err := filepath.Abs("testdata/policies")
	require.NoError(t, err)
	c := cerbostest.Start(t, cerbostest.Options{PolicyDir: dir})
	client, err := pdp.Dial(c.GRPCAddr, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	return c, client
}

func invoiceRequest(amount any, actions ...string) pdp.Request {
	return pdp.Request{
		RequestID: "decision-1",
		Principal: pdp.Principal{ID: "alice", Roles: []string{"clerk"}, Attr: map[string]any{"agent_id": "triage"}},
		Resources: []pdp.Resource{{Kind: "invoice", ID: "inv-1", Attr: map[string]any{"amount": amount}, Actions: actions}},
		Metadata:  pdp.Metadata{DecisionID: "decision-1", AgentID: "triage-agent-7", HarnessVersion: "9.9.9", TaskID: "task-42"},
	}
}

func TestClientAgainstCerbos(t *testing.T) {
	cerbos, client := startCerbos(t)
	ctx := context.Background()
	require.NoError(t, client.Ready(ctx))

	t.Run("allow", func(t *testing.T) {
		resp, err := client.Check(ctx, invoiceRequest(50, "read", "pay"))
		require.NoError(t, err)
		assert.Equal(t, "decision-1", resp.RequestID)
		assert.NotEmpty(t, resp.CallID)
		require.Len(t, resp.Results, 1)
		r := resp.Results[0]
		assert.Equal(t, "invoice", r.Kind)
		assert.Equal(t, "inv-1", r.ID)
		assert.Equal(t, map[string]pdp.Effect{"read": pdp.EffectAllow, "pay": pdp.EffectAllow}, r.Actions)
		assert.Empty(t, r.ValidationErrors)
	})

	t.Run("deny with the rule's output", func(t *testing.T) {
		resp, err := client.Check(ctx, invoiceRequest(500, "pay", "delete"))
		require.NoError(t, err)
		r := resp.Results[0]
		assert.Equal(t, map[string]pdp.Effect{"pay": pdp.EffectDeny, "delete": pdp.EffectDeny}, r.Actions)
		require.Len(t, r.Outputs, 1)
		assert.Equal(t, "pay", r.Outputs[0].Action)
		assert.Contains(t, r.Outputs[0].Source, "pay-cap")
		assert.Equal(t, map[string]any{
			"decision": "deny", "code": "cap", "reason": "over 500", "remediation": map[string]any{"type": "ask"},
		}, r.Outputs[0].Value)
	})

	t.Run("schema violation", func(t *testing.T) {
		resp, err := client.Check(ctx, invoiceRequest("lots", "read"))
		require.NoError(t, err)
		r := resp.Results[0]
		assert.Equal(t, pdp.EffectDeny, r.Actions["read"])
		require.NotEmpty(t, r.ValidationErrors)
		assert.Equal(t, "resource", r.ValidationErrors[0].Source)
		assert.Equal(t, "/amount", r.ValidationErrors[0].Path)
		assert.NotEmpty(t, r.ValidationErrors[0].Message)
	})

	t.Run("audit metadata reaches the decision log", func(t *testing.T) {
		log, err := os.ReadFile(cerbos.DecisionLog)
		require.NoError(t, err)
		for _, want := range []string{"x-hopguard-agent-id", "triage-agent-7", "x-hopguard-harness-version", "9.9.9", "x-hopguard-task-id", "task-42", "x-hopguard-decision-id"} {
			assert.Contains(t, string(log), want)
		}
	})

	t.Run("down", func(t *testing.T) {
		cerbos.Stop()
		require.Error(t, client.Ready(ctx))
		_, err := client.Check(ctx, invoiceRequest(1, "read"))
		require.Error(t, err)
		assert.Equal(t, "unavailable", pdp.ErrorReason(err))
	})
}

// TestPlanAgainstCerbos: Cerbos plans read as always allowed for a clerk, pay as allowed under a
// condition (the cap), and delete, which no rule allows, as always denied; several actions
// planned together as pdp.AllOf of their own plans.
func TestPlanAgainstCerbos(t *testing.T) {
	_, client := startCerbos(t)
	ctx := context.Background()
	plan := func(roles []string, actions ...string) (pdp.Plan, error) {
		return client.Plan(ctx, pdp.PlanRequest{RequestID: "plan-1", Kind: "invoice", Actions: actions,
			Principal: pdp.Principal{ID: "alice", Roles: roles, Attr: map[string]any{"agent_id": "triage"}},
			Metadata:  pdp.Metadata{DecisionID: "plan-1"}})
	}
	clerk := []string{"clerk"}
	tests := []struct {
		actions []string
		roles   []string
		want    pdp.Plan
	}{
		{actions: []string{"read"}, roles: clerk, want: pdp.PlanAlwaysAllowed},
		{actions: []string{"pay"}, roles: clerk, want: pdp.PlanConditional},
		{actions: []string{"delete"}, roles: clerk, want: pdp.PlanAlwaysDenied},
		{actions: []string{"read"}, roles: []string{"visitor"}, want: pdp.PlanAlwaysDenied},
		{actions: []string{"read", "pay"}, roles: clerk, want: pdp.PlanConditional},
		{actions: []string{"read", "pay", "delete"}, roles: clerk, want: pdp.PlanAlwaysDenied},
		{actions: []string{"delete", "read"}, roles: clerk, want: pdp.PlanAlwaysDenied},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.actions, "+")+" as "+tt.roles[0], func(t *testing.T) {
			got, err := plan(tt.roles, tt.actions...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			own := make([]pdp.Plan, len(tt.actions))
			for i, action := range tt.actions {
				own[i], err = plan(tt.roles, action)
				require.NoError(t, err)
			}
			assert.Equal(t, pdp.AllOf(own...), got, "Cerbos plans several actions as AllOf of their own plans")
		})
	}

	_, err := client.Plan(ctx, pdp.PlanRequest{Kind: "invoice", Actions: []string{"read"}, Principal: pdp.Principal{ID: "alice", Roles: clerk,
		Attr: map[string]any{"bad": func() {}}}})
	assert.ErrorIs(t, err, pdp.ErrInvalidRequest, "attributes that are no JSON value never reach Cerbos")
	for _, n := range []int{0, pdp.MaxPlanActions + 1} {
		actions := make([]string, n)
		for i := range actions {
			actions[i] = fmt.Sprintf("action-%d", i)
		}
		_, err := plan(clerk, actions...)
		assert.ErrorIs(t, err, pdp.ErrInvalidRequest, "%d actions are refused before Cerbos", n)
	}
	_, err = plan(clerk, "read", "read")
	assert.Error(t, err, "Cerbos refuses an action asked twice")
}

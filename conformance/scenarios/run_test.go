package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/trace"
)

func do(f func(r *Run) error) func(context.Context, *Run) error {
	return func(_ context.Context, r *Run) error { return f(r) }
}

// TestExecuteStopsAtTheFirstFailedStep: problems end up on their step, a fatal problem or a
// panic ends the step, and nothing runs after a failed step.
func TestExecuteStopsAtTheFirstFailedStep(t *testing.T) {
	var ran []string
	s := Scenario{ID: "s", Steps: []Step{
		{Name: "passes", Do: do(func(r *Run) error { ran = append(ran, "passes"); r.c.logf("note %d", 1); return nil })},
		{Name: "two problems", Do: do(func(r *Run) error {
			r.c.errorf("first")
			r.c.equal(2, 3, "the count")
			ran = append(ran, "two problems")
			return nil
		})},
		{Name: "never runs", Do: do(func(*Run) error { ran = append(ran, "never runs"); return nil })},
	}}
	var observed []string
	res := Execute(t.Context(), Env{}, s, Observer{
		Step: func(n int, s Step) { observed = append(observed, "step "+s.Name) },
		Log:  func(s Step, line string) { observed = append(observed, s.Name+": "+line) },
		Done: func(r StepResult) { observed = append(observed, "done "+r.Name) },
	})
	assert.Equal(t, []string{"passes", "two problems"}, ran)
	require.Len(t, res.Steps, 2)
	assert.Equal(t, "01 passes", res.Steps[0].Name)
	assert.Empty(t, res.Steps[0].Problems)
	assert.Equal(t, []string{"note 1"}, res.Steps[0].Log)
	assert.Equal(t, []string{"first", "the count: want 2, got 3"}, res.Steps[1].Problems)
	failed, ok := res.Failed()
	require.True(t, ok)
	assert.Equal(t, "02 two problems", failed.Name)
	assert.False(t, res.Passed())
	assert.Equal(t, []string{"step passes", "passes: note 1", "done 01 passes", "step two problems", "done 02 two problems"}, observed)

	for name, f := range map[string]func(*Run) error{
		"a fatal problem": func(r *Run) error { r.c.fatalf("stop here"); ran = append(ran, "after"); return nil },
		"an error":        func(*Run) error { return errors.New("stop here") },
		"a panic":         func(*Run) error { panic("stop here") },
	} {
		t.Run(name, func(t *testing.T) {
			ran = nil
			res := Execute(t.Context(), Env{}, Scenario{Steps: []Step{{Name: "fails", Do: do(f)}, {Name: "never runs", Do: do(func(*Run) error { ran = append(ran, "never"); return nil })}}}, Observer{})
			require.Len(t, res.Steps, 1)
			require.Len(t, res.Steps[0].Problems, 1)
			assert.Contains(t, res.Steps[0].Problems[0], "stop here")
			assert.Empty(t, ran)
		})
	}

	res = Execute(t.Context(), Env{}, Scenario{Steps: []Step{{Name: "passes", Do: do(func(*Run) error { return nil })}}}, Observer{})
	assert.True(t, res.Passed())
}

// capped is a run of the story's first act as the agent reports it.
func capped() loop.Result {
	return loop.Result{Outcome: loop.Success, Ticket: "T-1001", Steps: 2, Servers: []loop.Server{{Name: "payroll", State: loop.ServerDenied}}, Hops: []trace.Hop{
		{Plane: trace.PlaneMCP, Target: "payroll", Action: "initialize", Decision: trace.Deny, Denial: &denial.Denial{Code: "server_not_allowed"}},
		{Plane: trace.PlaneLLM, Target: "gpt-4o", Action: "completion", Decision: trace.Allow},
		{Plane: trace.PlaneMCP, Target: "payments", Action: "tools/call", Tool: "refund_issue", Decision: trace.Deny,
			Arguments: json.RawMessage(`{"ticket_id":"T-1001","amount_cents":900000}`),
			Denial:    &denial.Denial{Code: "refund_cap_exceeded", Remediation: map[string]any{"type": "step_up"}}},
		{Plane: trace.PlaneMCP, Target: "tickets", Action: "tools/call", Tool: "update_ticket", Decision: trace.Allow,
			Arguments: json.RawMessage(`{"ticket_id":"T-1001","status":"escalated"}`)},
	}}
}

func TestStoryChecks(t *testing.T) {
	story := Story()
	require.Len(t, story.Steps, 3)
	for _, step := range story.Steps {
		assert.Equal(t, Agent, step.Hop.Kind, step.Name)
		assert.NotEmpty(t, step.Title, step.Name)
		assert.NotEmpty(t, step.Intro, step.Name)
	}
	var ids []string
	for _, s := range Suite() {
		ids = append(ids, s.ID)
	}
	assert.Contains(t, ids, story.ID, "the suite plays the story")
	assert.Equal(t, "fail-closed", ids[len(ids)-1], "fail closed stops components: it runs last")

	res := capped()
	assert.NoError(t, refundEscalated(res))
	assert.NoError(t, serverDenied("payroll")(nil, res))

	// The note must be on the ticket the agent works, not on any ticket.
	other := capped()
	other.Hops[3].Arguments = json.RawMessage(`{"ticket_id":"T-9999","status":"escalated"}`)
	assert.ErrorContains(t, refundEscalated(other), "did not write on T-1001")

	notCapped := capped()
	notCapped.Hops[2].Denial = &denial.Denial{Code: "invalid_arguments"}
	assert.ErrorContains(t, refundEscalated(notCapped), "not denied for the cap")

	// payroll's state alone is not a denied handshake.
	listed := capped()
	listed.Hops[0].Action = "tools/list"
	assert.Error(t, serverDenied("payroll")(nil, listed))

	assert.Error(t, deniedAfterRevocation(nil, res), "the hop after the first tool call must be denied task_not_active")
	revoked := loop.Result{Outcome: loop.Denied, Hops: []trace.Hop{
		{Plane: trace.PlaneMCP, Target: "tickets", Action: "tools/call", Tool: "get_ticket", Decision: trace.Allow},
		{Plane: trace.PlaneLLM, Target: "gpt-4o-mini", Action: "completion", Decision: trace.Deny, Denial: &denial.Denial{Code: "task_not_active"}},
	}}
	assert.NoError(t, deniedAfterRevocation(nil, revoked))

	triage := loop.Result{Outcome: loop.Success, Hops: []trace.Hop{
		{Plane: trace.PlaneLLM, Target: "gpt-4o", Decision: trace.Deny},
		{Plane: trace.PlaneLLM, Target: "gpt-4o-mini", Decision: trace.Allow},
	}}
	check := story.Steps[1].Hop.Check
	err := check(nil, triage)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "payments was not denied at the handshake")
	assert.NotContains(t, err.Error(), "gpt-4o")
}

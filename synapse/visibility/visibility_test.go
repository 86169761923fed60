package visibility_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/visibility"
)

var triage = pdp.Principal{ID: "spiffe://hopguard.local/ns/agents/sa/triage", Roles: []string{"triage-agent"}}

// toolCalls are the actions that call the tools named.
func toolCalls(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "tools/call/" + n
	}
	return out
}

// alone is each of toolCalls(names...) in a request of its own.
func alone(names ...string) [][]string {
	out := make([][]string, len(names))
	for i, action := range toolCalls(names...) {
		out[i] = []string{action}
	}
	return out
}

// planner plans each action as plans says (always denied if it says nothing), several together
// as Cerbos does (pdp.AllOf), and records what it was asked.
type planner struct {
	plans map[string]pdp.Plan
	fail  string // an action whose plan fails
	mu    sync.Mutex
	asked [][]string
}

func (p *planner) Plan(_ context.Context, req pdp.PlanRequest) (pdp.Plan, error) {
	p.mu.Lock()
	p.asked = append(p.asked, req.Actions)
	p.mu.Unlock()
	own := make([]pdp.Plan, len(req.Actions))
	for i, action := range req.Actions {
		if action == p.fail {
			return "", errors.New("cerbos is unavailable")
		}
		own[i] = p.plans[action]
		if own[i] == "" {
			own[i] = pdp.PlanAlwaysDenied
		}
	}
	return pdp.AllOf(own...), nil
}

// askedSorted is what was asked, each request's actions and the requests in order.
func (p *planner) askedSorted() [][]string {
	out := slices.Clone(p.asked)
	slices.SortFunc(out, func(a, b []string) int {
		if c := cmp.Compare(len(b), len(a)); c != 0 {
			return c
		}
		return slices.Compare(a, b)
	})
	return out
}

func TestVisibleShowsWhatSomeArgumentsAllow(t *testing.T) {
	p := &planner{plans: map[string]pdp.Plan{
		"tools/call/get_ticket":    pdp.PlanAlwaysAllowed,
		"tools/call/update_ticket": pdp.PlanConditional, // only on the task's own ticket
		"tools/call/delete_ticket": pdp.PlanAlwaysDenied,
	}}
	check := visibility.PlannerFunc(func(ctx context.Context, req pdp.PlanRequest) (pdp.Plan, error) {
		assert.Equal(t, "mcp:tickets", req.Kind)
		assert.Equal(t, triage, req.Principal)
		assert.Equal(t, "dec-1", req.Metadata.DecisionID)
		return p.Plan(ctx, req)
	})
	got, err := visibility.Visible(context.Background(), check, nil, triage, pdp.Metadata{DecisionID: "dec-1"}, "mcp:tickets", toolsListing(t),
		[]string{"get_ticket", "update_ticket", "delete_ticket"})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"get_ticket": true, "update_ticket": true, "delete_ticket": false}, got)
}

// TestVisiblePlansToolsTogether: the tools of a list are planned in one request, and one by one
// only when that request's plan is always denied; a plan holds at most pdp.MaxPlanActions tools.
func TestVisiblePlansToolsTogether(t *testing.T) {
	tools := func(names ...string) []string { return names }
	many := make([]string, 45)
	for i := range many {
		many[i] = fmt.Sprintf("tool_%02d", i)
	}
	allowed := map[string]pdp.Plan{}
	for _, a := range toolCalls(many...) {
		allowed[a] = pdp.PlanConditional
	}
	allowed["tools/call/tool_44"] = pdp.PlanAlwaysDenied

	tests := []struct {
		name      string
		plans     map[string]pdp.Plan
		items     []string
		want      map[string]bool
		wantAsked [][]string
	}{
		{
			name:      "nothing hidden: one plan",
			plans:     map[string]pdp.Plan{"tools/call/a": pdp.PlanAlwaysAllowed, "tools/call/b": pdp.PlanConditional},
			items:     tools("a", "b"),
			want:      map[string]bool{"a": true, "b": true},
			wantAsked: [][]string{toolCalls("a", "b")},
		},
		{
			name:      "one hidden: together, then each",
			plans:     map[string]pdp.Plan{"tools/call/a": pdp.PlanAlwaysAllowed, "tools/call/c": pdp.PlanConditional},
			items:     tools("a", "b", "c"),
			want:      map[string]bool{"a": true, "b": false, "c": true},
			wantAsked: append([][]string{toolCalls("a", "b", "c")}, alone("a", "b", "c")...),
		},
		{
			name:      "one tool, hidden: its plan is asked once",
			items:     tools("a"),
			want:      map[string]bool{"a": false},
			wantAsked: [][]string{toolCalls("a")},
		},
		{
			name:      "a tool listed twice is asked once",
			plans:     map[string]pdp.Plan{"tools/call/a": pdp.PlanAlwaysAllowed},
			items:     tools("a", "a"),
			want:      map[string]bool{"a": true},
			wantAsked: [][]string{toolCalls("a")},
		},
		{
			name:  "more than a plan holds: in groups, each alone only in the group that hides one",
			plans: allowed,
			items: many,
			want: func() map[string]bool {
				m := map[string]bool{}
				for _, n := range many {
					m[n] = n != "tool_44"
				}
				return m
			}(),
			wantAsked: append([][]string{toolCalls(many[:20]...), toolCalls(many[20:40]...), toolCalls(many[40:]...)},
				alone("tool_40", "tool_41", "tool_42", "tool_43", "tool_44")...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &planner{plans: tt.plans}
			got, err := visibility.Visible(context.Background(), p, nil, triage, pdp.Metadata{}, "mcp:tickets", toolsListing(t), tt.items)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantAsked, p.askedSorted())
		})
	}
}

func TestVisibleFailsWhenAnyPlanFails(t *testing.T) {
	tests := []struct {
		name string
		fail string
	}{
		{"the plan of all the tools", "tools/call/get_charge"},
		{"one tool's own plan", "tools/call/refund_issue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &planner{fail: tt.fail, plans: map[string]pdp.Plan{"tools/call/get_charge": pdp.PlanAlwaysAllowed}}
			if tt.fail == "tools/call/refund_issue" {
				p.plans["tools/call/get_charge"] = pdp.PlanAlwaysDenied // so that each is asked alone
			}
			_, err := visibility.Visible(context.Background(), p, nil, triage, pdp.Metadata{}, "mcp:payments", toolsListing(t), []string{"get_charge", "refund_issue"})
			require.ErrorContains(t, err, "cerbos is unavailable", "no list is shown half-planned")
		})
	}
}

func TestVisiblePlansAtMostSoManyTools(t *testing.T) {
	tools := make([]string, 257)
	for i := range tools {
		tools[i] = fmt.Sprintf("tool_%d", i)
	}
	p := &planner{}
	_, err := visibility.Visible(context.Background(), p, nil, triage, pdp.Metadata{}, "mcp:crm", toolsListing(t), tools)
	require.ErrorIs(t, err, visibility.ErrTooManyItems)
	assert.Empty(t, p.asked, "nothing is asked of Cerbos for a list that long")
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
				assert.Equal(t, []string{tt.wantAction}, req.Actions)
				assert.Equal(t, tt.wantAttr, req.Attr)
				return pdp.PlanAlwaysDenied, nil
			})
			got, err := visibility.Visible(context.Background(), planner, nil, triage, pdp.Metadata{}, "mcp:knowledge", listing, []string{tt.item})
			require.NoError(t, err)
			assert.Equal(t, map[string]bool{tt.item: false}, got)
		})
	}
	_, ok := visibility.ListingFor("resources/templates/list")
	assert.False(t, ok, "a template names no document: its reads are decided one by one")
}

// TestVisiblePlansEachDocumentAlone: documents and prompts are resources of their own (a URI, a
// prompt's name), so no plan asks about two of them.
func TestVisiblePlansEachDocumentAlone(t *testing.T) {
	for _, method := range []string{"resources/list", "prompts/list"} {
		t.Run(method, func(t *testing.T) {
			listing, ok := visibility.ListingFor(method)
			require.True(t, ok)
			p := &planner{}
			_, err := visibility.Visible(context.Background(), p, nil, triage, pdp.Metadata{}, "mcp:knowledge", listing, []string{"one", "two"})
			require.NoError(t, err)
			require.Len(t, p.asked, 2)
			for _, actions := range p.asked {
				assert.Len(t, actions, 1)
			}
		})
	}
}

// TestVisibleTakesHintsFromTheLastList: the tools a principal's last list of a server hid are
// planned alone the next time, the rest together; a hint that no longer holds costs plans, never
// a wrong answer, and another principal's list takes none of it.
func TestVisibleTakesHintsFromTheLastList(t *testing.T) {
	hideUpdate := map[string]pdp.Plan{"tools/call/get_ticket": pdp.PlanAlwaysAllowed, "tools/call/add_comment": pdp.PlanConditional}
	hideNothing := map[string]pdp.Plan{"tools/call/get_ticket": pdp.PlanAlwaysAllowed, "tools/call/add_comment": pdp.PlanConditional, "tools/call/update_ticket": pdp.PlanConditional}
	hideGet := map[string]pdp.Plan{"tools/call/add_comment": pdp.PlanConditional, "tools/call/update_ticket": pdp.PlanConditional}
	tools := []string{"add_comment", "get_ticket", "update_ticket"}
	shownBut := func(hidden string) map[string]bool {
		m := map[string]bool{}
		for _, tool := range tools {
			m[tool] = tool != hidden
		}
		return m
	}
	alice := pdp.Principal{ID: "alice", Roles: []string{"tier-1-support"}}

	hints, err := visibility.NewHints(16)
	require.NoError(t, err)
	steps := []struct {
		name      string
		principal pdp.Principal
		plans     map[string]pdp.Plan
		want      map[string]bool
		wantAsked [][]string
	}{
		{"no hint yet: together, then each", triage, hideUpdate,
			shownBut("update_ticket"),
			append([][]string{toolCalls(tools...)}, alone(tools...)...)},
		{"the hidden tool alone, the rest together", triage, hideUpdate,
			shownBut("update_ticket"),
			[][]string{toolCalls("add_comment", "get_ticket"), toolCalls("update_ticket")}},
		{"another principal takes no hint", alice, hideNothing,
			shownBut(""),
			[][]string{toolCalls(tools...)}},
		{"a hint that no longer holds: each of the rest alone", triage, hideGet,
			shownBut("get_ticket"),
			append([][]string{toolCalls("add_comment", "get_ticket")}, alone("add_comment", "get_ticket", "update_ticket")...)},
		{"and the new hint is taken", triage, hideGet,
			shownBut("get_ticket"),
			[][]string{toolCalls("add_comment", "update_ticket"), toolCalls("get_ticket")}},
		{"nothing hidden forgets the hint", triage, hideNothing,
			shownBut(""),
			[][]string{toolCalls("add_comment", "update_ticket"), toolCalls("get_ticket")}},
		{"so the next list is planned together", triage, hideNothing,
			shownBut(""),
			[][]string{toolCalls(tools...)}},
	}
	for _, step := range steps {
		p := &planner{plans: step.plans}
		got, err := visibility.Visible(context.Background(), p, hints, step.principal, pdp.Metadata{}, "mcp:tickets", toolsListing(t), tools)
		require.NoError(t, err, step.name)
		assert.Equal(t, step.want, got, step.name)
		assert.Equal(t, step.wantAsked, p.askedSorted(), step.name)
	}
}

// TestHintsAreBounded: a list that hid more tools than a plan holds leaves no hint.
func TestHintsAreBounded(t *testing.T) {
	_, err := visibility.NewHints(0)
	require.Error(t, err)

	hints, err := visibility.NewHints(1)
	require.NoError(t, err)
	many := make([]string, pdp.MaxPlanActions+1)
	for i := range many {
		many[i] = fmt.Sprintf("tool_%02d", i)
	}
	for range 2 {
		p := &planner{} // every tool hidden
		_, err := visibility.Visible(context.Background(), p, hints, triage, pdp.Metadata{}, "mcp:tickets", toolsListing(t), many)
		require.NoError(t, err)
		assert.Len(t, p.askedSorted()[0], pdp.MaxPlanActions, "each time planned together first: no hint kept")
	}
}

package metrics_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/metrics"
)

func TestObserveDecision(t *testing.T) {
	m := metrics.New()
	m.ObserveDecision(metrics.Decision{
		Effect: "deny", Code: "refund_cap_exceeded", Latency: 3 * time.Millisecond,
		Checks: []metrics.Check{{Kind: "mcp:payments", Actions: []string{"tools/call/refund_issue"}}},
	})
	m.ObserveDecision(metrics.Decision{
		Effect: "allow", Latency: time.Millisecond,
		Checks: []metrics.Check{{Kind: "llm", Actions: []string{"completion"}}},
	})
	m.ObserveDecision(metrics.Decision{Effect: "deny", Code: "pdp_unavailable", Failure: "pdp"})
	m.PDPError("timeout")

	expected := `
# HELP synapse_checks_total Actions decided, by effect, resource kind and action.
# TYPE synapse_checks_total counter
synapse_checks_total{action="completion",effect="allow",kind="llm"} 1
synapse_checks_total{action="tools/call/refund_issue",effect="deny",kind="mcp:payments"} 1
# HELP synapse_denials_total Denied Checks by denial code; failure is empty when a policy decided, else what failed.
# TYPE synapse_denials_total counter
synapse_denials_total{code="pdp_unavailable",failure="pdp"} 1
synapse_denials_total{code="refund_cap_exceeded",failure=""} 1
# HELP synapse_cerbos_errors_total Cerbos calls that returned no decision, by reason (timeout, unavailable, ...).
# TYPE synapse_cerbos_errors_total counter
synapse_cerbos_errors_total{reason="timeout"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected),
		"synapse_checks_total", "synapse_denials_total", "synapse_cerbos_errors_total"))
	assert.Equal(t, 2, testutil.CollectAndCount(m.Registry(), "synapse_check_duration_seconds"), "one series per effect")

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), "synapse_check_duration_seconds_bucket")
	assert.Contains(t, string(body), "go_goroutines")
}

func TestActionLabelsAreBounded(t *testing.T) {
	m := metrics.New()
	for i := range 1000 {
		m.ObserveDecision(metrics.Decision{Effect: "deny", Code: "no_matching_rule",
			Checks: []metrics.Check{{Kind: "mcp:crm", Actions: []string{fmt.Sprintf("tools/call/made_up_%d", i)}}}})
	}
	n := testutil.CollectAndCount(m.Registry(), "synapse_checks_total")
	assert.LessOrEqual(t, n, 201, "at most the bound plus the overflow series")
	assert.Equal(t, 800.0, counterValue(t, m, "synapse_checks_total", map[string]string{"effect": "deny", "kind": "mcp:crm", "action": metrics.OtherLabel}))
}

func counterValue(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return metric.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s with labels %v", name, labels)
	return 0
}

func TestPolicyVersionKeepsOneSeries(t *testing.T) {
	m := metrics.New()
	m.PolicyVersion("sha256:1111111111111111")
	m.PolicyVersion("")
	m.PolicyVersion("sha256:2222222222222222")
	m.PolicyVersion("sha256:2222222222222222")
	expected := `
# HELP synapse_policy_version_info 1 for the version of the policy set Cerbos last decided under (policies/provenance): it changes with every policy change that took effect.
# TYPE synapse_policy_version_info gauge
synapse_policy_version_info{version="sha256:2222222222222222"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected), "synapse_policy_version_info"),
		"only the version in force; a decision no policy made changes nothing")
}

func TestLists(t *testing.T) {
	m := metrics.New()
	m.List("tools/list", metrics.ListFiltered, 1)
	m.List("tools/list", metrics.ListFiltered, 0)
	m.List("resources/list", metrics.ListFiltered, 2)
	m.List("prompts/list", metrics.ListWithheld, 0)
	expected := `
# HELP synapse_list_items_hidden_total Tools, documents and prompts taken out of list answers because the principal may never use them, by list.
# TYPE synapse_list_items_hidden_total counter
synapse_list_items_hidden_total{list="resources/list"} 2
synapse_list_items_hidden_total{list="tools/list"} 1
# HELP synapse_lists_total tools/list, resources/list and prompts/list answers on the response path, by list and outcome: filtered (sent on with what the principal may not use taken out) or withheld (synapse could not decide: fail closed).
# TYPE synapse_lists_total counter
synapse_lists_total{list="prompts/list",outcome="withheld"} 1
synapse_lists_total{list="resources/list",outcome="filtered"} 1
synapse_lists_total{list="tools/list",outcome="filtered"} 2
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected), "synapse_lists_total", "synapse_list_items_hidden_total"))
}

func TestGrantRefused(t *testing.T) {
	m := metrics.New()
	m.GrantRefused(metrics.GrantForged)
	m.GrantRefused(metrics.GrantForged)
	m.GrantRefused(metrics.GrantMissing)
	expected := `
# HELP synapse_list_grants_refused_total List answers withheld on the response path because the request carried no grant synapse could use, by reason: missing, malformed, too_large, forged (not sealed with this replica's key: replicas with different keys, or altered), mismatched (another request's), expired.
# TYPE synapse_list_grants_refused_total counter
synapse_list_grants_refused_total{reason="forged"} 2
synapse_list_grants_refused_total{reason="missing"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected), "synapse_list_grants_refused_total"))
}

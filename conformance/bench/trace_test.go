package bench

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The agent trace holds the demo's audit log's proportions (trace.go's comment says which).
func TestAgentTraceHasTheStorysProportions(t *testing.T) {
	mix, err := AgentMix()
	require.NoError(t, err)
	require.Len(t, mix.Hops, 44, "the demo's audit log has 44 decisions")
	counts := map[string]int{}
	for _, h := range mix.Hops {
		counts[h.Kind]++
	}
	assert.Equal(t, map[string]int{
		KindCompletion: 10, KindCompletionDenied: 2,
		KindInitialize: 7, KindInitializeDenied: 10,
		KindToolsList: 7, KindToolCall: 7, KindRefundDenied: 1,
	}, counts)
	assert.Equal(t, []string{KindInitialize, KindToolsList, KindInitializeDenied, KindCompletion, KindToolCall, KindRefundDenied, KindCompletionDenied}, Kinds(mix.Hops))
}

func TestAgentTraceKeepsEachPrincipalsOrder(t *testing.T) {
	mix, err := AgentMix()
	require.NoError(t, err)
	byCaller := map[string][]string{}
	for _, h := range mix.Hops {
		byCaller[h.Caller] = append(byCaller[h.Caller], h.Kind)
	}
	for _, tc := range []struct {
		caller string
		first  []string
		last   string
		n      int
	}{
		{traceAlice, []string{KindInitialize, KindToolsList}, KindCompletion, 17},
		{traceTriage, []string{KindInitialize, KindToolsList}, KindCompletion, 16},
		{traceKill, []string{KindInitialize, KindToolsList}, KindToolCall, 10},
		{traceRevoked, []string{KindCompletionDenied}, KindCompletionDenied, 1},
	} {
		kinds := byCaller[tc.caller]
		require.Len(t, kinds, tc.n, tc.caller)
		assert.Equal(t, tc.first, kinds[:len(tc.first)], tc.caller)
		assert.Equal(t, tc.last, kinds[len(kinds)-1], tc.caller)
	}
	// Every hop's caller is one of the mix's principals, and exactly one of them is revoked.
	names, revoked := map[string]bool{}, 0
	for _, p := range mix.Principals {
		names[p.Name] = true
		if p.Revoked {
			revoked++
		}
	}
	for _, h := range mix.Hops {
		assert.True(t, names[h.Caller], h.Caller)
	}
	assert.Equal(t, 1, revoked)
}

func TestAgentTraceHopsAreWhatTheAgentSends(t *testing.T) {
	mix, err := AgentMix()
	require.NoError(t, err)
	for _, tc := range []struct {
		name      string
		hop       Hop
		resource  string
		method    string
		inSession bool
		allowed   bool
		status    int
	}{
		{"alice's first hop: the tickets handshake", mix.Hops[0], "mcp:tickets", "initialize", false, true, http.StatusOK},
		{"alice's tools/list on tickets", mix.Hops[1], "mcp:tickets", "tools/list", true, true, http.StatusOK},
		{"payroll's handshake denied to alice", mix.Hops[6], "mcp:payroll", "initialize", false, false, http.StatusOK},
		{"the $9,000 refund", mix.Hops[13], "mcp:payments", "tools/call", true, false, http.StatusOK},
		{"gpt-4o denied to triage", mix.Hops[25], "llm", "", false, false, http.StatusForbidden},
		{"the completion after the revocation", mix.Hops[43], "llm", "", false, false, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.hop
			assert.Equal(t, tc.resource, h.Resource)
			assert.Equal(t, tc.inSession, h.InSession)
			assert.Equal(t, tc.allowed, h.Allowed)
			assert.Equal(t, tc.status, h.GovernedStatus())
			var body map[string]any
			require.NoError(t, json.Unmarshal([]byte(h.Body), &body), "the body is JSON")
			if tc.method != "" {
				assert.Equal(t, tc.method, body["method"])
				assert.Equal(t, "/mcp/"+h.Server, h.Path)
			} else {
				assert.Equal(t, "/v1/chat/completions", h.Path)
			}
		})
	}
	assert.Contains(t, mix.Hops[25].Body, `"model":"gpt-4o"`)
	assert.Contains(t, mix.Hops[26].Body, `"model":"gpt-4o-mini"`)
}

func TestTraceHopsRefusesMalformedSteps(t *testing.T) {
	principals := []Principal{{Name: "p", Ticket: "T-1"}}
	for _, tc := range []struct {
		name string
		step traceStep
		want string
	}{
		{"an unknown caller", traceStep{"q", "completion", "gpt-4o", "", "", allow}, `unknown caller "q"`},
		{"an unknown step", traceStep{"p", "resources/list", "tickets", "", "", allow}, `unknown step "resources/list"`},
		{"a denied tools/list", traceStep{"p", "tools/list", "tickets", "", "", deny}, "no denied one"},
		{"a tool call without arguments", traceStep{"p", "tools/call", "tickets", "get_ticket", "", allow}, "with its arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := traceHops([]traceStep{tc.step}, principals)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	hops, err := traceHops([]traceStep{
		{"p", "completion", "gpt-4o", "", "", allow},
		{"p", "completion", "gpt-4o", "", "", allow},
	}, principals)
	require.NoError(t, err)
	assert.Contains(t, hops[0].Body, "turn 1")
	assert.Contains(t, hops[1].Body, "turn 2", "each completion is the caller's next turn")
}

func TestMixByName(t *testing.T) {
	for _, name := range MixNames() {
		m, err := MixByName(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, m.Name)
		assert.NotEmpty(t, m.Hops)
		assert.NotEmpty(t, m.Principals)
	}
	_, err := MixByName("bursty")
	assert.ErrorContains(t, err, "unknown mix")
}

func TestCacheSettings(t *testing.T) {
	on, err := CacheSettingByName(CacheOn)
	require.NoError(t, err)
	assert.Positive(t, on.TTL)
	off, err := CacheSettingByName(CacheOff)
	require.NoError(t, err)
	assert.Equal(t, []string{"SYNAPSE_DECISION_CACHE_TTL=0s"}, off.env(), "explicit, so the benchmark's own environment cannot leak in")
	_, err = CacheSettingByName("maybe")
	assert.Error(t, err)
}

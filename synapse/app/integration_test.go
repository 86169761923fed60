package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/policies/provenance"
	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/pdp/cerbostest"
	"github.com/hopguard/hopguard/synapse/tasks"
)

const triageID = "spiffe://hopguard.local/ns/agents/sa/triage"

// people of the demo (CONTRACTS.md), each run by one agent on one task.
type person struct {
	sub, role, agent, task, ticket string
}

var (
	alice  = person{"alice", "tier-1-support", "support-agent", "task-alice", "T-1001"}
	bob    = person{"bob", "tier-2-lead", "support-agent", "task-bob", "T-1001"}
	carol  = person{"carol", "payroll-admin", "payroll-agent", "task-carol", "T-2001"}
	triage = person{triageID, "triage-agent", "triage", "task-triage", "T-2001"}
)

// demo is Cerbos with the shipped policies, a token issuer, and synapse.
type demo struct {
	cerbos *cerbostest.Cerbos
	iss    *identitytest.Issuer
	syn    *synapse
}

func startDemo(t *testing.T) *demo {
	t.Helper()
	cerbos := cerbostest.Start(t, cerbostest.Options{})
	iss := identitytest.NewIssuer(t)
	syn := startSynapse(t, testConfig(t, cerbos.GRPCAddr, iss.JWKSURL()))
	for _, p := range []person{alice, bob, carol, triage} {
		_, err := syn.admin.Create(context.Background(), tasks.NewTask{ID: p.task, Principal: p.sub, AgentID: p.agent, TicketID: p.ticket})
		require.NoError(t, err)
	}
	return &demo{cerbos: cerbos, iss: iss, syn: syn}
}

func (d *demo) token(t *testing.T, p person, audience string) string {
	t.Helper()
	return d.iss.Mint(t, identitytest.Token{
		Subject: p.sub, Audience: audience, Roles: []string{p.role},
		AgentID: p.agent, HarnessVersion: "test-1", TaskID: p.task,
	})
}

type expect struct {
	allow      bool
	code       string
	reason     string         // substring
	remedy     map[string]any // subset of remediation
	httpStatus int
}

var istio = checktest.Gateway{Name: "istio", Build: checktest.Istio}

// TestScenarios decides every scenario of docs/ARCHITECTURE.md ("Conformance") at
// synapse level, with the real Cerbos and the shipped policies, for each
// gateway's CheckRequest shape.
func TestScenarios(t *testing.T) {
	d := startDemo(t)
	refund := func(ticket string, cents any) string {
		return checktest.ToolCallBody(t, 7, "refund_issue", map[string]any{"ticket_id": ticket, "amount_cents": cents, "currency": "USD"})
	}
	tok := func(p person, aud string) func() string { return func() string { return d.token(t, p, aud) } }
	const pay, payroll, llm = "/mcp/payments", "/mcp/payroll", "/v1/chat/completions"

	tests := []struct {
		name     string
		resource string
		method   string
		path     string
		token    func() string
		body     string
		want     expect
	}{
		// 1. The refund cap joins identity (tier-1) and tool arguments (amount).
		{"1 tier-1 refund of $9,000 is over the cap", "mcp:payments", "POST", pay, tok(alice, "mcp:payments"), refund("T-1001", 900000),
			expect{code: "refund_cap_exceeded", reason: "tier-1-support refund cap exceeded", remedy: map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"}, httpStatus: 200}},
		{"1 tier-1 refund of $40 on the same ticket", "mcp:payments", "POST", pay, tok(alice, "mcp:payments"), refund("T-1001", 4000), expect{allow: true}},
		{"1 tier-2 refund of $9,000", "mcp:payments", "POST", pay, tok(bob, "mcp:payments"), refund("T-1001", 900000), expect{allow: true}},

		// 2. Payroll opens to payroll-admin only; the triage agent never reaches payments.
		{"2 payroll initialize by tier-1", "mcp:payroll", "POST", payroll, tok(alice, "mcp:payroll"), checktest.InitializeBody,
			expect{code: "server_not_allowed", reason: "payroll requires payroll-admin", httpStatus: 200}},
		{"2 payroll server/discover by tier-2", "mcp:payroll", "POST", payroll, tok(bob, "mcp:payroll"),
			`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{}}`, expect{code: "server_not_allowed", httpStatus: 200}},
		{"2 payroll initialize by the triage agent", "mcp:payroll", "POST", payroll, tok(triage, "mcp:payroll"), checktest.InitializeBody,
			expect{code: "server_not_allowed", httpStatus: 200}},
		{"2 payroll initialize by payroll-admin", "mcp:payroll", "POST", payroll, tok(carol, "mcp:payroll"), checktest.InitializeBody, expect{allow: true}},
		{"2 payments initialize by the triage agent", "mcp:payments", "POST", pay, tok(triage, "mcp:payments"), checktest.InitializeBody,
			expect{code: "server_not_allowed", reason: "payments is not available to the triage agent", httpStatus: 200}},
		{"2 tickets tools/list by the triage agent", "mcp:tickets", "POST", "/mcp/tickets", tok(triage, "mcp:tickets"),
			`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, expect{allow: true}},

		// 3. Model pinning.
		{"3 triage agent asks for gpt-4o", "llm", "POST", llm, tok(triage, "llm"), checktest.ChatBody("gpt-4o"),
			expect{code: "model_not_allowed", remedy: map[string]any{"type": "use_allowed_model"}, httpStatus: 403}},
		{"3 triage agent asks for gpt-4o-mini", "llm", "POST", llm, tok(triage, "llm"), checktest.ChatBody("gpt-4o-mini"), expect{allow: true}},
		{"3 tier-1 asks for gpt-4o", "llm", "POST", llm, tok(alice, "llm"), checktest.ChatBody("gpt-4o"), expect{allow: true}},
		{"3 tier-2 asks for gpt-4o-mini", "llm", "POST", llm, tok(bob, "llm"), checktest.ChatBody("gpt-4o-mini"), expect{allow: true}},
		{"3 an unknown model", "llm", "POST", llm, tok(alice, "llm"), checktest.ChatBody("gpt-5-ultra"), expect{code: "model_not_allowed", httpStatus: 403}},

		// 5. Cross-ticket refund, replayed, expired and missing tokens.
		{"5 refund on another ticket than the task's", "mcp:payments", "POST", pay, tok(alice, "mcp:payments"), refund("T-1002", 4000),
			expect{code: "cross_ticket", reason: "T-1001", httpStatus: 200}},
		{"5 payments token replayed on crm", "mcp:crm", "POST", "/mcp/crm", tok(alice, "mcp:payments"), checktest.InitializeBody,
			expect{code: "invalid_token", reason: "does not match route resource", httpStatus: 200}},
		{"5 llm token replayed on payments", "mcp:payments", "POST", pay, tok(alice, "llm"), refund("T-1001", 4000),
			expect{code: "invalid_token", httpStatus: 200}},
		{"5 expired token", "llm", "POST", llm, func() string {
			past := time.Now().Add(-time.Hour)
			return d.iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm", Roles: []string{"tier-1-support"},
				AgentID: alice.agent, TaskID: alice.task, IssuedAt: past, NotBefore: past, Expiry: past.Add(5 * time.Minute)})
		}, checktest.ChatBody("gpt-4o"), expect{code: "invalid_token", reason: "expired", httpStatus: 403}},
		{"5 no token", "mcp:payments", "POST", pay, func() string { return "" }, refund("T-1001", 4000),
			expect{code: "unauthenticated", httpStatus: 200}},

		// Beyond the list: arguments the schema rejects, tools no one granted,
		// and a token that names someone else's task.
		{"a refund amount that is a string", "mcp:payments", "POST", pay, tok(alice, "mcp:payments"), refund("T-1001", "9000"),
			expect{code: "invalid_arguments", reason: "amount_cents", httpStatus: 200}},
		{"a tool no rule names", "mcp:tickets", "POST", "/mcp/tickets", tok(alice, "mcp:tickets"),
			checktest.ToolCallBody(t, 9, "delete_everything", map[string]any{"ticket_id": "T-1001"}),
			expect{code: "no_matching_rule", reason: "no rule allows tools/call/delete_everything on mcp:tickets", httpStatus: 200}},
		{"a token naming another principal's task", "llm", "POST", llm, func() string {
			return d.iss.Mint(t, identitytest.Token{Subject: "bob", Audience: "llm", Roles: []string{"tier-2-lead"}, AgentID: alice.agent, TaskID: alice.task})
		}, checktest.ChatBody("gpt-4o"), expect{code: "task_not_active", httpStatus: 403}},
	}
	for _, gw := range append(checktest.Gateways, istio) {
		for _, tt := range tests {
			t.Run(gw.Name+"/"+tt.name, func(t *testing.T) {
				resp := d.syn.check(t, gw.Build(tt.resource, tt.method, tt.path, tt.token(), tt.body))
				id := decisionID(resp)
				require.NotEmpty(t, id)
				rec := d.syn.auditRecord(t, id)
				if tt.want.allow {
					require.Equal(t, int32(codes.OK), resp.GetStatus().GetCode(), "denied: %s", resp.GetDeniedResponse().GetBody())
					assert.Equal(t, "allow", rec.Effect)
					assertCerbosDecided(t, d.syn, rec)
					return
				}
				denied := resp.GetDeniedResponse()
				require.NotNil(t, denied, "allowed")
				assert.EqualValues(t, tt.want.httpStatus, denied.GetStatus().GetCode())
				assert.Equal(t, "deny", headerValue(denied.GetHeaders(), "x-hopguard-decision"))
				out := deniedOutput(t, resp)
				assert.Equal(t, "deny", out["decision"])
				assert.Equal(t, tt.want.code, out["code"], "reason: %v", out["reason"])
				assert.Contains(t, out["reason"], tt.want.reason)
				if tt.want.remedy != nil {
					rem, _ := out["remediation"].(map[string]any)
					for k, v := range tt.want.remedy {
						assert.Equal(t, v, rem[k], "remediation %s", k)
					}
				}
				assert.Equal(t, "deny", rec.Effect)
				assert.Equal(t, tt.want.code, rec.Code)
			})
		}
	}
}

// 4. A revoked task denies the very next hop, model or tool.
func TestRevocationHoldsFromTheNextCheck(t *testing.T) {
	d := startDemo(t)
	ctx := context.Background()
	worker := person{"alice", "tier-1-support", "support-agent", "task-revocable", "T-1002"}
	_, err := d.syn.admin.Create(ctx, tasks.NewTask{ID: worker.task, Principal: worker.sub, AgentID: worker.agent, TicketID: worker.ticket})
	require.NoError(t, err)

	llmCall := func() *authv3.CheckResponse {
		return d.syn.check(t, checktest.Envoy("llm", "POST", "/v1/chat/completions", d.token(t, worker, "llm"), checktest.ChatBody("gpt-4o")))
	}
	toolCall := func() *authv3.CheckResponse {
		return d.syn.check(t, checktest.Agentgateway("mcp:payments", "POST", "/mcp/payments", d.token(t, worker, "mcp:payments"),
			checktest.ToolCallBody(t, 3, "refund_issue", map[string]any{"ticket_id": "T-1002", "amount_cents": 4000})))
	}
	// Twice each: the second is answered from the decision cache, which must not outlive the
	// revocation.
	for range 2 {
		require.Equal(t, int32(codes.OK), llmCall().GetStatus().GetCode())
		require.Equal(t, int32(codes.OK), toolCall().GetStatus().GetCode())
	}
	assert.True(t, d.syn.auditRecord(t, decisionID(llmCall())).Cached, "the decision cache is on")

	revoked, err := d.syn.admin.Revoke(ctx, worker.task)
	require.NoError(t, err)
	require.Equal(t, tasks.StatusRevoked, revoked.Status)

	for name, call := range map[string]func() *authv3.CheckResponse{"model": llmCall, "tool": toolCall} {
		resp := call()
		require.NotNil(t, resp.GetDeniedResponse(), "%s hop allowed after revocation", name)
		out := deniedOutput(t, resp)
		assert.Equal(t, "task_not_active", out["code"], name)
		assert.Contains(t, out["reason"], "task-revocable is revoked", name)
		rec := d.syn.auditRecord(t, decisionID(resp))
		assert.Equal(t, "revoked", rec.TaskStatus)
	}
}

// 6. Cerbos down: denied with 503, fail closed, and /readyz says so.
func TestCerbosDownFailsClosed(t *testing.T) {
	d := startDemo(t)
	code, _ := d.syn.get(t, "/readyz")
	require.Equal(t, 200, code, "ready while Cerbos answers")
	// Cached before Cerbos goes: once synapse knows Cerbos is gone, nothing is reused.
	before := d.syn.check(t, checktest.Envoy("llm", "POST", "/v1/chat/completions", d.token(t, alice, "llm"), checktest.ChatBody("gpt-4o")))
	require.Equal(t, int32(codes.OK), before.GetStatus().GetCode())

	d.cerbos.Stop()
	require.Eventually(t, func() bool {
		code, _ := d.syn.get(t, "/readyz")
		return code == 503
	}, 10*time.Second, 50*time.Millisecond, "/readyz notices Cerbos is gone")
	for _, gw := range append(checktest.Gateways, istio) {
		resp := d.syn.check(t, gw.Build("llm", "POST", "/v1/chat/completions", d.token(t, alice, "llm"), checktest.ChatBody("gpt-4o")))
		denied := resp.GetDeniedResponse()
		require.NotNil(t, denied, gw.Name)
		assert.EqualValues(t, 503, denied.GetStatus().GetCode(), gw.Name)
		assert.Equal(t, "false", headerValue(denied.GetHeaders(), "x-should-retry"), gw.Name)
		out := deniedOutput(t, resp)
		assert.Equal(t, "pdp_unavailable", out["code"], gw.Name)
		assert.Contains(t, out["reason"], "policy decision point is unavailable", gw.Name)
		assert.Equal(t, "pdp", d.syn.auditRecord(t, decisionID(resp)).Failure)
	}
	_, metrics := d.syn.get(t, "/metrics")
	assert.Contains(t, metrics, `synapse_cerbos_errors_total{reason="unavailable"}`)
	assert.Contains(t, metrics, `synapse_denials_total{code="pdp_unavailable",failure="pdp"}`)
}

// Cerbos's own decision log keeps synapse's decision id and the audit
// metadata (includeMetadataKeys in policies/cerbos.yaml).
func TestCerbosDecisionLogCarriesAuditMetadata(t *testing.T) {
	d := startDemo(t)
	resp := d.syn.check(t, checktest.Envoy("mcp:payments", "POST", "/mcp/payments", d.token(t, alice, "mcp:payments"),
		checktest.ToolCallBody(t, 7, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": 900000})))
	id := decisionID(resp)
	rec := d.syn.auditRecord(t, id)
	require.NotEmpty(t, rec.CerbosCallID)
	assert.Equal(t, "T-1001", rec.Ticket)
	assert.Equal(t, "support-agent", rec.AgentID)
	assert.Equal(t, "test-1", rec.HarnessVersion)

	var log string
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(d.cerbos.DecisionLog)
		log = string(b)
		return err == nil && strings.Contains(log, rec.CerbosCallID)
	}, 10*time.Second, 50*time.Millisecond, "Cerbos logged the call")
	for _, want := range []string{id, "x-hopguard-task-id", alice.task, "x-hopguard-agent-id", alice.agent, "x-hopguard-harness-version"} {
		assert.Contains(t, log, want)
	}
}

// assertCerbosDecided checks that rec was decided by Cerbos: by a call of its own, or by reusing,
// from the decision cache, a decision that made one.
func assertCerbosDecided(t *testing.T, syn *synapse, rec audit.Record) {
	t.Helper()
	if !rec.Cached {
		assert.NotEmpty(t, rec.CerbosCallID, "a decision that is not cached names its Cerbos call")
		assert.Empty(t, rec.CachedFrom)
		return
	}
	assert.Empty(t, rec.CerbosCallID, "a cached decision makes no Cerbos call")
	require.NotEmpty(t, rec.CachedFrom, "a cached decision names the decision it reuses")
	from := syn.auditRecord(t, rec.CachedFrom)
	assert.NotEmpty(t, from.CerbosCallID, "the reused decision %s asked Cerbos", rec.CachedFrom)
	assert.Equal(t, from.Effect, rec.Effect)
	assert.Equal(t, from.Code, rec.Code)
}

// TestDecisionCacheReusesOnlyTheSameRequest sends pairs of checks to a synapse with its decision
// cache on (the default): the second of a pair reuses the first's decision only when every input
// to Cerbos is the same. A request that differs from a cached one in a single input (another
// principal, other arguments, another model, another tool, another server) asks Cerbos again.
func TestDecisionCacheReusesOnlyTheSameRequest(t *testing.T) {
	d := startDemo(t)
	refund := func(p person, cents int) *authv3.CheckRequest {
		return checktest.Envoy("mcp:payments", "POST", "/mcp/payments", d.token(t, p, "mcp:payments"),
			checktest.ToolCallBody(t, 7, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": cents, "currency": "USD"}))
	}
	chat := func(p person, model string) *authv3.CheckRequest {
		return checktest.Envoy("llm", "POST", "/v1/chat/completions", d.token(t, p, "llm"), checktest.ChatBody(model))
	}
	decide := func(req *authv3.CheckRequest) audit.Record {
		return d.syn.auditRecord(t, decisionID(d.syn.check(t, req)))
	}
	first := decide(refund(alice, 900000)) // over alice's cap: denied with an output
	require.Equal(t, "deny", first.Effect)
	require.False(t, first.Cached)

	again := decide(refund(alice, 900000))
	assert.True(t, again.Cached, "the same request, with a fresh token, reuses the decision")
	assert.Equal(t, first.DecisionID, again.CachedFrom)
	assert.Equal(t, first.Code, again.Code)
	assert.Empty(t, again.CerbosCallID)
	// Every gateway's CheckRequest for the same hop maps to the same request to Cerbos.
	viaIstio := decide(checktest.Istio("", "POST", "/mcp/payments", d.token(t, alice, "mcp:payments"),
		checktest.ToolCallBody(t, 9, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": 900000, "currency": "USD"})))
	assert.True(t, viaIstio.Cached, "the same hop through Istio's shape, with another JSON-RPC id, reuses it")

	tests := []struct {
		name string
		req  *authv3.CheckRequest
		want string // effect
	}{
		{"another principal (bob, tier-2), same arguments", refund(bob, 900000), "allow"},
		{"the same principal, other arguments", refund(alice, 4000), "allow"},
		{"the same principal and amount, another currency", checktest.Envoy("mcp:payments", "POST", "/mcp/payments", d.token(t, alice, "mcp:payments"),
			checktest.ToolCallBody(t, 7, "refund_issue", map[string]any{"ticket_id": "T-1001", "amount_cents": 900000, "currency": "EUR"})), "deny"},
		{"another model", chat(alice, "gpt-4o"), ""},
		{"another tool on the same server", checktest.Envoy("mcp:payments", "POST", "/mcp/payments", d.token(t, alice, "mcp:payments"),
			checktest.ToolCallBody(t, 7, "refund_status", map[string]any{"ticket_id": "T-1001", "amount_cents": 900000, "currency": "USD"})), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := decide(tt.req)
			assert.False(t, rec.Cached, "a request that differs asks Cerbos: %+v", rec)
			assert.NotEmpty(t, rec.CerbosCallID)
			if tt.want != "" {
				assert.Equal(t, tt.want, rec.Effect, "code %s: %s", rec.Code, rec.Reason)
			}
		})
	}
}

// TestDecisionCacheAppliesAPolicyChangeWithinTheTTL changes the policies under a running Cerbos
// (watchForChanges on a copy of policies/bundle) while synapse holds an allowed decision in its
// cache: the first hop after the TTL since that decision asks Cerbos again and gets the new
// answer. The TTL is the stated bound on how late a policy change applies.
func TestDecisionCacheAppliesAPolicyChangeWithinTheTTL(t *testing.T) {
	root := cerbostest.RepoRoot(t)
	policies := t.TempDir()
	require.NoError(t, os.CopyFS(policies, os.DirFS(filepath.Join(root, "policies", "bundle"))))
	shipped, err := os.ReadFile(filepath.Join(root, "policies", "cerbos.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(shipped), "watchForChanges: true", "policies/cerbos.yaml reloads changed policies")
	conf := filepath.Join(root, "policies", "cerbos.yaml")

	cerbos := cerbostest.Start(t, cerbostest.Options{Config: conf, PolicyDir: policies})
	iss := identitytest.NewIssuer(t)
	cfg := testConfig(t, cerbos.GRPCAddr, iss.JWKSURL())
	const ttl = time.Second
	cfg.DecisionCache.TTL = ttl
	syn := startSynapse(t, cfg)
	_, err = syn.admin.Create(context.Background(), tasks.NewTask{ID: alice.task, Principal: alice.sub, AgentID: alice.agent, TicketID: alice.ticket})
	require.NoError(t, err)
	chat := func(harness string) (*authv3.CheckResponse, audit.Record) {
		tok := iss.Mint(t, identitytest.Token{Subject: alice.sub, Audience: "llm", Roles: []string{alice.role},
			AgentID: alice.agent, HarnessVersion: harness, TaskID: alice.task})
		resp := syn.check(t, checktest.Envoy("llm", "POST", "/v1/chat/completions", tok, checktest.ChatBody("gpt-4o-mini")))
		return resp, syn.auditRecord(t, decisionID(resp))
	}

	resp, first := chat("test-1")
	require.Equal(t, int32(codes.OK), resp.GetStatus().GetCode())
	require.False(t, first.Cached)
	stamped, err := provenance.Stamped(os.DirFS(policies))
	require.NoError(t, err)
	assert.Equal(t, stamped, first.PolicyVersion, "the record names the version that decided")
	assert.Equal(t, "resource.llm.vdefault", first.Policy)
	decided := time.Now() // the decision was cached before this
	_, again := chat("test-1")
	require.True(t, again.Cached, "the same hop reuses the decision")

	// The policy change: the model route loses its policy, so Cerbos denies every model call,
	// under a new version.
	require.NoError(t, os.Remove(filepath.Join(policies, "resource_policies", "llm.yaml")))
	changed, err := provenance.Stamp(policies)
	require.NoError(t, err)
	require.NotEqual(t, stamped, changed)
	probe := 0
	require.Eventually(t, func() bool {
		probe++ // another harness version: another request, never in the cache
		resp, rec := chat(fmt.Sprintf("probe-%d", probe))
		return resp.GetDeniedResponse() != nil && rec.PolicyVersion == changed
	}, 30*time.Second, 100*time.Millisecond, "Cerbos applies the policy change, and the record names its version")

	time.Sleep(time.Until(decided.Add(ttl)))
	resp, after := chat("test-1")
	assert.NotNil(t, resp.GetDeniedResponse(), "the cached hop, one TTL after it was decided, gets the new policy's answer")
	assert.False(t, after.Cached)
	assert.NotEmpty(t, after.CerbosCallID)
	assert.Equal(t, changed, after.PolicyVersion)
}

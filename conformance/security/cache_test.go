package security_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/rawhttp"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/conformance/security/decisionlog"
	"github.com/hopguard/hopguard/conformance/security/summary"
	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// cacheAttacks tries to get a decision out of synapse's decision cache (synapse/authz,
// cache.go) that Cerbos would not give: it makes the cache hold Alice's allowed hops on a task
// of her own, then sends what differs from them in one input only. Each must be decided afresh:
//   - the same model call by another principal (Carol, naming Alice's task in her token);
//   - the same refund tool with other arguments (over Alice's cap);
//   - the same model call right after the task is revoked.
//
// A policy change is the one input the cache may serve stale, for at most its TTL; synapse's
// own tests hold it to that (synapse/app, TestDecisionCacheAppliesAPolicyChangeWithinTheTTL).
func cacheAttacks(t *testing.T, tg bypass.Target) summary.Fault {
	ctx := t.Context()
	h := suite.env
	f := summary.Fault{Name: "decision cache: other principal, other arguments, revoked task", Gateway: tg.Gateway, Pass: true}
	fail := func(format string, args ...any) summary.Fault {
		f.Pass, f.Detail = false, fmt.Sprintf(format, args...)
		return f
	}
	id, token, err := newTask(ctx, tg.Gateway, "cache", "T-1001")
	if err != nil {
		return fail("%v", err)
	}
	admin, err := h.Admin()
	if err != nil {
		return fail("%v", err)
	}
	aliceLLM, err := token(bypass.Alice, "llm")
	if err != nil {
		return fail("alice's token: %v", err)
	}
	alicePay, err := token(bypass.Alice, "mcp:payments")
	if err != nil {
		return fail("alice's token: %v", err)
	}
	carolLLM, err := token(bypass.Carol, "llm")
	if err != nil {
		return fail("carol's token: %v", err)
	}
	chat := func(tok string) rawhttp.Request {
		return modelPost("/v1/chat/completions", tok, []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Work ticket T-1001."}]}`))
	}
	refund := func(cents int) rawhttp.Request {
		return mcpPost("payments", alicePay, fmt.Appendf(nil, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"refund_issue","arguments":{"ticket_id":"T-1001","amount_cents":%d,"reason":"cache drill"}}}`, cents))
	}
	from, err := decisionlog.Size(h.AuditLogPath())
	if err != nil {
		return fail("%v", err)
	}
	step := func(name string, req rawhttp.Request) observation {
		f.Probes++
		return send(ctx, tg.Addr, prepared{Probe: bypass.Probe{Name: name}, req: req})
	}

	// Fill the cache: each hop twice, the second answered from the cache.
	var problems []string
	for _, fill := range []struct {
		name string
		req  rawhttp.Request
	}{{"alice asks gpt-4o-mini", chat(aliceLLM)}, {"alice refunds $40 in a stateless MCP request", refund(4000)}} {
		first, again := step(fill.name, fill.req), step(fill.name+" again", fill.req)
		if !first.allowed() {
			// The refund outside a session may be refused by a gateway's MCP proxy: then
			// it was never cached, and its other-arguments attack below proves nothing.
			problems = append(problems, "not allowed, so not cached: "+first.String())
			continue
		}
		rec, err := awaitRecord(ctx, h.AuditLogPath(), from, again.verdict.DecisionID)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case !again.allowed() || !rec.Cached || rec.CachedFrom != first.verdict.DecisionID:
			problems = append(problems, fmt.Sprintf("%s: the cache did not answer it (cached %t, from %q, first %s): is the cache off?", again, rec.Cached, rec.CachedFrom, first.verdict.DecisionID))
		}
	}
	attacks := []struct {
		name     string
		req      func() rawhttp.Request
		wantCode string
		before   func() error
	}{
		{name: "carol sends alice's cached model call, naming alice's task", req: func() rawhttp.Request { return chat(carolLLM) }},
		{name: "alice's cached refund tool with $9,000", req: func() rawhttp.Request { return refund(900000) }, wantCode: "refund_cap_exceeded"},
		{name: "alice's cached model call right after her task is revoked", req: func() rawhttp.Request { return chat(aliceLLM) }, wantCode: "task_not_active",
			before: func() error { _, err := admin.Revoke(ctx, id); return err }},
	}
	for _, a := range attacks {
		if a.before != nil {
			if err := a.before(); err != nil {
				return fail("%s: %v", a.name, err)
			}
		}
		o := step(a.name, a.req())
		switch {
		case o.allowed():
			problems = append(problems, "ALLOWED: "+o.String())
		case a.wantCode != "" && o.verdict.Code != a.wantCode:
			problems = append(problems, fmt.Sprintf("%s: want %s", o, a.wantCode))
		case o.verdict.DecisionID != "":
			if rec, err := awaitRecord(ctx, h.AuditLogPath(), from, o.verdict.DecisionID); err == nil && rec.Cached {
				problems = append(problems, fmt.Sprintf("%s: answered from the cache (from %s)", o, rec.CachedFrom))
			}
		}
	}
	if len(problems) > 0 {
		return fail("%s", summarize(problems))
	}
	f.Detail = "hops answered from the cache; each hop that differs from a cached one in principal, arguments or task status was decided afresh and denied"
	return f
}

// awaitRecord finds decision id in synapse's audit log from offset on, waiting for synapse to
// write it (it may do so just after the gateway answered).
func awaitRecord(ctx context.Context, path string, offset int64, id string) (audit.Record, error) {
	if id == "" {
		return audit.Record{}, fmt.Errorf("no decision id to look up")
	}
	var found audit.Record
	err := waitFor(ctx, logWait, func() bool {
		recs, _, err := decisionlog.Synapse(path, offset)
		if err != nil {
			return false
		}
		for _, r := range recs {
			if r.DecisionID == id {
				found = r
				return true
			}
		}
		return false
	})
	if err != nil {
		return audit.Record{}, fmt.Errorf("synapse's audit log has no decision %s: %w", id, err)
	}
	return found, nil
}

// tokenSource mints a principal's token for an audience, naming the task newTask made.
type tokenSource func(who scenarios.Actor, audience string) (string, error)

// newTask makes a task of Alice's on ticket, of this run and gateway only, and a source of tokens
// that name it.
func newTask(ctx context.Context, gateway, label, ticket string) (string, tokenSource, error) {
	return newTaskOf(ctx, bypass.Alice, gateway, label, ticket)
}

// newTaskOf makes a task of owner's on ticket, as newTask does for Alice.
func newTaskOf(ctx context.Context, owner scenarios.Actor, gateway, label, ticket string) (string, tokenSource, error) {
	return newTaskIn(ctx, suite.env, owner, gateway, label, ticket)
}

// newTaskIn makes a task of owner's on ticket in the environment h, through its first synapse.
func newTaskIn(ctx context.Context, h *harness.Env, owner scenarios.Actor, gateway, label, ticket string) (string, tokenSource, error) {
	admin, err := h.Admin()
	if err != nil {
		return "", nil, err
	}
	sts, err := h.STSURL()
	if err != nil {
		return "", nil, err
	}
	id := fmt.Sprintf("%s-%s-%s-%s", suite.runID, label, gateway, strconv.FormatInt(time.Now().UnixNano(), 36))
	if _, err := admin.Create(ctx, tasks.NewTask{ID: id, Principal: owner.Creds.ClientID, AgentID: owner.AgentID, TicketID: ticket}); err != nil {
		return "", nil, fmt.Errorf("create task %s: %w", id, err)
	}
	return id, func(who scenarios.Actor, audience string) (string, error) {
		src, err := identity.NewSource(identity.SourceConfig{
			STS: &identity.STSClient{TokenURL: who.STS(sts, h.DriverSTSURL()) + "/oauth2/token"}, Subject: who.Creds,
			Attestation: identity.Attestation{AgentID: who.AgentID, HarnessVersion: "security", TaskID: id},
		})
		if err != nil {
			return "", err
		}
		tok, err := src.Token(ctx, audience)
		if err != nil {
			return "", fmt.Errorf("%s's token for %s: %w", who.Name, audience, err)
		}
		return tok, nil
	}, nil
}

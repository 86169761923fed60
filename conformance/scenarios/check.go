package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/synapse/audit"
)

// auditWait bounds the wait for synapse's record of a decision, which it may write just after
// the gateway has answered.
const auditWait = 5 * time.Second

// hop performs one hop and checks all four things the suite promises: the decision, what the
// agent saw, whether the upstream was contacted and the audit record.
func (r *Run) hop(ctx context.Context, step Step) {
	c := r.c
	before := r.journalLengths(ctx)
	auditFrom := fileSize(r.env.AuditLog)
	r.capture.take()

	switch step.Hop.Kind {
	case Agent:
		r.agentStep(ctx, step)
		return
	case Raw:
		r.rawHop(ctx, step, before)
		return
	}
	out := r.perform(ctx, step)
	seen := r.capture.take()
	upstream := step.Hop.Resource()
	fresh := r.journalSince(ctx, upstream, before[upstream])
	contacted := slices.ContainsFunc(fresh, matches(step.Hop))
	denied := out.denied()

	d := report.Decision{Step: step.Name, Decision: "allow", Upstream: contacted, Status: lastStatus(seen)}
	if denied {
		d.Decision, d.Code = "deny", out.denial.Code
	}
	if behaviour, broken := step.Want.BrokenBehind[r.env.Gateway]; broken {
		d.Decision, d.Code = "broken", ""
		r.record(d)
		c.logf("%s breaks this hop: %s (the agent saw: %s)", r.env.Gateway, behaviour, out.denialText())
		c.isTrue(out.err != nil && !denied, "behind %s the hop fails at the client, neither allowed nor denied (responses: %s)", r.env.Gateway, describe(seen))
		c.isTrue(!contacted, "nothing of the broken hop reaches %s: %+v", upstream, fresh)
		return
	}
	r.record(d)

	c.logf("the agent saw: %s (responses: %s)", out.denialText(), describe(seen))
	// 1. The decision.
	if out.err != nil && !denied {
		c.fatalf("the hop failed without a gateway decision: %v (responses: %s)", out.err, describe(seen))
	}
	if step.Want.Deny != denied {
		c.fatalf("want deny=%t, the agent saw deny=%t (%s; responses: %s)", step.Want.Deny, denied, out.denialText(), describe(seen))
	}
	// 2. What the agent saw. The gateway's own fail-closed reply is held to the same marks as
	// synapse's denials: every gateway adds them.
	if step.Want.Deny {
		wantCode := step.Want.Code
		if out.denial.Code == "" && step.Want.codeOptional(r.env.Gateway) {
			wantCode = ""
		}
		c.equal(wantCode, out.denial.Code, "denial code (reason %q)", out.denial.Reason)
		c.contains(out.denial.Reason, step.Want.Reason, "the reason the agent reads")
		if step.Want.Remediation != "" {
			c.equal(step.Want.Remediation, out.denial.Remediation["type"], "remediation %v", out.denial.Remediation)
		}
		if status := step.Want.status(r.env.Gateway); status != 0 {
			c.equal(status, d.Status, "status of the denied response")
		}
		c.isTrue(slices.ContainsFunc(seen, func(s response) bool { return s.denied }), "a denial carries one x-hopguard-decision: deny (responses: %s)", describe(seen))
		if step.Want.FailClosed || step.Want.status(r.env.Gateway) == http.StatusServiceUnavailable {
			c.isTrue(unretryable(seen), "a fail-closed reply carries one x-should-retry: false, or OpenAI-style clients retry it (responses: %s)", describe(seen))
		}
	}
	if !step.Want.Deny {
		for _, list := range []struct {
			want []string
			what string
		}{{step.Want.Tools, "the tools shown"}, {step.Want.Resources, "the documents shown"}} {
			if list.want == nil {
				continue
			}
			var shown []string
			if out.note != "" {
				shown = strings.Split(out.note, ",")
			}
			c.equal(slices.Sorted(slices.Values(list.want)), slices.Sorted(slices.Values(shown)), "%s", list.what)
		}
	}
	// Every response of an allowed hop says so, once: synapse's allow reaches the agent through
	// every gateway (agentgateway's config relies on it to tell its own fail-closed reply apart).
	if !step.Want.Deny {
		for _, s := range seen {
			c.equal("allow", s.decision, "x-hopguard-decision of %s %s (responses: %s)", s.method, s.path, describe(seen))
		}
	}
	// 3. The upstream: contacted exactly when allowed; a denied handshake reaches nothing at all.
	c.equal(!step.Want.Deny, contacted, "upstream %s contacted (new journal entries: %+v)", upstream, fresh)
	if step.Want.Deny && step.Hop.Kind == Handshake {
		c.isTrue(len(fresh) == 0, "nothing of a denied handshake reaches %s: %+v", upstream, fresh)
	}
	for _, e := range fresh {
		c.equal(wantCredential(upstream), e.Credential, "credential %s received: the agent's token is removed, the provider key added on the LLM route only", upstream)
	}
	// 4. The audit record.
	if step.Want.NoAudit {
		return
	}
	want := auditMatcher(step, out, seen)
	rec, ok := r.awaitAudit(auditFrom, want)
	if !ok {
		c.fatalf("synapse's audit log %s has no record of this decision", r.env.AuditLog)
	}
	if step.Want.Deny {
		c.equal(step.Want.Code, rec.Code, "audit record code")
	}
	// Every decision a policy made names the policy and its set's version, in the record and to
	// the agent; a scenario that changed the policies knows which version must have decided.
	if rec.Failure == "" && (rec.CerbosCallID != "" || rec.Cached) {
		c.isTrue(rec.Policy != "" && rec.PolicyVersion != "", "the audit record names the policy that decided and its version (policy %q, version %q)", rec.Policy, rec.PolicyVersion)
		if r.policyVersion != "" {
			c.equal(r.policyVersion, rec.PolicyVersion, "the policy set's version that decided")
		}
		if rec.PolicyVersion != "" {
			c.isTrue(slices.ContainsFunc(seen, func(s response) bool { return s.policy == rec.Policy+" "+rec.PolicyVersion }),
				"the agent is told the policy that decided, %s %s (responses: %s)", rec.Policy, rec.PolicyVersion, describe(seen))
		}
	}
	// 5. Where Cerbos decided, its own decision log has the call, tagged with synapse's decision id.
	if rec.CerbosCallID != "" && r.env.CerbosLog != "" {
		found := r.awaitLine(r.env.CerbosLog, `"callId":"`+rec.CerbosCallID+`"`, `"x-hopguard-decision-id":{"values":["`+rec.DecisionID+`"]}`)
		c.isTrue(found, "Cerbos's decision log %s has no call %s for decision %s", r.env.CerbosLog, rec.CerbosCallID, rec.DecisionID)
	}
}

// unretryable says whether the hop was denied and every denial seen tells clients not to retry.
func unretryable(seen []response) bool {
	denials := 0
	for _, s := range seen {
		if !s.denied {
			continue
		}
		denials++
		if s.shouldRetry != "false" {
			return false
		}
	}
	return denials > 0
}

// awaitLine waits until a line of the file holds every one of parts.
func (r *Run) awaitLine(path string, parts ...string) bool {
	deadline := time.Now().Add(auditWait)
	for {
		if data, err := os.ReadFile(path); err == nil {
			for _, line := range bytes.Split(data, []byte("\n")) {
				if containsAll(line, parts) {
					return true
				}
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsAll(line []byte, parts []string) bool {
	for _, p := range parts {
		if !bytes.Contains(line, []byte(p)) {
			return false
		}
	}
	return true
}

func (o outcome) denialText() string {
	switch {
	case o.denial != nil:
		return "denial: " + o.denial.String()
	case o.err != nil:
		return "error: " + o.err.Error()
	default:
		return "went through: " + o.note
	}
}

// matches says whether a journal entry is the hop itself reaching its upstream.
func matches(h Hop) func(journal.Entry) bool {
	return func(e journal.Entry) bool {
		switch h.Kind {
		case Model:
			return e.Model == h.Model
		case ListModels:
			return e.HTTPMethod == http.MethodGet && e.Path == "/v1/models"
		case Handshake:
			return e.MCPMethod == "initialize" || e.MCPMethod == "server/discover"
		case ListTools:
			return e.MCPMethod == "tools/list"
		case CallTool:
			_, answers := e.Fields["params.inputResponses"]
			return e.MCPMethod == "tools/call" && e.Tool == h.Tool && (answers || !h.Answering)
		case ListResources:
			return e.MCPMethod == "resources/list"
		case ReadResource:
			return e.MCPMethod == "resources/read" && e.Resource == h.URI
		case GetPrompt:
			return e.MCPMethod == "prompts/get" && e.Prompt == h.Prompt
		default:
			return false
		}
	}
}

func wantCredential(resource string) journal.Credential {
	if resource == "llm" {
		return journal.CredentialProviderKey
	}
	return journal.CredentialNone
}

func lastStatus(seen []response) int {
	for i := len(seen) - 1; i >= 0; i-- {
		if seen[i].denied {
			return seen[i].status
		}
	}
	if len(seen) == 0 {
		return 0
	}
	return seen[len(seen)-1].status
}

// auditMatcher finds the record of the step's decision: by the decision id the agent saw when
// it saw one, else by the resource and action the hop asked for.
func auditMatcher(step Step, out outcome, seen []response) func(audit.Record) bool {
	ids := map[string]bool{}
	for _, s := range seen {
		if s.denied && s.decisionID != "" {
			ids[s.decisionID] = true
		}
	}
	if out.denied() && out.denial.DecisionID != "" {
		ids[out.denial.DecisionID] = true
	}
	effect := audit.EffectAllow
	if step.Want.Deny {
		effect = audit.EffectDeny
	}
	action := hopAction(step.Hop)
	return func(rec audit.Record) bool {
		if rec.Effect != effect {
			return false
		}
		if len(ids) > 0 {
			return ids[rec.DecisionID]
		}
		if rec.Kind != "" && rec.Kind != step.Hop.Resource() {
			return false
		}
		if action == "" || step.Want.Deny {
			return true
		}
		for _, res := range rec.Resources {
			if slices.Contains(res.Actions, action) {
				return true
			}
		}
		return false
	}
}

func hopAction(h Hop) string {
	switch h.Kind {
	case Model:
		return "completion"
	case ListModels:
		return "list_models"
	case Handshake:
		return "initialize"
	case ListTools:
		return "tools/list"
	case CallTool:
		return "tools/call/" + h.Tool
	case ListResources:
		return "resources/list"
	case ReadResource:
		return "resources/read"
	case GetPrompt:
		return "prompts/get/" + h.Prompt
	default:
		return ""
	}
}

// journalLengths snapshots every upstream's journal length.
func (r *Run) journalLengths(ctx context.Context) map[string]int {
	out := map[string]int{}
	for resource, j := range r.env.Journals {
		entries, err := j.Entries(ctx)
		r.c.noError(err, "read the journal of %s", resource)
		out[resource] = len(entries)
	}
	return out
}

// journalSince returns the entries of resource's upstream after the first from.
func (r *Run) journalSince(ctx context.Context, resource string, from int) []journal.Entry {
	j, ok := r.env.Journals[resource]
	if !ok {
		r.c.fatalf("no journal for %s", resource)
	}
	entries, err := j.Entries(ctx)
	r.c.noError(err, "read the journal of %s", resource)
	if from > len(entries) {
		r.c.fatalf("the journal of %s shrank from %d to %d entries during the step", resource, from, len(entries))
	}
	return entries[from:]
}

// Journal returns what reached resource's upstream since the scenario started.
func (r *Run) Journal(ctx context.Context, resource string) ([]journal.Entry, error) {
	j, ok := r.env.Journals[resource]
	if !ok {
		return nil, fmt.Errorf("no journal for %s", resource)
	}
	return j.Entries(ctx)
}

// AuditRecords returns synapse's records written since the scenario started.
func (r *Run) AuditRecords() ([]audit.Record, error) { return readAudit(r.env.AuditLog, r.auditStart) }

func (r *Run) awaitAudit(from int64, match func(audit.Record) bool) (audit.Record, bool) {
	deadline := time.Now().Add(auditWait)
	for {
		records, err := readAudit(r.env.AuditLog, from)
		if err == nil {
			for _, rec := range records {
				if match(rec) {
					return rec, true
				}
			}
		}
		if time.Now().After(deadline) {
			r.c.logf("audit records since the step began: %+v (read error: %v)", records, err)
			return audit.Record{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readAudit reads the records after byte offset from (synapse's own reader; a line still
// being written is left for the next read).
func readAudit(path string, from int64) ([]audit.Record, error) {
	recs, _, err := audit.ReadLog(path, from)
	return recs, err
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/hopguard/hopguard/conformance/policywatch"
	"github.com/hopguard/hopguard/policies/provenance"
)

// Policies is the policy set a run's Cerbos watches, as the policy-change scenarios see it.
type Policies struct {
	// Dir is the bundle Cerbos watches (stack.PolicyDir): a change written there, each file
	// by a rename, is live once Cerbos has read it, with no restart.
	Dir string
	// CerbosURL is Cerbos's HTTP API, asked which version it decides under.
	CerbosURL string
	// CerbosLog is Cerbos's own log, where it reports a policy it could not load.
	CerbosLog string
	// CacheTTL is synapse's decision cache TTL: how long it may still reuse a decision the
	// policies made before a change (the first decision it sees under the new version ends that
	// sooner).
	CacheTTL time.Duration
}

// policyWait bounds the wait for Cerbos to read a change (it notices within a few seconds).
const policyWait = 30 * time.Second

// The files the policy-change scenarios edit, relative to the bundle.
const (
	constantsFile = "export_constants/hopguard.yaml"
	paymentsFile  = "resource_policies/mcp_payments.yaml"
)

// capLine is the tier-1 refund cap in constantsFile.
var capLine = regexp.MustCompile(`(?m)^(\s*tier1_refund_cap_cents:\s*)\d+\s*$`)

// policyChange: the refund cap is raised and lowered again while everything runs, and every
// decision names the policy set's version that made it.
func policyChange() Scenario {
	return Scenario{
		ID:    "policy-change",
		Title: "8. Policy change without redeploy: the refund cap raised to $100 and back, live; no process restarts",
		Steps: []Step{
			{Name: "the policy set in force is noted, and every component's process", Do: pinPolicies},
			{Name: "alice refunds $40 on T-1001", As: Alice, Ticket: "T-1001", Hop: callTool("payments", "refund_issue", refund("T-1001", 4000)), Want: allow()},
			{Name: "alice refunds $80 on T-1001", As: Alice, Ticket: "T-1001", Hop: callTool("payments", "refund_issue", refund("T-1001", 8000)), Want: capExceeded()},
			{Name: "the tier-1 refund cap is raised to $100 in the bundle Cerbos watches", Do: changePolicies(setRefundCap(10000))},
			{Name: "alice refunds $80 on T-1001 again, under the new version", As: Alice, Ticket: "T-1001", Hop: callTool("payments", "refund_issue", refund("T-1001", 8000)), Want: allow()},
			{Name: "alice refunds $120 on T-1001", As: Alice, Ticket: "T-1001", Hop: callTool("payments", "refund_issue", refund("T-1001", 12000)), Want: capExceeded()},
			{Name: "the cap goes back to $50", Do: changePolicies(setRefundCap(5000))},
			{Name: "alice refunds $80 on T-1001 a third time, under the old version again", As: Alice, Ticket: "T-1001", Hop: callTool("payments", "refund_issue", refund("T-1001", 8000)), Want: capExceeded()},
			{Name: "no component restarted", Do: samePIDs},
		},
	}
}

// brokenPolicy: a policy file that does not parse, then one that does not compile, reach the
// bundle Cerbos watches; Cerbos says so in its log and keeps deciding with the last good set.
func brokenPolicy() Scenario {
	return Scenario{
		ID:    "policy-broken",
		Title: "9. A broken policy pushed live: Cerbos reports it and keeps the last good set; nothing is allowed by accident",
		Steps: []Step{
			{Name: "the policy set in force is noted, and every component's process", Do: pinPolicies},
			{Name: "payments' policy is replaced by one that does not parse", Do: breakPolicy(paymentsFile, func(b []byte) []byte {
				return append(slices.Clip(b), "\n    - name: [unclosed\n"...)
			})},
			{Name: "alice refunds $60 on T-1001, the cap still in force", As: Alice, Ticket: "T-1001", Hop: callTool("payments", "refund_issue", refund("T-1001", 6000)), Want: capExceeded()},
			{Name: "alice refunds $30 on T-1001", As: Alice, Ticket: "T-1001", Hop: callTool("payments", "refund_issue", refund("T-1001", 3000)), Want: allow()},
			{Name: "payments' policy is replaced by one whose cap condition does not compile", Do: breakPolicy(paymentsFile, func(b []byte) []byte {
				return bytes.Replace(b, []byte("R.attr.arguments.amount_cents > C.tier1_refund_cap_cents"), []byte("R.attr.arguments.amount_cents > > C.tier1_refund_cap_cents"), 1)
			})},
			{Name: "alice refunds $70 on T-1001, the cap still in force", As: Alice, Ticket: "T-1001", Hop: callTool("payments", "refund_issue", refund("T-1001", 7000)), Want: capExceeded()},
			{Name: "payments' policy is put back", Do: restorePolicy(paymentsFile)},
			{Name: "alice refunds $20 on T-1001", As: Alice, Ticket: "T-1001", Hop: callTool("payments", "refund_issue", refund("T-1001", 2000)), Want: allow()},
			{Name: "no component restarted", Do: samePIDs},
		},
	}
}

// toolVisibility: a tools/list shows a principal only the tools it may call under some
// arguments, decided by the same policies, on the response path of every gateway; a tool a live
// change forbids disappears from the next list.
func toolVisibility() Scenario {
	all := []string{"add_comment", "get_ticket", "list_tickets", "update_ticket"}
	noComments := []string{"get_ticket", "list_tickets", "update_ticket"}
	return Scenario{
		ID:    "tool-visibility",
		Title: "10. Tool visibility: a tools/list shows only the tools the principal may call; a tool forbidden live disappears from it",
		Steps: []Step{
			{Name: "the policy set in force is noted, and every component's process", Do: pinPolicies},
			{Name: "alice lists the tickets server's tools: all four", As: Alice, Ticket: "T-1001", Hop: listTools("tickets"), Want: Want{Tools: all}},
			{Name: "the triage agent is shown three: it comments, and changes no ticket", As: Triage, Ticket: "T-2001", Hop: listTools("tickets"),
				Want: Want{Tools: []string{"add_comment", "get_ticket", "list_tickets"}}},
			{Name: "tier-1 may no longer comment: a DENY rule added to the tickets policy", Do: changePolicies(addRule(ticketsFile, noCommentsForTier1))},
			{Name: "alice lists the tools again: add_comment is not shown", As: Alice, Ticket: "T-1001", Hop: listTools("tickets"), Want: Want{Tools: noComments}},
			{Name: "alice comments on T-1001 all the same", As: Alice, Ticket: "T-1001",
				Hop: callTool("tickets", "add_comment", `{"ticket_id":"T-1001","body":"Refund issued."}`), Want: deny("tool_not_allowed", "tier-1-support may not comment")},
			{Name: "bob (tier-2) is still shown all four", As: Bob, Ticket: "T-1001", Hop: listTools("tickets"), Want: Want{Tools: all}},
			{Name: "no component restarted", Do: samePIDs},
		},
	}
}

// ticketsFile is the tickets server's policy, relative to the bundle.
const ticketsFile = "resource_policies/mcp_tickets.yaml"

// noCommentsForTier1 is the rule toolVisibility adds: tier-1 may not call add_comment at all.
const noCommentsForTier1 = `    - name: no-comments-for-tier-1
      actions: [tools/call/add_comment]
      effect: EFFECT_DENY
      roles: [tier-1-support]
      output:
        when:
          ruleActivated: |-
            {"decision": "deny", "code": "tool_not_allowed", "reason": "tier-1-support may not comment on tickets"}

`

// addRule puts rule first among a resource policy's rules.
func addRule(file, rule string) func(dir string) error {
	return func(dir string) error {
		path := filepath.Join(dir, filepath.FromSlash(file))
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		const rules = "\n  rules:\n"
		if !bytes.Contains(b, []byte(rules)) {
			return fmt.Errorf("%s has no rules", file)
		}
		return provenance.WriteFile(path, bytes.Replace(b, []byte(rules), []byte(rules+rule), 1))
	}
}

func capExceeded() Want {
	return Want{Deny: true, Code: "refund_cap_exceeded", Reason: "refund cap exceeded", Remediation: "step_up", Status: 200}
}

func (r *Run) policies() (*Policies, error) {
	if r.env.Policies == nil {
		return nil, errors.New("this run cannot change the policies its Cerbos decides with")
	}
	return r.env.Policies, nil
}

// pinPolicies notes the version in force, which every later decision must name until a change,
// and the process of every component, which must not change.
func pinPolicies(ctx context.Context, r *Run) error {
	p, err := r.policies()
	if err != nil {
		return err
	}
	version, err := provenance.Stamped(os.DirFS(p.Dir))
	if err != nil {
		return err
	}
	if err := p.awaitVersion(ctx, version); err != nil {
		return err
	}
	pids, err := r.env.Control.PIDs(ctx)
	if err != nil {
		return fmt.Errorf("the components' processes: %w", err)
	}
	r.policyVersion, r.pids = version, pids
	r.c.logf("policy set %s in force; processes %v", version, pids)
	// Put the bundle back as it was found, whatever the scenario left.
	originals, err := snapshot(p.Dir, constantsFile, paymentsFile, ticketsFile, provenance.File)
	if err != nil {
		return err
	}
	r.keptPolicies = originals
	// Whatever becomes of the scenario, the bundle is left as it was found, and in force,
	// for the scenarios that follow.
	r.atEnd = append(r.atEnd, func(ctx context.Context) {
		restore(p.Dir, originals)
		if err := p.awaitVersion(context.WithoutCancel(ctx), version); err != nil {
			r.c.logf("the policy set was put back, but %v", err)
		}
	})
	return nil
}

// samePIDs fails when a component's process is not the one pinPolicies noted.
func samePIDs(ctx context.Context, r *Run) error {
	now, err := r.env.Control.PIDs(ctx)
	if err != nil {
		return fmt.Errorf("the components' processes: %w", err)
	}
	if !maps.Equal(r.pids, now) {
		return fmt.Errorf("a component restarted: processes were %v, now %v", r.pids, now)
	}
	r.c.logf("every component kept its process: %v", now)
	return nil
}

// setRefundCap edits the tier-1 refund cap in the bundle.
func setRefundCap(cents int) func(dir string) error {
	return func(dir string) error {
		path := filepath.Join(dir, filepath.FromSlash(constantsFile))
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !capLine.Match(b) {
			return fmt.Errorf("%s has no tier1_refund_cap_cents line", constantsFile)
		}
		return provenance.WriteFile(path, capLine.ReplaceAll(b, fmt.Appendf(nil, "${1}%d", cents)))
	}
}

// changePolicies edits the bundle Cerbos watches, writes the new version, and waits until
// Cerbos decides under it and synapse can no longer reuse a decision made before.
func changePolicies(edit func(dir string) error) func(context.Context, *Run) error {
	return func(ctx context.Context, r *Run) error {
		p, err := r.policies()
		if err != nil {
			return err
		}
		if err := edit(p.Dir); err != nil {
			return fmt.Errorf("edit the policies: %w", err)
		}
		version, err := provenance.Stamp(p.Dir)
		if err != nil {
			return err
		}
		began := time.Now()
		if err := p.awaitVersion(ctx, version); err != nil {
			return err
		}
		r.c.logf("Cerbos decides under %s (was %s) %s after the change", version, r.policyVersion, time.Since(began).Round(time.Millisecond))
		r.policyVersion = version
		return sleep(ctx, p.CacheTTL)
	}
}

// breakPolicy replaces a policy file by what broken makes of it, without stamping a version (as
// an operator's mistake would come), and waits until Cerbos's log says it refused it.
func breakPolicy(file string, broken func([]byte) []byte) func(context.Context, *Run) error {
	return func(ctx context.Context, r *Run) error {
		p, err := r.policies()
		if err != nil {
			return err
		}
		path := filepath.Join(p.Dir, filepath.FromSlash(file))
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		logFrom := fileSize(p.CerbosLog)
		if err := provenance.WriteFile(path, broken(b)); err != nil {
			return err
		}
		refusal, err := policywatch.AwaitRefusal(ctx, p.CerbosLog, logFrom, file, policyWait)
		if err != nil {
			return err
		}
		r.c.logf("Cerbos refused it and keeps the last good set: %s", refusal)
		return nil
	}
}

// restorePolicy puts a policy file back as the bundle's version says it is, and waits until
// Cerbos decides with it.
func restorePolicy(file string) func(context.Context, *Run) error {
	return func(ctx context.Context, r *Run) error {
		p, err := r.policies()
		if err != nil {
			return err
		}
		original, ok := r.keptPolicies[file]
		if !ok {
			return fmt.Errorf("no copy of %s was kept", file)
		}
		if err := provenance.WriteFile(filepath.Join(p.Dir, filepath.FromSlash(file)), original); err != nil {
			return err
		}
		if err := provenance.Check(p.Dir); err != nil {
			return err
		}
		return p.awaitVersion(ctx, r.policyVersion)
	}
}

// snapshot keeps the contents of files of the bundle at dir.
func snapshot(dir string, files ...string) (map[string][]byte, error) {
	kept := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return nil, fmt.Errorf("keep %s: %w", f, err)
		}
		kept[f] = b
	}
	return kept, nil
}

// restore writes kept files back into the bundle at dir, for the scenarios that follow.
func restore(dir string, kept map[string][]byte) {
	for f, b := range kept {
		_ = provenance.WriteFile(filepath.Join(dir, filepath.FromSlash(f)), b)
	}
}

// awaitVersion waits until Cerbos decides under version.
func (p *Policies) awaitVersion(ctx context.Context, version string) error {
	return policywatch.AwaitServed(ctx, http.DefaultClient, p.CerbosURL, version, policyWait)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

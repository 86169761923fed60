package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/trace"
)

// Story is the seed's story in three acts, each one agent run through the gateway: the demo
// plays it with a narrator, the conformance suite behind every gateway. The refund-cap and
// task-revocation scenarios play its first and third acts too.
func Story() Scenario {
	return Scenario{
		ID:    "story",
		Title: "7. The seed's story: a $9,000 refund escalated, the triage agent pinned to gpt-4o-mini and kept out of payments and payroll, a task revoked mid-run",
		Steps: []Step{refundAct(), triageAct(), killSwitchAct()},
	}
}

// refundAct: alice's tier-1 agent is denied the $9,000 refund with a step-up, writes on the
// ticket instead, and is denied payroll at the handshake.
func refundAct() Step {
	return Step{
		Name:   "alice's agent works T-1001",
		Title:  "A tier-1 agent and a $9,000 refund",
		Intro:  "alice's support agent works T-1001, where Dana Whitfield asks for a $9,000 refund. Tier-1 may refund up to $50.",
		As:     Alice,
		Ticket: "T-1001",
		Hop:    Hop{Kind: Agent, Model: "gpt-4o", Check: allOf(escalatesRefund, serverDenied("payroll"))},
	}
}

// triageAct: the triage agent is denied gpt-4o and falls back to gpt-4o-mini; payments and
// payroll are denied at the handshake; it still gets its work done.
func triageAct() Step {
	return Step{
		Name:   "triage's agent works T-2001",
		Title:  "The autonomous triage agent: pinned to gpt-4o-mini, kept out of payments and payroll",
		Intro:  "The triage agent (a SPIFFE workload, no human behind it) works T-2001. It asks for gpt-4o first. Its model is shown only the tools it may call: it comments on tickets and changes none, so update_ticket is not among them.",
		As:     Triage,
		Ticket: "T-2001",
		Hop: Hop{Kind: Agent, Model: "gpt-4o", FallbackModel: "gpt-4o-mini",
			Check: allOf(modelDenied("gpt-4o"), modelAllowed("gpt-4o-mini"), serverDenied("payments"), serverDenied("payroll"), succeeded)},
	}
}

// killSwitchAct: the operator revokes the triage agent's task right after its first tool call;
// every later hop is denied task_not_active.
func killSwitchAct() Step {
	return Step{
		Name:   "triage's task is revoked mid-run",
		Title:  "The kill switch: a task revoked mid-run",
		Intro:  "The triage agent works T-1002. After its first tool call the operator revokes its task.",
		As:     Triage,
		Ticket: "T-1002",
		Hop:    Hop{Kind: Agent, Model: "gpt-4o-mini", AgentRun: revokeAfterFirstToolCall, Check: deniedAfterRevocation},
	}
}

// allOf runs every check and joins what they found.
func allOf(checks ...func(*Run, loop.Result) error) func(*Run, loop.Result) error {
	return func(r *Run, res loop.Result) error {
		var errs []error
		for _, c := range checks {
			errs = append(errs, c(r, res))
		}
		return errors.Join(errs...)
	}
}

// escalatesRefund checks the seed's story: the refund is denied with a step-up, the agent tells
// the customer on the ticket it works, and payments never sees a refund.
func escalatesRefund(r *Run, res loop.Result) error {
	if err := refundEscalated(res); err != nil {
		return err
	}
	payments, err := r.Journal(context.Background(), "mcp:payments")
	if err != nil {
		return err
	}
	for _, e := range payments {
		if e.Tool == "refund_issue" {
			return fmt.Errorf("payments received a refund_issue call: %+v", e)
		}
	}
	return nil
}

// refundEscalated is what the agent's own account shows of escalatesRefund.
func refundEscalated(res loop.Result) error {
	refunds := Hops(res, trace.PlaneMCP, "tools/call", "refund_issue")
	if len(refunds) == 0 {
		return fmt.Errorf("the agent never tried refund_issue (servers: %+v)", res.Servers)
	}
	denied := refunds[0]
	if denied.Decision != trace.Deny || denied.Denial == nil || denied.Denial.Code != "refund_cap_exceeded" {
		return fmt.Errorf("the refund was not denied for the cap: %+v", denied)
	}
	if denied.Denial.Remediation["type"] != "step_up" {
		return fmt.Errorf("the refund denial offers no step-up: %+v", denied.Denial.Remediation)
	}
	if !wroteOn(res, res.Ticket) {
		return fmt.Errorf("the agent did not write on %s after the denial (outcome %s, answer %q)", res.Ticket, res.Outcome, res.Answer)
	}
	if res.Outcome != loop.Success {
		return fmt.Errorf("the run ended %s: %s", res.Outcome, res.Reason)
	}
	return nil
}

// wroteOn says whether an update or a comment on ticket went through.
func wroteOn(res loop.Result, ticket string) bool {
	return ticket != "" && slices.ContainsFunc(res.Hops, func(h trace.Hop) bool {
		return h.Plane == trace.PlaneMCP && h.Decision == trace.Allow && (h.Tool == "update_ticket" || h.Tool == "add_comment") && argument(h, "ticket_id") == ticket
	})
}

func serverDenied(server string) func(*Run, loop.Result) error {
	return func(_ *Run, res loop.Result) error {
		i := slices.IndexFunc(res.Servers, func(s loop.Server) bool { return s.Name == server })
		if i < 0 || res.Servers[i].State != loop.ServerDenied || !handshakeDenied(res, server) {
			return fmt.Errorf("%s was not denied at the handshake", server)
		}
		return nil
	}
}

func modelDenied(model string) func(*Run, loop.Result) error {
	return func(_ *Run, res loop.Result) error {
		if !slices.ContainsFunc(res.Hops, llmHop(model, trace.Deny)) {
			return fmt.Errorf("%s was not denied", model)
		}
		return nil
	}
}

func modelAllowed(model string) func(*Run, loop.Result) error {
	return func(_ *Run, res loop.Result) error {
		if !slices.ContainsFunc(res.Hops, llmHop(model, trace.Allow)) {
			return fmt.Errorf("the agent never got an answer from %s", model)
		}
		return nil
	}
}

func llmHop(model string, decision trace.Decision) func(trace.Hop) bool {
	return func(h trace.Hop) bool {
		return h.Plane == trace.PlaneLLM && h.Target == model && h.Decision == decision
	}
}

func succeeded(_ *Run, res loop.Result) error {
	if res.Outcome != loop.Success {
		return fmt.Errorf("the run ended %s: %s", res.Outcome, res.Reason)
	}
	return nil
}

// revokeAfterFirstToolCall revokes the run's own task as soon as the answer to its first
// allowed tool call is on its way back, before the agent sees it: on the agent's way out (its
// sandbox's exit, or its HTTP client in this process), so the agent's next hop comes after the
// revocation, wherever the agent runs.
func revokeAfterFirstToolCall(r *Run, cfg *loop.Config) {
	task := cfg.Attestation.TaskID
	var once sync.Once
	revoke := func() {
		if err := r.revokeTask(context.Background(), task); err != nil {
			r.c.errorf("revoke mid-run: %v", err)
			return
		}
		r.c.logf("the operator revokes task %s (POST /v1/tasks/%s/revoke on synapse's admin API)", task, task)
	}
	client := *cfg.HTTPClient
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	client.Transport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		call, err := isToolCall(req)
		if err != nil {
			return nil, err
		}
		resp, err := next.RoundTrip(req)
		if err == nil && call && resp.StatusCode == http.StatusOK && resp.Header.Get(denial.DecisionHeader) == "allow" {
			once.Do(revoke)
		}
		return resp, err
	})
	cfg.HTTPClient = &client
}

// isToolCall says whether req carries an MCP tools/call, and leaves its body as it was.
func isToolCall(req *http.Request) (bool, error) {
	if req.Body == nil || req.Method != http.MethodPost {
		return false, nil
	}
	const peek = 1 << 20
	head, err := io.ReadAll(io.LimitReader(req.Body, peek))
	if err != nil {
		return false, fmt.Errorf("read the request to peek at its method: %w", err)
	}
	req.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(head), req.Body), Closer: req.Body}
	var msg struct {
		Method string `json:"method"`
	}
	return json.Unmarshal(head, &msg) == nil && msg.Method == "tools/call", nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// deniedAfterRevocation checks that every hop after the first allowed tool call (after which
// the task was revoked) was denied task_not_active, and that the run did not succeed.
func deniedAfterRevocation(_ *Run, res loop.Result) error {
	first := slices.IndexFunc(res.Hops, func(h trace.Hop) bool {
		return h.Plane == trace.PlaneMCP && h.Action == "tools/call" && h.Decision == trace.Allow
	})
	if first < 0 {
		return fmt.Errorf("the agent made no allowed tool call before the revocation (outcome %s: %s)", res.Outcome, res.Reason)
	}
	after := res.Hops[first+1:]
	if len(after) == 0 {
		return fmt.Errorf("the agent made no hop after the revocation")
	}
	for _, h := range after {
		if h.Plane == trace.PlaneSTS {
			continue
		}
		if h.Decision != trace.Deny || h.Denial == nil || h.Denial.Code != "task_not_active" {
			return fmt.Errorf("a hop after the revocation was not denied as task_not_active: %+v", h)
		}
	}
	if res.Outcome == loop.Success {
		return fmt.Errorf("the run succeeded after its task was revoked")
	}
	return nil
}

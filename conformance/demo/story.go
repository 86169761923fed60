// Package demo plays the seed's story through a running environment: the agent works real
// tickets through the gateway, every hop is narrated with its decision and reason, the mock
// upstreams' journals show that denied hops went nowhere, and the trail is written as a
// Mermaid sequence diagram.
package demo

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/conformance/scenarios"
)

// Act is one agent run of the story.
type Act struct {
	Title string
	// Intro says, before the run, what is about to happen.
	Intro  string
	As     scenarios.Actor
	Roles  string
	Ticket string
	Model  string
	// FallbackModel is asked once Model is denied.
	FallbackModel string
	// RevokeAfterFirstToolCall has the operator revoke the run's task mid-run.
	RevokeAfterFirstToolCall bool
	// Expect checks that the act showed what it is there to show.
	Expect func(res loop.Result) error
}

// Story returns the acts of the demo.
func Story() []Act {
	return []Act{
		{
			Title:  "A tier-1 agent and a $9,000 refund",
			Intro:  "alice's support agent works T-1001, where Dana Whitfield asks for a $9,000 refund. Tier-1 may refund up to $50.",
			As:     scenarios.Alice,
			Roles:  "tier-1-support",
			Ticket: "T-1001",
			Model:  "gpt-4o",
			Expect: all(refundDeniedWithStepUp, wroteOnTicket("T-1001"), serverDenied("payroll")),
		},
		{
			Title:         "The autonomous triage agent: pinned to gpt-4o-mini, kept out of payments and payroll",
			Intro:         "The triage agent (a SPIFFE workload, no human behind it) works T-2001. It asks for gpt-4o first.",
			As:            scenarios.Triage,
			Roles:         "triage-agent",
			Ticket:        "T-2001",
			Model:         "gpt-4o",
			FallbackModel: "gpt-4o-mini",
			Expect:        all(modelDenied("gpt-4o"), serverDenied("payments"), serverDenied("payroll"), succeeded),
		},
		{
			Title:                    "The kill switch: a task revoked mid-run",
			Intro:                    "The triage agent works T-1002. After its first tool call the operator revokes its task.",
			As:                       scenarios.Triage,
			Roles:                    "triage-agent",
			Ticket:                   "T-1002",
			Model:                    "gpt-4o-mini",
			RevokeAfterFirstToolCall: true,
			Expect:                   deniedAfterFirstToolCall,
		},
	}
}

func all(checks ...func(loop.Result) error) func(loop.Result) error {
	return func(res loop.Result) error {
		var errs []error
		for _, c := range checks {
			errs = append(errs, c(res))
		}
		return errors.Join(errs...)
	}
}

func refundDeniedWithStepUp(res loop.Result) error {
	for _, h := range res.Hops {
		if h.Tool == "refund_issue" && h.Decision == trace.Deny && h.Denial != nil &&
			h.Denial.Code == "refund_cap_exceeded" && h.Denial.Remediation["type"] == "step_up" {
			return nil
		}
	}
	return errors.New("the refund was not denied for the cap with a step-up")
}

func wroteOnTicket(ticket string) func(loop.Result) error {
	return func(res loop.Result) error {
		for _, h := range res.Hops {
			if (h.Tool == "update_ticket" || h.Tool == "add_comment") && h.Decision == trace.Allow {
				return nil
			}
		}
		return fmt.Errorf("the agent did not write on %s", ticket)
	}
}

func serverDenied(server string) func(loop.Result) error {
	return func(res loop.Result) error {
		i := slices.IndexFunc(res.Servers, func(s loop.Server) bool { return s.Name == server })
		if i < 0 || res.Servers[i].State != loop.ServerDenied {
			return fmt.Errorf("%s was not denied at the handshake", server)
		}
		return nil
	}
}

func modelDenied(model string) func(loop.Result) error {
	return func(res loop.Result) error {
		for _, h := range res.Hops {
			if h.Plane == trace.PlaneLLM && h.Target == model && h.Decision == trace.Deny {
				return nil
			}
		}
		return fmt.Errorf("%s was not denied", model)
	}
}

func succeeded(res loop.Result) error {
	if res.Outcome != loop.Success {
		return fmt.Errorf("the run ended %s: %s", res.Outcome, res.Reason)
	}
	return nil
}

func deniedAfterFirstToolCall(res loop.Result) error {
	first := slices.IndexFunc(res.Hops, func(h trace.Hop) bool {
		return h.Plane == trace.PlaneMCP && h.Action == "tools/call" && h.Decision == trace.Allow
	})
	if first < 0 || first == len(res.Hops)-1 {
		return errors.New("no hop followed the first tool call")
	}
	next := res.Hops[first+1]
	if next.Decision != trace.Deny || next.Denial == nil || next.Denial.Code != "task_not_active" {
		return fmt.Errorf("the hop after the revocation was not denied task_not_active: %s %s", next.Action, next.Decision)
	}
	return nil
}

package bypass

import (
	"context"

	"github.com/hopguard/hopguard/conformance/rawhttp"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/conformance/security/forge"
	"github.com/hopguard/hopguard/mockservers/journal"
)

// Probe is a request whose answer is known while everything is up: what the fault drills and
// the audit run send under load.
type Probe struct {
	Name string
	// Allowed is the answer while everything is up.
	Allowed bool
	// ReachesCerbos says synapse asks Cerbos about it (a request refused for its shape or its
	// token never gets that far, and leaves no entry in Cerbos's log).
	ReachesCerbos bool
	build         builder
}

// Probes are the requests of the load: two allowed, three denied by policy, three refused
// before Cerbos is asked.
func Probes() []Probe {
	return []Probe{
		{Name: "alice asks gpt-4o-mini", Allowed: true, ReachesCerbos: true,
			build: with(Alice, "llm", func(tok string) rawhttp.Request { return modelPost(tok, chat("gpt-4o-mini")) })},
		{Name: "alice opens tickets", Allowed: true, ReachesCerbos: true,
			build: with(Alice, "mcp:tickets", func(tok string) rawhttp.Request { return mcpPost("tickets", tok, initializeBody) })},
		{Name: "triage asks gpt-4o", ReachesCerbos: true, build: triageAsks(chat("gpt-4o"))},
		{Name: "alice opens payroll", ReachesCerbos: true, build: aliceOpensPayroll(nil)},
		{Name: "alice refunds $9,000", ReachesCerbos: true, build: aliceRefunds(bigRefund)},
		{Name: "triage names the model twice", build: triageAsks(`{"model":"gpt-4o-mini","model":"gpt-4o","messages":[]}`)},
		{Name: "the tickets stream without a token", build: func(context.Context, *Kit) (rawhttp.Request, error) {
			return rawhttp.Request{Method: "GET", Target: "/mcp/tickets", Header: []rawhttp.Field{{Name: "Accept", Value: "text/event-stream"}}}, nil
		}},
		{Name: "a forged payroll-admin token under an unknown kid", build: forged(nil, func(k *Kit, c forge.Claims) (string, error) {
			return k.SignForeign(forge.Header{"kid": forge.Thumbprint(k.ForeignPublicKey())}, c)
		})},
	}
}

// Request builds the probe's request; its token is fetched now, so a later STS outage does not
// change it.
func (p Probe) Request(ctx context.Context, tg Target) (rawhttp.Request, error) {
	return p.build(ctx, &Kit{Credentials: tg.Creds, session: func(ctx context.Context, a scenarios.Actor, server string) (string, error) {
		return openSession(ctx, tg, a, server)
	}})
}

// Forbidden reports whether a journal entry of the upstream of resource is something a probe
// must never cause: gpt-4o on the LLM (only triage asks it), anything at payroll (only Alice
// tries it), a refund at payments (only the $9,000 one is tried).
func Forbidden(resource string, e journal.Entry) bool {
	switch resource {
	case "llm":
		return e.Model != "gpt-4o-mini"
	case "mcp:payroll":
		return true
	case "mcp:payments":
		return e.Tool == "refund_issue"
	}
	return false
}

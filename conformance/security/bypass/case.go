// Package bypass is the bypass corpus: requests an attacker would send through the gateway to
// get an unauthorised action past it, each written byte for byte (conformance/rawhttp)
// so the gateway sees exactly the trick. Every case is built so that, were it let through, it
// would be an unauthorised action (tier-1's $9,000 refund, payroll opened by someone who is not
// payroll-admin, gpt-4o for the triage agent, a forged or misplaced token): a denial is always
// the right answer. A case passes when the request is denied, no upstream's journal shows it,
// a synapse denial is in synapse's audit log, and the denial is one the case expects (so a case
// cannot pass by being denied for an unrelated reason).
package bypass

import (
	"context"
	"slices"

	"github.com/hopguard/hopguard/conformance/rawhttp"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/mockservers/journal"
)

// Case is one attempt.
type Case struct {
	ID       string
	Category string
	// Attack says what the request tries and what letting it through would allow.
	Attack string
	// Expect lists the acceptable denials: synapse denial codes, or LayerGateway for the
	// gateway's own refusal (400, 404, 413, a reset). Empty accepts any denial.
	Expect []string
	// Build prepares the request (and anything it needs, such as another principal's session)
	// through the kit.
	Build func(ctx context.Context, k *Kit) (rawhttp.Request, error)
	// Before, when set, is a request sent first on the same connection (pipelined) that may
	// well be allowed: the case is whether the connection's first decision carries over.
	Before func(ctx context.Context, k *Kit) (rawhttp.Request, error)
	// Forbidden, when set, says which upstream journal entries are the breach (Before's own
	// request is expected upstream); unset, every entry is.
	Forbidden func(resource string, e journal.Entry) bool
	// Allow marks a control: a well-formed request that must be allowed, proving the corpus
	// can tell an allow from a deny.
	Allow bool
	// Hidden makes a response-path case: the request may be let through, but its answer must
	// name none of these tools (the response path took them out), or be refused. Shown are
	// tools a control's answer must name, proving the list was not simply emptied.
	Hidden []string
	Shown  []string
}

// Layers that refuse a request.
const (
	// LayerSynapse: synapse denied it (the response carries its decision id).
	LayerSynapse = "synapse"
	// LayerGateway: the gateway refused it itself, before or without asking synapse.
	LayerGateway = "gateway"
	// LayerAuthzFailure: the gateway could not get an answer from synapse and failed closed.
	LayerAuthzFailure = "gateway (authz unavailable)"
	// LayerNone: nothing refused it.
	LayerNone = "none"
)

func (c Case) expects(layer, code string) bool {
	if len(c.Expect) == 0 {
		return true
	}
	if layer == LayerSynapse {
		return slices.Contains(c.Expect, code)
	}
	return slices.Contains(c.Expect, LayerGateway)
}

// Kit is what a case builds its request with.
type Kit struct {
	*Credentials
	session func(ctx context.Context, a scenarios.Actor, server string) (string, error)
}

// Session opens an MCP session of a with server through the gateway (an allowed initialize) and
// returns its Mcp-Session-Id: the session another principal then tries to use.
func (k *Kit) Session(ctx context.Context, a scenarios.Actor, server string) (string, error) {
	return k.session(ctx, a, server)
}

// Package audit writes synapse's decision log: one NDJSON line per decision,
// to stdout or a file, and filters such a log (`synapse audit`).
package audit

import "time"

// Record is one decision, as written to the log.
type Record struct {
	Time         time.Time `json:"time"`
	DecisionID   string    `json:"decision_id"`
	CerbosCallID string    `json:"cerbos_call_id,omitempty"`
	// Cached marks a decision that reused the answer Cerbos gave to decision CachedFrom, for
	// the very same request (synapse's decision cache); it has no Cerbos call of its own.
	Cached     bool   `json:"cached,omitempty"`
	CachedFrom string `json:"cached_from,omitempty"`
	// Effect is "allow" or "deny".
	Effect string `json:"effect"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Failure names what failed when no policy decided: "request" (could not
	// be mapped), "identity" (token), "identity_unavailable", "pdp" (Cerbos
	// error), "enrichment", "internal", "response_path" (a tool list the
	// response path withheld, synapse/extproc). Empty when the policy decided.
	Failure string `json:"failure,omitempty"`
	// Policy is the Cerbos policy that decided ("resource.mcp_payments.vdefault") and
	// PolicyVersion the version of the policy set it belongs to (policies/provenance), which
	// changes with any policy change; both empty when no policy decided (Failure is set).
	Policy        string `json:"policy,omitempty"`
	PolicyVersion string `json:"policy_version,omitempty"`

	Principal      string   `json:"principal,omitempty"`
	Roles          []string `json:"roles,omitempty"`
	Actor          string   `json:"actor,omitempty"`
	AgentID        string   `json:"agent_id,omitempty"`
	HarnessVersion string   `json:"harness_version,omitempty"`
	Task           string   `json:"task,omitempty"`
	TaskStatus     string   `json:"task_status,omitempty"`
	Ticket         string   `json:"ticket,omitempty"`

	// Kind is the resource kind of the route (llm, mcp:payments, ...).
	Kind      string     `json:"kind,omitempty"`
	Resources []Resource `json:"resources,omitempty"`

	LatencyMS float64 `json:"latency_ms"`
}

// Resource is one checked resource with the actions asked on it.
type Resource struct {
	Kind    string   `json:"kind"`
	ID      string   `json:"id"`
	Actions []string `json:"actions"`
}

// Effects of a Record.
const (
	EffectAllow = "allow"
	EffectDeny  = "deny"
)

// Package pdp asks the Cerbos policy decision point for decisions over gRPC,
// using Cerbos's own generated API (github.com/cerbos/cerbos/api/genpb).
//
// The request and response types here are plain Go values so that callers
// (synapse/authz) depend on neither protobuf nor gRPC, and a future client
// (the Cerbos Go SDK) can sit behind the same shapes.
package pdp

// Principal is who asks: the verified token's subject and roles, and
// attributes from the token and from enrichment.
type Principal struct {
	ID    string
	Roles []string
	Attr  map[string]any
}

// Resource is what is asked for, with the actions to decide on it.
type Resource struct {
	Kind    string
	ID      string
	Attr    map[string]any
	Actions []string
}

// Metadata travels as gRPC headers so that Cerbos's decision log keeps it
// (policies/cerbos.yaml lists these headers in includeMetadataKeys).
type Metadata struct {
	DecisionID     string
	AgentID        string
	HarnessVersion string
	TaskID         string
}

// Header names of Metadata, as policies/cerbos.yaml expects them.
const (
	HeaderDecisionID     = "x-hopguard-decision-id"
	HeaderAgentID        = "x-hopguard-agent-id"
	HeaderHarnessVersion = "x-hopguard-harness-version"
	HeaderTaskID         = "x-hopguard-task-id"
)

// Request is one CheckResources call: one principal, one or more resources.
type Request struct {
	// RequestID is echoed by Cerbos and written to its decision log.
	RequestID string
	Principal Principal
	Resources []Resource
	Metadata  Metadata
}

// Effect is Cerbos's decision for one action.
type Effect string

const (
	EffectAllow Effect = "allow"
	// EffectDeny covers every effect that is not an explicit allow.
	EffectDeny Effect = "deny"
)

// Response is Cerbos's answer to a Request.
type Response struct {
	RequestID string
	// CallID is Cerbos's id for the call, as written in its decision log.
	CallID  string
	Results []Result
}

// Result is the decision for one Resource of the Request, in request order.
type Result struct {
	Kind    string
	ID      string
	Actions map[string]Effect
	// Outputs are the outputs of the rules that fired.
	Outputs []Output
	// ValidationErrors are the schema violations Cerbos found in the request.
	ValidationErrors []ValidationError
}

// Output is the output expression of a rule that fired.
type Output struct {
	// Source names the rule, e.g. "resource.mcp_payments.vdefault#tier-1-refund-cap".
	Source string
	Action string
	// Value is the output as plain JSON-like Go values (map[string]any, ...).
	Value any
	// Error is set when Cerbos could not evaluate the output expression.
	Error string
}

// ValidationError is one schema violation.
type ValidationError struct {
	Path    string
	Message string
	// Source is "principal" or "resource".
	Source string
}

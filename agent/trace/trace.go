// Package trace records the hops an agent run makes: every exchange at the
// STS, every model call and every MCP message that went out through the
// gateway, with what was decided.
package trace

import (
	"encoding/json"
	"sync"

	"github.com/hopguard/hopguard/agent/denial"
)

// Plane says which side of the agent a hop went to.
type Plane string

// The planes an agent reaches.
const (
	// PlaneSTS is the token exchange at boot; it does not go through the gateway.
	PlaneSTS Plane = "sts"
	// PlaneLLM is a model call.
	PlaneLLM Plane = "llm"
	// PlaneMCP is an MCP message to one tool server.
	PlaneMCP Plane = "mcp"
)

// Decision is what became of a hop, as the agent saw it.
type Decision string

// The decisions a hop can end in.
const (
	// Allow: the hop went through and the upstream answered.
	Allow Decision = "allow"
	// Deny: the gateway refused the hop with a policy decision.
	Deny Decision = "deny"
	// Error: the hop failed for another reason (network, upstream, protocol).
	Error Decision = "error"
)

// Hop is one request the agent made and what became of it.
type Hop struct {
	// Step is the loop iteration the hop belongs to; 0 for boot and discovery.
	Step  int   `json:"step"`
	Plane Plane `json:"plane"`
	// Target is the model name, the MCP server, or the resource exchanged for.
	Target string `json:"target"`
	// Action is what was asked: "completion", "initialize", "tools/list",
	// "tools/call", "token-exchange".
	Action string `json:"action"`
	// Tool names the tool of a tools/call.
	Tool string `json:"tool,omitempty"`
	// Arguments are the tool call's arguments as the model produced them.
	Arguments json.RawMessage `json:"arguments,omitempty"`
	Decision  Decision        `json:"decision"`
	// Reason says why a hop was denied or failed.
	Reason string `json:"reason,omitempty"`
	// Denial is the structured denial, when Decision is Deny.
	Denial *denial.Denial `json:"denial,omitempty"`
	// Note is a short account of what came back on success ("7 tools",
	// "2 tool calls: get_ticket, get_customer").
	Note string `json:"note,omitempty"`
	// Policy is the policy that decided a hop through the gateway and its set's version, as
	// synapse named it ("resource.mcp_payments.vdefault#tier-1-refund-cap sha256:..."); empty
	// where none did (the STS, a gateway's own fail-closed reply).
	Policy string `json:"policy,omitempty"`
}

// Recorder collects hops in order and tells an observer about each as it
// happens, so a narrative can be printed while the run is still going.
// It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	hops    []Hop
	observe func(Hop)
}

// NewRecorder returns a recorder that calls observe (if not nil) for every hop.
func NewRecorder(observe func(Hop)) *Recorder {
	return &Recorder{observe: observe}
}

// Record appends h and tells the observer.
func (r *Recorder) Record(h Hop) {
	r.mu.Lock()
	r.hops = append(r.hops, h)
	observe := r.observe
	r.mu.Unlock()
	if observe != nil {
		observe(h)
	}
}

// Hops returns a copy of every hop recorded so far.
func (r *Recorder) Hops() []Hop {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Hop(nil), r.hops...)
}

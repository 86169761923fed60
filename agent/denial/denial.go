// Package denial reads the structured denials hopguard's gateway returns.
//
// Every policy DENY rule, and synapse itself when it denies without a rule,
// emits the same policy output:
//
//	{"decision":"deny","reason":"...","code":"...","remediation":{...}}
//
// It reaches the agent in one of four envelopes, the route's own error format
// (a JSON-RPC error's data, a tools/call result's _meta, the "hopguard" field of
// an OpenAI error or of an Anthropic error); the packages that speak those
// protocols unwrap the envelope and hand the bytes here, or hand the whole body
// to FromBody. The gateways' own fail-closed replies use the same envelopes.
package denial

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MetaKey is the _meta key under which a denied tools/call result carries the
// policy output.
const MetaKey = "io.hopguard/denial"

// Response headers every gateway denial carries.
const (
	// DecisionHeader is "deny" on every denial, whatever the HTTP status.
	DecisionHeader = "X-Hopguard-Decision"
	// DecisionIDHeader names the decision in synapse's and Cerbos's logs.
	DecisionIDHeader = "X-Hopguard-Decision-Id"
	// CodeHeader carries the denial's code on a gateway's own fail-closed reply, for a gateway
	// that cannot give that reply a body with it (CONTRACTS.md, "Denial responses").
	CodeHeader = "X-Hopguard-Code"
	// PolicyHeader names the policy that decided a hop, allowed or denied, and the version of
	// the policy set it belongs to (CONTRACTS.md, "Which policy decided").
	PolicyHeader = "X-Hopguard-Policy"
)

// maxOutputBytes bounds the policy output this package parses: a denial is a
// few hundred bytes, and anything far larger is not one.
const maxOutputBytes = 64 << 10

// Denial is one policy decision that refused a hop.
type Denial struct {
	// Reason is the human-readable why, as the policy wrote it.
	Reason string `json:"reason"`
	// Code is the machine-readable why (e.g. "refund_cap_exceeded"); empty
	// when the denial reached the agent only as text.
	Code string `json:"code,omitempty"`
	// Remediation says what would turn the denial into an allow, e.g.
	// {"type":"step_up","approvers_role":"tier-2-lead"}.
	Remediation map[string]any `json:"remediation,omitempty"`
	// DecisionID names the decision in the gateway's audit trail, when the
	// agent saw it.
	DecisionID string `json:"decision_id,omitempty"`
}

// ErrNotDenial reports bytes that are not a policy output that denies.
var ErrNotDenial = errors.New("not a hopguard denial")

// wire is the policy output as synapse sends it.
type wire struct {
	Decision    string          `json:"decision"`
	Reason      string          `json:"reason"`
	Code        string          `json:"code"`
	Remediation json.RawMessage `json:"remediation"`
	DecisionID  string          `json:"decision_id"`
}

// Parse reads a policy output. It fails with ErrNotDenial unless raw is a JSON
// object whose decision is "deny"; a remediation that is not an object is
// ignored rather than failing the whole denial, since the reason is what the
// agent needs most.
func Parse(raw []byte) (Denial, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || len(raw) > maxOutputBytes {
		return Denial{}, fmt.Errorf("policy output of %d bytes: %w", len(raw), ErrNotDenial)
	}
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		return Denial{}, fmt.Errorf("policy output: %w: %w", ErrNotDenial, err)
	}
	if !strings.EqualFold(w.Decision, "deny") {
		return Denial{}, fmt.Errorf("policy output decision %q: %w", w.Decision, ErrNotDenial)
	}
	d := Denial{Reason: w.Reason, Code: w.Code, DecisionID: w.DecisionID}
	var remediation map[string]any
	if len(w.Remediation) > 0 && json.Unmarshal(w.Remediation, &remediation) == nil && len(remediation) > 0 {
		d.Remediation = remediation
	}
	if d.Reason == "" {
		d.Reason = "denied by policy (no reason given)"
	}
	return d, nil
}

// ParseValue reads a policy output that a JSON decoder has already turned into
// Go values (a map[string]any from a _meta or an error's data).
func ParseValue(v any) (Denial, error) {
	if v == nil {
		return Denial{}, fmt.Errorf("no policy output: %w", ErrNotDenial)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return Denial{}, fmt.Errorf("policy output: %w: %w", ErrNotDenial, err)
	}
	return Parse(raw)
}

// String renders the denial on one line:
// "refund_cap_exceeded: tier-1-support refund cap exceeded (remediation: step_up, approvers tier-2-lead)".
func (d Denial) String() string {
	var b strings.Builder
	if d.Code != "" {
		b.WriteString(d.Code)
		b.WriteString(": ")
	}
	b.WriteString(d.Reason)
	if r := d.RemediationSummary(); r != "" {
		fmt.Fprintf(&b, " (remediation: %s)", r)
	}
	return b.String()
}

// RemediationSummary renders the remediation as "step_up, approvers
// tier-2-lead": its type first, then every other field in name order.
func (d Denial) RemediationSummary() string {
	if len(d.Remediation) == 0 {
		return ""
	}
	var parts []string
	if t, ok := d.Remediation["type"]; ok {
		parts = append(parts, fmt.Sprint(t))
	}
	for _, k := range slices.Sorted(maps.Keys(d.Remediation)) {
		if k == "type" {
			continue
		}
		label := k
		if k == "approvers_role" {
			label = "approvers"
		}
		parts = append(parts, label+" "+renderValue(d.Remediation[k]))
	}
	return strings.Join(parts, ", ")
}

func renderValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "null"
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(raw)
	}
}

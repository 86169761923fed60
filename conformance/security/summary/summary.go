// Package summary records what the security suite found and writes it as
// out/conformance/security.md and security.json: every bypass case behind every gateway (with
// the layer that refused it), the fault drills, and the audit completeness counts.
package summary

import (
	"slices"
	"sync"
	"time"

	"github.com/hopguard/hopguard/conformance/security/bypass"
)

// Gateway is a column of the corpus table; NotRunReason is set when it could not run here.
type Gateway struct {
	Name         string `json:"name"`
	Detail       string `json:"detail,omitempty"`
	NotRunReason string `json:"not_run_reason,omitempty"`
}

// Case describes one corpus case (or control).
type Case struct {
	ID       string   `json:"id"`
	Category string   `json:"category"`
	Attack   string   `json:"attack"`
	Expect   []string `json:"expect,omitempty"`
	Control  bool     `json:"control,omitempty"`
}

// Fault is one fault drill: what was broken, how many probes went through it, and the verdict.
type Fault struct {
	Name     string `json:"name"`
	Gateway  string `json:"gateway"`
	Pass     bool   `json:"pass"`
	Detail   string `json:"detail"`
	Probes   int    `json:"probes"`             // requests sent while the drill ran
	InWindow int    `json:"in_fault_window"`    // of which began and ended while the fault held
	Allowed  int    `json:"allowed_in_window"`  // of those, allowed (must be 0)
	Leaked   int    `json:"forbidden_upstream"` // forbidden requests an upstream saw (must be 0)
}

// Audit is the audit completeness count of one load run.
type Audit struct {
	Gateway        string `json:"gateway"`
	Requests       int    `json:"requests"`
	Allowed        int    `json:"allowed"`
	Denied         int    `json:"denied"`
	SynapseRecords int    `json:"synapse_records"` // new lines in synapse's audit log
	Matched        int    `json:"matched"`         // responses whose decision id has exactly one record with the same effect
	CerbosExpected int    `json:"cerbos_expected"` // decisions that asked Cerbos
	CerbosEntries  int    `json:"cerbos_entries"`  // new entries in Cerbos's decision log
	CerbosMatched  int    `json:"cerbos_matched"`  // Cerbos entries carrying a decision id of the run, with its call id
	Pass           bool   `json:"pass"`
	Detail         string `json:"detail,omitempty"` // what did not match
}

// Escape is one attempt, made from inside the agent's sandbox, to reach something other than
// the gateway: it passes when it gets nowhere. The controls (the gateway, the STS's token
// endpoint) pass when they answer.
type Escape struct {
	Gateway string `json:"gateway"` // whose sandbox: its exit leads to this gateway
	Name    string `json:"name"`
	Attempt string `json:"attempt"` // "tcp 127.0.0.1:4000", "GET http://127.0.0.1:4001/path"
	Control bool   `json:"control,omitempty"`
	Got     string `json:"got"` // what came of it
	Pass    bool   `json:"pass"`
}

// Sandbox is the escape attempts from the agent's sandbox, or why they were not made.
type Sandbox struct {
	NotRunReason string   `json:"not_run_reason,omitempty"`
	Escapes      []Escape `json:"escapes,omitempty"`
}

// Identity is one check of the workload identity SPIRE gives: who gets the triage agent's
// identity, and what the STS and the gateway make of an SVID that is not what they take.
type Identity struct {
	Name string `json:"name"`
	Must string `json:"must"`
	Got  string `json:"got"`
	Pass bool   `json:"pass"`
}

// Identities are the workload identity checks, or why they were not made.
type Identities struct {
	NotRunReason string     `json:"not_run_reason,omitempty"`
	Checks       []Identity `json:"checks,omitempty"`
}

// Summary is the whole report.
type Summary struct {
	GeneratedAt time.Time       `json:"generated_at"`
	Runtime     string          `json:"runtime"`
	Gateways    []Gateway       `json:"gateways"`
	Cases       []Case          `json:"cases"`
	Results     []bypass.Result `json:"results"`
	Faults      []Fault         `json:"faults"`
	Audits      []Audit         `json:"audits"`
	Sandbox     Sandbox         `json:"sandbox"`
	Identities  Identities      `json:"workload_identity"`
}

// Recorder collects results while tests run; it is safe for concurrent use.
type Recorder struct {
	mu sync.Mutex
	s  Summary
}

// NewRecorder starts a summary of a run on runtime, listing the corpus and controls.
func NewRecorder(runtime string, gateways []Gateway, corpus, controls []bypass.Case) *Recorder {
	r := &Recorder{s: Summary{Runtime: runtime, Gateways: slices.Clone(gateways)}}
	for _, c := range controls {
		r.s.Cases = append(r.s.Cases, Case{ID: c.ID, Category: c.Category, Attack: c.Attack, Control: true})
	}
	for _, c := range corpus {
		r.s.Cases = append(r.s.Cases, Case{ID: c.ID, Category: c.Category, Attack: c.Attack, Expect: c.Expect})
	}
	return r
}

// Result records one case behind one gateway.
func (r *Recorder) Result(res bypass.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Results = append(r.s.Results, res)
}

// Fault records one fault drill.
func (r *Recorder) Fault(f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Faults = append(r.s.Faults, f)
}

// Audit records one audit completeness run.
func (r *Recorder) Audit(a Audit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Audits = append(r.s.Audits, a)
}

// Escape records one attempt from inside the agent's sandbox.
func (r *Recorder) Escape(e Escape) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Sandbox.Escapes = append(r.s.Sandbox.Escapes, e)
}

// SandboxNotRun records why no sandbox could be made here.
func (r *Recorder) SandboxNotRun(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Sandbox.NotRunReason = why
}

// Identity records one workload identity check.
func (r *Recorder) Identity(i Identity) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Identities.Checks = append(r.s.Identities.Checks, i)
}

// IdentitiesNotRun records why the workload identity checks were not made.
func (r *Recorder) IdentitiesNotRun(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Identities.NotRunReason = why
}

// Summary is what was recorded, stamped now.
func (r *Recorder) Summary(now time.Time) Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.s
	s.GeneratedAt = now.UTC()
	s.Gateways = slices.Clone(s.Gateways)
	s.Cases = slices.Clone(s.Cases)
	s.Results = slices.Clone(s.Results)
	s.Faults = slices.Clone(s.Faults)
	s.Audits = slices.Clone(s.Audits)
	s.Sandbox.Escapes = slices.Clone(s.Sandbox.Escapes)
	s.Identities.Checks = slices.Clone(s.Identities.Checks)
	return s
}

// Package report records how each scenario went behind each gateway and writes the portability
// report: a matrix of gateway x scenario -> pass / fail / not run (with the reason), and whether
// the gateways that ran a scenario reached the same decisions.
package report

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Outcome is how one scenario went behind one gateway.
type Outcome string

// The outcomes. "not run" is never a pass: a gateway that cannot run here says why. "cannot"
// (client matrix only) is never a pass either: a cell the gateway cannot meet at all, which
// the gateway's notes explain (the cell's Reason quotes them); no other cell may take it.
const (
	Pass   Outcome = "pass"
	Fail   Outcome = "fail"
	NotRun Outcome = "not run"
	Cannot Outcome = "cannot"
)

// Decision is one hop's decision as the client saw it; the tuple compared across gateways.
type Decision struct {
	Step     string `json:"step"`               // what was tried, e.g. "tier-1 refund $9,000"
	Decision string `json:"decision"`           // "allow" or "deny"
	Code     string `json:"code,omitempty"`     // the policy's code on deny, e.g. "refund_cap_exceeded"
	Status   int    `json:"status,omitempty"`   // the HTTP status the client received
	Upstream bool   `json:"upstream_contacted"` // whether the mock upstream saw the request
}

// Result is one (gateway, scenario) cell of the matrix.
type Result struct {
	Gateway   string        `json:"gateway"`
	Scenario  string        `json:"scenario"`
	Outcome   Outcome       `json:"outcome"`
	Reason    string        `json:"reason,omitempty"` // why it failed or did not run
	Decisions []Decision    `json:"decisions,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
}

// Scenario names a row of the matrix.
type Scenario struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Gateway names a column of the matrix; NotRunReason is set when it could not run at all.
type Gateway struct {
	Name         string `json:"name"`
	Detail       string `json:"detail,omitempty"` // e.g. "Envoy 1.40.0, process runtime"
	NotRunReason string `json:"not_run_reason,omitempty"`
	// Notes say how what ran differs from the gateway's own configuration, and where its
	// behaviour differs from the other gateways' in ways the scenarios allow for.
	Notes []string `json:"notes,omitempty"`
}

// Agreement says whether the gateways that ran a scenario decided alike.
type Agreement struct {
	Scenario string   `json:"scenario"`
	Gateways []string `json:"gateways"` // those whose decisions were compared
	Agree    *bool    `json:"agree"`    // nil when fewer than two gateways ran it
	Detail   string   `json:"detail"`
}

// Report is the whole portability report.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	Runtime     string    `json:"runtime"`
	// AgentIdentity says where the autonomous triage agent's identity came from in this run
	// (SPIRE, or a client secret and why).
	AgentIdentity string      `json:"agent_identity,omitempty"`
	Gateways      []Gateway   `json:"gateways"`
	Scenarios     []Scenario  `json:"scenarios"`
	Results       []Result    `json:"results"`
	Agreement     []Agreement `json:"agreement"`
	// ClientSDKs, ClientMatrix and Parity are the client matrix (hops played with official
	// client libraries) and the upstream parity comparison; empty when they were not run.
	ClientSDKs   []ClientSDK  `json:"client_sdks,omitempty"`
	ClientMatrix []ClientCell `json:"client_matrix,omitempty"`
	Parity       []ParityHop  `json:"parity,omitempty"`
	// Lifecycle is the MCP session lifecycle, the upstream reached directly first.
	Lifecycle []LifecycleRun `json:"session_lifecycle,omitempty"`
	// Transparency is the official MCP conformance framework run directly and behind each
	// gateway.
	Transparency *Transparency `json:"mcp_transparency,omitempty"`
}

// Recorder collects results while tests run; it is safe for concurrent use.
type Recorder struct {
	mu        sync.Mutex
	runtime   string
	identity  string
	gateways  []Gateway
	scenarios []Scenario
	results   map[[2]string]Result

	clientSDKs  []ClientSDK
	clientCells []ClientCell
	parity      []ParityHop
	lifecycle   []LifecycleRun

	transparency *Transparency
}

// NewRecorder returns an empty recorder for a run on the named runtime.
func NewRecorder(runtime string) *Recorder {
	return &Recorder{runtime: runtime, results: map[[2]string]Result{}}
}

// SetAgentIdentity records where the autonomous triage agent's identity comes from.
func (r *Recorder) SetAgentIdentity(identity string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.identity = identity
}

// AddGateway declares a column; call it for every gateway, including those that cannot run.
func (r *Recorder) AddGateway(g Gateway) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.IndexFunc(r.gateways, func(x Gateway) bool { return x.Name == g.Name }); i >= 0 {
		r.gateways[i] = g
		return
	}
	r.gateways = append(r.gateways, g)
}

// AddScenario declares a row.
func (r *Recorder) AddScenario(s Scenario) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.ContainsFunc(r.scenarios, func(x Scenario) bool { return x.ID == s.ID }) {
		r.scenarios = append(r.scenarios, s)
	}
}

// Record stores a result, replacing an earlier one for the same cell.
func (r *Recorder) Record(res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[[2]string{res.Gateway, res.Scenario}] = res
}

// Report builds the report: every declared cell has a result (a cell never recorded is "not
// run", with the gateway's reason if it had one), and the agreement is computed.
func (r *Recorder) Report(now time.Time) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{
		GeneratedAt:   now.UTC(),
		Runtime:       r.runtime,
		AgentIdentity: r.identity,
		Gateways:      slices.Clone(r.gateways),
		Scenarios:     slices.Clone(r.scenarios),

		ClientSDKs:   slices.Clone(r.clientSDKs),
		ClientMatrix: slices.Clone(r.clientCells),
		Parity:       slices.Clone(r.parity),
		Lifecycle:    slices.Clone(r.lifecycle),
		Transparency: r.transparency,
	}
	for _, s := range r.scenarios {
		for _, g := range r.gateways {
			res, ok := r.results[[2]string{g.Name, s.ID}]
			if !ok {
				res = Result{Gateway: g.Name, Scenario: s.ID, Outcome: NotRun, Reason: cmp.Or(g.NotRunReason, "the scenario was not run (filtered out, or the run stopped before it)")}
			}
			rep.Results = append(rep.Results, res)
		}
	}
	for _, s := range r.scenarios {
		rep.Agreement = append(rep.Agreement, agreement(s.ID, rep.Results))
	}
	return rep
}

// agreement compares the decision tuples of the gateways that ran the scenario to the end.
func agreement(scenario string, results []Result) Agreement {
	a := Agreement{Scenario: scenario}
	var ran []Result
	for _, res := range results {
		if res.Scenario == scenario && res.Outcome != NotRun && len(res.Decisions) > 0 {
			ran = append(ran, res)
			a.Gateways = append(a.Gateways, res.Gateway)
		}
	}
	if len(ran) < 2 {
		a.Detail = fmt.Sprintf("%d gateway(s) ran it: nothing to compare", len(ran))
		return a
	}
	agree := true
	a.Detail = "same decisions on every hop"
	for _, other := range ran[1:] {
		if diff := firstDifference(ran[0].Decisions, other.Decisions); diff != "" {
			agree = false
			a.Detail = fmt.Sprintf("%s and %s differ: %s", ran[0].Gateway, other.Gateway, diff)
			break
		}
	}
	a.Agree = &agree
	return a
}

// firstDifference compares what matters for portability: the step, the decision, the policy
// code and whether the upstream was reached. Status codes may differ by gateway and are shown,
// not compared.
func firstDifference(a, b []Decision) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d hops vs %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Step != y.Step || x.Decision != y.Decision || x.Code != y.Code || x.Upstream != y.Upstream {
			return fmt.Sprintf("hop %q: %s/%s/upstream=%t vs %s/%s/upstream=%t", x.Step, x.Decision, x.Code, x.Upstream, y.Decision, y.Code, y.Upstream)
		}
	}
	return ""
}

package loop

import (
	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/trace"
)

// Outcome is how a run ended.
type Outcome string

// The outcomes of a run.
const (
	// Success: the model finished its work and gave its final answer.
	// Denials along the way (a refused refund, a server that would not open)
	// are in the hops; the agent worked around them.
	Success Outcome = "success"
	// Denied: a denial stopped the run (the model call was denied and no
	// fallback was allowed).
	Denied Outcome = "denied"
	// StepLimit: the model was still calling tools when the step limit hit.
	StepLimit Outcome = "step_limit"
	// Failed: something other than a policy stopped the run.
	Failed Outcome = "error"
)

// Exit codes of the agent binary, one per outcome class.
const (
	ExitSuccess = 0
	ExitError   = 1
	ExitDenied  = 2
)

// ExitCode is the process exit code for the outcome.
func (o Outcome) ExitCode() int {
	switch o {
	case Success:
		return ExitSuccess
	case Denied:
		return ExitDenied
	default:
		return ExitError
	}
}

// ServerState says what became of one MCP server at discovery.
type ServerState string

// The states a server ends discovery in.
const (
	ServerOpen   ServerState = "open"
	ServerDenied ServerState = "denied"
	ServerFailed ServerState = "error"
)

// Server is one MCP server as discovery left it.
type Server struct {
	Name  string      `json:"name"`
	URL   string      `json:"url"`
	State ServerState `json:"state"`
	// Tools are the tools it listed, empty unless State is ServerOpen.
	Tools  []string       `json:"tools,omitempty"`
	Reason string         `json:"reason,omitempty"`
	Denial *denial.Denial `json:"denial,omitempty"`
}

// Result is what a run did.
type Result struct {
	Outcome Outcome `json:"outcome"`
	// Principal is who the run acted as; Actor the workload acting for it.
	Principal string `json:"principal"`
	Actor     string `json:"actor,omitempty"`
	Ticket    string `json:"ticket"`
	// Model is the model of the last model call (the fallback, if used).
	Model string `json:"model"`
	// Steps is the number of loop steps taken: model calls that did work (a
	// denied call that led to the fallback model does not count).
	Steps int `json:"steps"`
	// Servers is what discovery found, in the configured order.
	Servers []Server `json:"servers"`
	// Offered are the function names the model was offered.
	Offered []string `json:"offered"`
	// Answer is the model's final message, on success.
	Answer string `json:"answer,omitempty"`
	// Reason says why the run ended when it did not succeed.
	Reason string `json:"reason,omitempty"`
	// Denial is the denial that stopped the run, when Outcome is Denied.
	Denial *denial.Denial `json:"denial,omitempty"`
	Hops   []trace.Hop    `json:"hops,omitempty"`
}

// Denials counts the hops that were denied.
func (r Result) Denials() int {
	n := 0
	for _, h := range r.Hops {
		if h.Decision == trace.Deny {
			n++
		}
	}
	return n
}

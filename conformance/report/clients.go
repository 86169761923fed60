package report

import "slices"

// ClientSDK is one official client library the client matrix plays hops with.
type ClientSDK struct {
	Name    string `json:"name"`    // as the matrix names it, e.g. "openai-go"
	Module  string `json:"module"`  // its Go module
	Version string `json:"version"` // the version built into the run
	Speaks  string `json:"speaks"`  // the API or protocol version it plays
}

// ClientCell is one client x gateway x kind of hop of the client matrix: what the client's own
// API surfaced when the hop was played with it through the gateway.
type ClientCell struct {
	Client  string  `json:"client"`
	Hop     string  `json:"hop"` // the kind of hop, e.g. "denied call"
	Gateway string  `json:"gateway"`
	Outcome Outcome `json:"outcome"`
	// Played is what was played, e.g. "alice refunds $9,000 on T-1001 (tools/call refund_issue)";
	// Want what passing takes, e.g. "denied, refund_cap_exceeded readable".
	Played string `json:"played"`
	Want   string `json:"want"`
	// Surfaced is what the SDK's API returned, on one line.
	Surfaced string `json:"surfaced"`
	// ErrorType is the SDK's type the outcome was read through (its exported name, e.g.
	// "*openai.Error"), or the Go type of an error that is none of the SDK's own.
	ErrorType string `json:"error_type,omitempty"`
	// Code is the hopguard code read through ErrorType ("" when none could be read).
	Code string `json:"code,omitempty"`
	// Status is the HTTP status of the call's last response, as the client received it.
	Status int `json:"status,omitempty"`
	// Sent is how many requests of the call the client sent, AtSynapse how many synapse decided
	// (its audit records of the call's action). Retried is set when one of them was sent again.
	Sent      int  `json:"requests_sent"`
	AtSynapse int  `json:"requests_at_synapse"`
	Retried   bool `json:"retried"`
	// Requests are every request the client sent while the call was measured, with the answer.
	Requests []string `json:"requests,omitempty"`
	// Failed names the expectations not met; Reason says why, and what explains it where a
	// client library's or a gateway's documented behaviour does.
	Failed []string `json:"failed,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// ParityHop compares what the upstream received for the same hop behind every gateway.
type ParityHop struct {
	Hop string `json:"hop"` // e.g. "openai-go: allowed call"
	// Gateways are those compared; the first is the baseline the others are read against.
	Gateways    []string           `json:"gateways"`
	Outcome     Outcome            `json:"outcome"`
	Reason      string             `json:"reason,omitempty"`
	Differences []ParityDifference `json:"differences,omitempty"`
}

// ParityDifference is one field of one upstream request that did not arrive the same behind
// every gateway.
type ParityDifference struct {
	Request string `json:"request"` // e.g. "POST /v1/chat/completions"
	Field   string `json:"field"`   // a body field ("max_tokens", "params.arguments"), or what else differs
	// Values are what each gateway's upstream received; "" is absent.
	Values          map[string]string `json:"values"`
	MeaningChanging bool              `json:"meaning_changing"`
	Why             string            `json:"why"`
}

// Deviating are the gateways whose value differs from the baseline's (gateways[0]).
func (d ParityDifference) Deviating(gateways []string) []string {
	if len(gateways) == 0 {
		return nil
	}
	var out []string
	for _, g := range gateways[1:] {
		if d.Values[g] != d.Values[gateways[0]] {
			out = append(out, g)
		}
	}
	return out
}

// SetClientSDKs declares the client libraries of the client matrix.
func (r *Recorder) SetClientSDKs(sdks []ClientSDK) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clientSDKs = slices.Clone(sdks)
}

// RecordClientCells adds client matrix cells, in the order the matrix shows them.
func (r *Recorder) RecordClientCells(cells ...ClientCell) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clientCells = append(r.clientCells, cells...)
}

// RecordParity adds upstream parity comparisons.
func (r *Recorder) RecordParity(hops ...ParityHop) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.parity = append(r.parity, hops...)
}

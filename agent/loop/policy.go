package loop

import (
	"net/http"
	"sync"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/trace"
)

// policyObserver is an http.RoundTripper that keeps the policy that decided the last request the
// agent sent through the gateway, as synapse names it (denial.PolicyHeader: the policy and its
// set's version), for the hop it belongs to. The agent's clients surface no response header of
// an allowed call; reading it on the way past is the only way to learn it. Only POSTs count:
// each hop is one, and an MCP event stream's GET, opened beside them, is no hop of its own.
type policyObserver struct {
	next http.RoundTripper

	mu   sync.Mutex
	last string
}

func (o *policyObserver) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost {
		return resp, err
	}
	o.mu.Lock()
	o.last = resp.Header.Get(denial.PolicyHeader)
	o.mu.Unlock()
	return resp, nil
}

// take returns the policy of the last POST since the last take and forgets it.
func (o *policyObserver) take() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.last
	o.last = ""
	return p
}

// observePolicies returns a copy of client whose requests pass o first.
func observePolicies(client *http.Client) (*http.Client, *policyObserver) {
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	o := &policyObserver{next: next}
	observed := *client
	observed.Transport = o
	return &observed, o
}

// record records a hop; one through the gateway carries the policy that decided it.
func (r *run) record(h trace.Hop) {
	if h.Plane != trace.PlaneSTS {
		h.Policy = r.policies.take()
	}
	r.rec.Record(h)
}

package scenarios

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/respond"
)

// Env is one gateway in a running environment, as the scenarios see it.
type Env struct {
	Gateway    string
	GatewayURL string
	// STSURL issues valid tokens; ExpiredSTSURL genuine tokens that have already expired.
	STSURL        string
	ExpiredSTSURL string
	Admin         *admin.Client
	// Journals of the mock upstreams, by resource ("llm", "mcp:payments").
	Journals map[string]*journal.Client
	// AuditLog is synapse's NDJSON decision log; CerbosLog is Cerbos's ("" skips that check).
	AuditLog  string
	CerbosLog string
	Control   Control
	// RunID makes task ids unique across scenarios, gateways and repeated runs.
	RunID string
	// Agent runs the agent of Agent steps in its sandbox (conformance/agentrun); when nil, it
	// runs in this process, with every address in reach, and AgentUnsandboxed says why.
	Agent            AgentRunner
	AgentUnsandboxed error
	// SPIFFESocket is the Workload API of SPIRE's agent, where the agent binary gets the triage
	// workload's JWT-SVID (the workload then has no secret at STSURL), and DriverSTSURL an STS of
	// the test driver's own, where this process gets that workload's tokens for the hops it
	// makes itself. Both empty where SPIRE does not run, and Unattested says why.
	SPIFFESocket string
	DriverSTSURL string
	Unattested   error
	// WorkloadSelectors are what SPIRE must see of a process to give it the workload's identity.
	WorkloadSelectors []string
	// Policies is the policy set the run's Cerbos watches, which the policy-change scenarios
	// change live; nil where the run cannot (they then fail, saying so).
	Policies *Policies
}

// AgentRunner runs the agent somewhere other than this process. As loop.Run, it returns an
// error exactly when the run did not succeed; cfg.HTTPClient carries the agent's requests out
// and cfg.OnHop hears of each hop.
type AgentRunner interface {
	Run(ctx context.Context, cfg loop.Config) (loop.Result, error)
}

// Control stops and restarts components (the fail-closed scenario).
type Control interface {
	Stop(ctx context.Context, component string) error
	// Restart starts a component again and waits until it is ready.
	Restart(ctx context.Context, component string) error
	// Ready waits until a running component reports ready again (synapse, once Cerbos is back).
	Ready(ctx context.Context, component string) error
	// PIDs are the components' main processes (the policy-change scenarios check that none
	// restarted).
	PIDs(ctx context.Context) (map[string]int, error)
}

// response is what the capturing transport saw of one response.
type response struct {
	method, path string
	status       int
	denied       bool   // exactly one x-hopguard-decision header, "deny"
	decision     string // every x-hopguard-decision value, comma-joined
	decisionID   string
	shouldRetry  string // every x-should-retry value, comma-joined: a doubled header is not "false"
	policy       string // x-hopguard-policy: the policy that decided and its set's version
}

// capture is an http.RoundTripper that remembers every response's status and decision headers,
// which the agent's clients do not surface (the report shows the status; the decision id finds
// the audit record).
type capture struct {
	next http.RoundTripper

	mu   sync.Mutex
	seen []response
}

func (c *capture) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	c.mu.Lock()
	c.seen = append(c.seen, response{
		method:      req.Method,
		path:        req.URL.Path,
		status:      resp.StatusCode,
		denied:      strings.EqualFold(strings.Join(resp.Header.Values(denial.DecisionHeader), ","), "deny"),
		decision:    strings.Join(resp.Header.Values(denial.DecisionHeader), ","),
		decisionID:  resp.Header.Get(denial.DecisionIDHeader),
		shouldRetry: strings.Join(resp.Header.Values(respond.HeaderShouldRetry), ","),
		policy:      resp.Header.Get(respond.HeaderPolicy),
	})
	c.mu.Unlock()
	return resp, nil
}

// take returns what was seen since the last take.
func (c *capture) take() []response {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.seen)
	c.seen = c.seen[:0]
	return out
}

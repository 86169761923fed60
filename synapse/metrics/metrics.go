// Package metrics holds synapse's Prometheus metrics, on a registry of its
// own (no global state), served at /metrics.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxLabelValues bounds the distinct values of a label that comes from a
// request (actions carry tool names, which any client can make up): past the
// bound, new values are counted as "other" so that a hostile client cannot
// grow the series without end.
const maxLabelValues = 200

// OtherLabel replaces label values past the bound.
const OtherLabel = "other"

// Metrics are synapse's decision metrics.
type Metrics struct {
	registry  *prometheus.Registry
	checks    *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	denials   *prometheus.CounterVec
	pdpErrors *prometheus.CounterVec
	cached    prometheus.Counter
	lists     *prometheus.CounterVec
	hidden    *prometheus.CounterVec
	grants    *prometheus.CounterVec
	policy    *prometheus.GaugeVec
	// version is the policy set's version policy holds, compared before any lock: it changes
	// only when the policies do.
	version   atomic.Pointer[string]
	versionMu sync.Mutex
	kinds     *boundedLabel
	actions   *boundedLabel
	codes     *boundedLabel
}

// New registers synapse's metrics (plus Go and process collectors) on a new
// registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synapse_checks_total",
			Help: "Actions decided, by effect, resource kind and action.",
		}, []string{"effect", "kind", "action"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "synapse_check_duration_seconds",
			Help:    "Time to answer one ext_authz Check, by effect.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"effect"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synapse_denials_total",
			Help: "Denied Checks by denial code; failure is empty when a policy decided, else what failed.",
		}, []string{"code", "failure"}),
		pdpErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synapse_cerbos_errors_total",
			Help: "Cerbos calls that returned no decision, by reason (timeout, unavailable, ...).",
		}, []string{"reason"}),
		cached: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "synapse_decisions_from_cache_total",
			Help: "Checks answered from the decision cache, with the decision Cerbos made for the same request (no Cerbos call); synapse_checks_total counts them too.",
		}),
		lists: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synapse_lists_total",
			Help: "tools/list, resources/list and prompts/list answers on the response path, by list and outcome: filtered (sent on with what the principal may not use taken out) or withheld (synapse could not decide: fail closed).",
		}, []string{"list", "outcome"}),
		hidden: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synapse_list_items_hidden_total",
			Help: "Tools, documents and prompts taken out of list answers because the principal may never use them, by list.",
		}, []string{"list"}),
		grants: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synapse_list_grants_refused_total",
			Help: "List answers withheld on the response path because the request carried no grant synapse could use, by reason: missing, malformed, too_large, forged (not sealed with this replica's key: replicas with different keys, or altered), mismatched (another request's), expired.",
		}, []string{"reason"}),
		policy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "synapse_policy_version_info",
			Help: "1 for the version of the policy set Cerbos last decided under (policies/provenance): it changes with every policy change that took effect.",
		}, []string{"version"}),
		kinds:   newBoundedLabel(maxLabelValues),
		actions: newBoundedLabel(maxLabelValues),
		codes:   newBoundedLabel(maxLabelValues),
	}
	m.registry.MustRegister(
		m.checks, m.latency, m.denials, m.pdpErrors, m.cached, m.lists, m.hidden, m.grants, m.policy,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry is the registry the metrics live on, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Decision is what one Check decided.
type Decision struct {
	// Effect is "allow" or "deny".
	Effect string
	// Code is the denial code; empty on allow.
	Code string
	// Failure names what failed, if anything did (see audit.Record.Failure).
	Failure string
	Checks  []Check
	Latency time.Duration
	// Cached says the decision came from the decision cache.
	Cached bool
}

// Check is one resource and the actions asked on it.
type Check struct {
	Kind    string
	Actions []string
}

// ObserveDecision records one Check.
func (m *Metrics) ObserveDecision(d Decision) {
	m.latency.WithLabelValues(d.Effect).Observe(d.Latency.Seconds())
	for _, c := range d.Checks {
		kind := m.kinds.value(c.Kind)
		for _, a := range c.Actions {
			m.checks.WithLabelValues(d.Effect, kind, m.actions.value(a)).Inc()
		}
	}
	if d.Cached {
		m.cached.Inc()
	}
	if d.Effect != "allow" {
		m.denials.WithLabelValues(m.codes.value(d.Code), d.Failure).Inc()
	}
}

// Outcomes of a list answer on the response path.
const (
	ListFiltered = "filtered"
	ListWithheld = "withheld"
)

// List records one answer to list (tools/list, resources/list, prompts/list, or "unknown") on
// the response path and how many items it lost.
func (m *Metrics) List(list, outcome string, hidden int) {
	m.lists.WithLabelValues(list, outcome).Inc()
	if hidden > 0 {
		m.hidden.WithLabelValues(list).Add(float64(hidden))
	}
}

// Why a list's grant was refused on the response path (GrantRefused).
const (
	GrantMissing    = "missing"
	GrantMalformed  = "malformed"
	GrantTooLarge   = "too_large"
	GrantForged     = "forged"
	GrantMismatched = "mismatched"
	GrantExpired    = "expired"
)

// GrantRefused records a list withheld for want of a grant it could use, and why (a Grant
// constant: the label's values are synapse's, never a client's).
func (m *Metrics) GrantRefused(reason string) {
	m.grants.WithLabelValues(reason).Inc()
}

// PolicyVersion records the version of the policy set a decision was made under; "" (no policy
// decided) changes nothing.
func (m *Metrics) PolicyVersion(v string) {
	if v == "" {
		return
	}
	if last := m.version.Load(); last != nil && *last == v {
		return
	}
	m.versionMu.Lock()
	defer m.versionMu.Unlock()
	if last := m.version.Load(); last != nil {
		if *last == v {
			return
		}
		m.policy.DeleteLabelValues(*last)
	}
	m.version.Store(&v)
	m.policy.WithLabelValues(v).Set(1)
}

// PDPError records a Cerbos call that returned no decision.
func (m *Metrics) PDPError(reason string) {
	m.pdpErrors.WithLabelValues(reason).Inc()
}

type boundedLabel struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
}

func newBoundedLabel(max int) *boundedLabel {
	return &boundedLabel{max: max, seen: make(map[string]struct{})}
}

func (b *boundedLabel) value(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) >= b.max {
		return OtherLabel
	}
	b.seen[v] = struct{}{}
	return v
}

package bench

import (
	"time"
)

// Report is everything one `make bench` run measured; report.json is this, report.md its
// human form.
type Report struct {
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	Machine  Machine   `json:"machine"`
	Method   Method    `json:"method"`
	Targets  []Target  `json:"targets"`
	// AgentGateway says whether targets a2 and b2 were measured: "measured (a2, b2)" or
	// "not run: <reason>" (agentgateway needs its binary in bin/, which `make tools` installs
	// where it can, and a network with loopback only).
	AgentGateway string `json:"agentgateway_targets"`
	Steps        []Step `json:"steps"`
	// Overheads are the differences the issue asks about, per mix, cache setting and load.
	Overheads []Overhead `json:"overheads"`
	// HopCPU is the CPU one governed hop (target b) costs, by component, per mix, cache setting
	// and load.
	HopCPU []HopCPU `json:"cpu_per_governed_hop"`
	Goals  []Goal   `json:"goals"`
	// Registry is what the task registry's lookup costs per task-bound check, on bbolt and on
	// PostgreSQL.
	Registry RegistryCost `json:"task_registry"`
}

// Machine says where the figures come from.
type Machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	Envoy  string `json:"envoy"`
	// AgentGateway is the agentgateway measured, if any.
	AgentGateway string `json:"agentgateway,omitempty"`
	Cerbos       string `json:"cerbos"`
	LoadBefore   string `json:"loadavg_before"`
	LoadAfter    string `json:"loadavg_after"`
}

// Method is how the load was applied.
type Method struct {
	// Mixes and Caches are what was measured: every mix under every cache setting.
	Mixes             []MixInfo   `json:"mixes"`
	Caches            []CacheInfo `json:"decision_cache_settings"`
	Rates             []float64   `json:"rates_per_second"`
	StepSeconds       float64     `json:"step_seconds"`
	WarmupSeconds     float64     `json:"warmup_seconds"`
	Rounds            int         `json:"rounds"`
	MaxInFlight       int         `json:"max_in_flight"`
	SaturationWorkers int         `json:"saturation_workers"`
	TimeoutSeconds    float64     `json:"timeout_seconds"`
	// EnvironmentDir held the components' directories and logs; EnvironmentKept says whether it
	// is still there (by default it is in memory and removed after the run).
	EnvironmentDir  string `json:"environment_dir"`
	EnvironmentKept bool   `json:"environment_kept"`
}

// MixInfo describes one request mix.
type MixInfo struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Note        string   `json:"note,omitempty"`
	Hops        int      `json:"hops"`
	Kinds       []string `json:"kinds"`
}

// CacheInfo is one setting of synapse's decision cache: on or off, and the TTL synapse was
// given (SYNAPSE_DECISION_CACHE_TTL).
type CacheInfo struct {
	Name string `json:"name"`
	TTL  string `json:"ttl"`
}

// Target is one of the four things measured.
type Target struct {
	ID          string `json:"id"` // a, b, c, d
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Step is one target at one load.
type Step struct {
	// Mix and Cache say which mix was sent and how synapse's decision cache was set.
	Mix    string `json:"mix"`
	Cache  string `json:"cache"`
	Target string `json:"target"`
	// Rate is the offered rate per second; 0 is saturation (closed loop).
	Rate       float64 `json:"rate"`
	Sent       uint64  `json:"sent"`
	Failed     uint64  `json:"failed"`
	Unsent     uint64  `json:"unsent"`
	Throughput float64 `json:"throughput_per_second"`
	Latency    Summary `json:"latency"`
	// Rounds is the latency of each round, in order.
	Rounds    []Summary              `json:"rounds"`
	ByKind    map[string]Summary     `json:"latency_by_kind"`
	Lag       Summary                `json:"send_lag"`
	Processes map[string]ProcessLoad `json:"processes"`
	Errors    []string               `json:"errors,omitempty"`
	// Decisions are the lines synapse's audit log gained during the step's rounds (warmups
	// included); CachedDecisions those that reused a cached decision instead of asking Cerbos.
	Decisions       uint64 `json:"synapse_decisions"`
	CachedDecisions uint64 `json:"synapse_cached_decisions"`
}

// CachedShare is the share of synapse's decisions during the step that came from its decision
// cache, in percent; -1 when synapse decided nothing.
func (s Step) CachedShare() float64 {
	if s.Decisions == 0 {
		return -1
	}
	return 100 * float64(s.CachedDecisions) / float64(s.Decisions)
}

// synapseProcess is the synapse that serves the step: the compared build for c2.
func (s Step) synapseProcess() string {
	if s.Target == TargetCompared {
		return ComparedSynapseName
	}
	return synapseComponent
}

// CPUPerRequest is a process's CPU time per answered request, in microseconds.
func (s Step) CPUPerRequest(process string) float64 {
	p, ok := s.Processes[process]
	if !ok || s.Throughput <= 0 {
		return 0
	}
	// CPUPercent is CPU seconds per wall second x 100; Throughput is requests per wall second.
	return p.CPUPercent / 100 / s.Throughput * 1e6
}

// Clean reports that every request was sent and succeeded.
func (s Step) Clean() bool { return s.Failed == 0 && s.Unsent == 0 && s.Sent > 0 }

// Summary is a latency distribution in microseconds.
type Summary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	Max   float64 `json:"max_us"`
}

func summarize(h *Histogram) Summary {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return Summary{
		Count: h.Count(), Mean: us(h.Mean()),
		P50: us(h.Quantile(0.50)), P90: us(h.Quantile(0.90)), P99: us(h.Quantile(0.99)), Max: us(h.Max()),
	}
}

// Overhead is the latency one layer adds at one load: the difference of the percentiles of
// two steps measured side by side (not a percentile of differences, which one run cannot
// give: the two never serve the same request). P50, P90 and P99 are the median over the rounds
// of each round's difference (the two ran seconds apart, under the same noise), which a burst
// in one round cannot move; WholeP99 is the difference of the whole steps' p99.
type Overhead struct {
	Mix      string  `json:"mix"`
	Cache    string  `json:"cache"`
	Name     string  `json:"name"`
	Rate     float64 `json:"rate"`
	P50      float64 `json:"p50_us"`
	P90      float64 `json:"p90_us"`
	P99      float64 `json:"p99_us"`
	WholeP99 float64 `json:"whole_step_p99_us"`
	// Clean is false when either step had failures or unsent requests.
	Clean bool `json:"clean"`
}

// Goal is one target of the issue and where the run stands against it.
type Goal struct {
	Name     string  `json:"name"`
	Limit    float64 `json:"limit"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Met      bool    `json:"met"`
	Note     string  `json:"note,omitempty"`
}

// HopCPU is the CPU time one governed hop through Envoy costs, in microseconds per answered
// request of step b, by component. Envoy is the governed Envoy's whole process; EnvoyAuthz is
// its part that ext_authz adds (b's Envoy less a's baseline Envoy, at the same load). Total is
// what governance adds: Cerbos + synapse + EnvoyAuthz.
type HopCPU struct {
	Mix        string  `json:"mix"`
	Cache      string  `json:"cache"`
	Rate       float64 `json:"rate"`
	Cerbos     float64 `json:"cerbos_us"`
	Synapse    float64 `json:"synapse_us"`
	Envoy      float64 `json:"envoy_us"`
	EnvoyAuthz float64 `json:"envoy_ext_authz_us"`
	Total      float64 `json:"total_us"`
	// CachedShare is the share of b's decisions synapse took from its cache, in percent (-1:
	// none counted).
	CachedShare float64 `json:"cached_share_percent"`
}

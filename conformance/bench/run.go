// Package bench measures what a governed hop costs (`make bench`, BENCHMARKS.md). It brings
// hopguard's environment up through conformance/harness with two Envoys, one governed and one
// without ext_authz (BaselineEnvoy), and drives four targets side by side: the ungoverned route,
// the governed route, synapse's Check and Cerbos's CheckResources. Where agentgateway can run
// (its binary in bin/, a loopback-only network), the two routes are measured behind
// it too (a2, b2; BaselineAgentGateway); where it cannot, the report says why. Load is open
// loop at fixed rates (Drive; latency from each request's due time) and closed loop at
// saturation, in rounds with the targets taking turns; CPU and memory come from /proc
// (Monitor). Each request mix (FixedMix, the three requests; AgentMix, the demo's story
// as synapse decided it) is measured under each setting of synapse's decision cache, the
// environment brought up once per setting. Beside them, the task registry's lookup that every
// task-bound check makes is measured on bbolt and on PostgreSQL (RegistryCost). Run returns a
// Report; Write renders report.md and report.json.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	svcv1 "github.com/cerbos/cerbos/api/genpb/cerbos/svc/v1"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/config"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// Options shape one benchmark run.
type Options struct {
	// OutDir receives report.md, report.json and the built commands (bin/). Required.
	OutDir string
	// EnvDir is where the running environment lives (component directories, logs, decision
	// logs). Empty means a fresh directory in memory (/dev/shm), removed at the end: every
	// component writes a line per request, and on a machine shared with builds a write to disk
	// can stall for seconds in writeback, which would be measured as the component's latency.
	EnvDir string
	// Network is the network the run has (harness.Isolate): agentgateway's targets run only
	// inside a loopback-only namespace, and the report says why not elsewhere.
	Network netns.Where
	// Rates are the fixed rates per second; saturation is measured after them.
	Rates []float64
	// Step is the measured length of each step, split into Rounds slices run with the other
	// targets in turn; Warmup is the discarded run before each slice.
	Step, Warmup time.Duration
	Rounds       int
	// MaxInFlight bounds the requests in flight at a fixed rate.
	MaxInFlight int
	// SaturationWorkers send back to back at saturation.
	SaturationWorkers int
	// Timeout bounds each request.
	Timeout time.Duration
	// CompareSynapse, when set, is another synapse binary measured beside the current one
	// (target c2): a before/after of a change from one run.
	CompareSynapse string
	// Mixes are the request mixes measured (MixNames), each at every load.
	Mixes []string
	// Caches are the settings of synapse's decision cache measured: the environment is
	// brought up once per setting, and every mix is measured in each.
	Caches []CacheSetting
	// RegistryStep is how long the task registry's lookup is measured on each backend (bbolt,
	// PostgreSQL), back to back and again at GoalRate, in Rounds slices with the backends in
	// turn; 0 leaves the registry out (the report says not run).
	RegistryStep time.Duration
	// Progress receives a line per phase and step.
	Progress io.Writer
}

// DefaultOptions are what `make bench` runs: 2 cache settings x 2 mixes x 4 loads x 6 targets
// (4 without agentgateway) x 4 rounds x (1 s + 0.25 s warmup), about eight minutes of load.
// The step is half what it was with one mix and one setting, to keep the run near ten minutes.
// The task registry adds about six seconds (PostgreSQL's start and 2 x 2 x 1 s of lookups).
func DefaultOptions(outDir string) Options {
	return Options{
		OutDir: outDir, Rates: []float64{100, 500, 1000},
		Step: 4 * time.Second, Warmup: 250 * time.Millisecond, Rounds: 4,
		MaxInFlight: 512, SaturationWorkers: 16, Timeout: 2 * time.Second,
		Mixes: MixNames(), Caches: CacheSettings(), RegistryStep: time.Second,
		Progress: io.Discard,
	}
}

// CacheSetting is one setting of synapse's decision cache the run measures under.
type CacheSetting struct {
	// Name is "on" or "off" (--cache).
	Name string
	// TTL is what synapse is given (SYNAPSE_DECISION_CACHE_TTL); 0 turns the cache off.
	TTL time.Duration
}

// The cache settings.
const (
	CacheOn  = "on"
	CacheOff = "off"
)

// CacheSettings are both settings, on (synapse's default TTL) first.
func CacheSettings() []CacheSetting {
	return []CacheSetting{{CacheOn, config.DefaultDecisionCacheTTL}, {CacheOff, 0}}
}

// CacheSettingByName returns the setting called name.
func CacheSettingByName(name string) (CacheSetting, error) {
	for _, c := range CacheSettings() {
		if c.Name == name {
			return c, nil
		}
	}
	return CacheSetting{}, fmt.Errorf("unknown cache setting %q (want on or off)", name)
}

// env is synapse's environment for the setting: explicit either way, so a value in the
// benchmark's own environment cannot leak into synapse's.
func (c CacheSetting) env() []string {
	return []string{"SYNAPSE_DECISION_CACHE_TTL=" + c.TTL.String()}
}

// Validate says what is wrong with o.
func (o Options) Validate() error {
	var errs []error
	if o.OutDir == "" {
		errs = append(errs, errors.New("OutDir is required"))
	}
	for _, r := range o.Rates {
		if r <= 0 {
			errs = append(errs, fmt.Errorf("rate %v must be positive", r))
		}
	}
	if o.Step <= 0 || o.Warmup < 0 || o.Timeout <= 0 {
		errs = append(errs, errors.New("step and timeout must be positive, warmup not negative"))
	}
	if o.RegistryStep < 0 {
		errs = append(errs, fmt.Errorf("registry step %s must not be negative (0 leaves the registry out)", o.RegistryStep))
	}
	if o.Rounds < 1 || (o.Rounds > 0 && o.Step/time.Duration(o.Rounds) < 100*time.Millisecond) {
		errs = append(errs, fmt.Errorf("rounds %d: need at least one, and at least 100ms of the step in each", o.Rounds))
	}
	if o.MaxInFlight < 1 || o.SaturationWorkers < 1 {
		errs = append(errs, errors.New("max in flight and saturation workers must be at least 1"))
	}
	if len(o.Mixes) == 0 || len(o.Caches) == 0 {
		errs = append(errs, errors.New("at least one mix and one cache setting"))
	}
	for _, m := range o.Mixes {
		if _, err := MixByName(m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run brings hopguard's environment up once per cache setting, with both gateways, measures
// every mix on every target at every load and returns the report. Everything it started is
// stopped before it returns.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	mixes := make([]Mix, 0, len(opts.Mixes))
	for _, name := range opts.Mixes {
		m, err := MixByName(name)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		mixes = append(mixes, m)
	}
	began := time.Now()
	report := &Report{
		Started: began,
		Method: Method{
			Rates: opts.Rates, StepSeconds: opts.Step.Seconds(), WarmupSeconds: opts.Warmup.Seconds(), Rounds: opts.Rounds,
			MaxInFlight: opts.MaxInFlight, SaturationWorkers: opts.SaturationWorkers, TimeoutSeconds: opts.Timeout.Seconds(),
			EnvironmentKept: opts.EnvDir != "",
		},
	}
	for _, m := range mixes {
		report.Method.Mixes = append(report.Method.Mixes, MixInfo{Name: m.Name, Description: m.Description, Note: m.Note, Hops: len(m.Hops), Kinds: Kinds(m.Hops)})
	}
	for _, c := range opts.Caches {
		report.Method.Caches = append(report.Method.Caches, CacheInfo{Name: c.Name, TTL: c.TTL.String()})
	}
	for i, cache := range opts.Caches {
		if err := runPhase(ctx, opts, cache, mixes, i == 0, report); err != nil {
			return nil, fmt.Errorf("bench: cache %s: %w", cache.Name, err)
		}
	}
	report.Overheads, report.HopCPU, report.Goals = Analyze(report.Steps)
	// After the environment is down, so that its components' idle work does not fall on the
	// lookups.
	report.Registry = measureRegistry(ctx, opts)
	report.Registry.compare(report.Overheads, report.HopCPU)
	report.Machine.LoadAfter = loadAverage()
	report.Duration = time.Since(began).Round(time.Second).String()
	return report, nil
}

// runPhase brings the environment up with synapse's decision cache set to cache, measures
// every mix in it and tears it down; the first phase also describes the machine and targets.
func runPhase(ctx context.Context, opts Options, cache CacheSetting, mixes []Mix, first bool, report *Report) (err error) {
	say := func(format string, args ...any) { fmt.Fprintf(opts.Progress, format+"\n", args...) }
	// Each baseline is its governed gateway under another name with its config rendered
	// without ext_authz: the difference between the two is what governing a hop costs. The
	// bench runs on the process runtime (harness.Up's default).
	governed, baseline := &gateways.Envoy{}, &gateways.Envoy{Named: BaselineEnvoy, WithoutAuthz: true}
	agentGoverned := &gateways.AgentGateway{Runtime: "process", Network: opts.Network}
	agentBaseline := &gateways.AgentGateway{Runtime: "process", Network: opts.Network, Named: BaselineAgentGateway, WithoutAuthz: true}
	required := []gateways.Gateway{governed, baseline, DefaultsCerbos{}}
	extra := []gateways.Gateway{governed, baseline, agentGoverned, agentBaseline, DefaultsCerbos{}}
	var compared *ComparedSynapse
	if opts.CompareSynapse != "" {
		secrets, err := stack.NewSecrets()
		if err != nil {
			return err
		}
		compared = &ComparedSynapse{Binary: opts.CompareSynapse, Secrets: secrets, Env: cache.env()}
		required = append(required, compared)
		extra = append(extra, compared)
	}
	envDir, removeEnv, err := environmentDir(opts.EnvDir, cache.Name)
	if err != nil {
		return err
	}
	defer removeEnv()
	say("==> synapse's decision cache %s (SYNAPSE_DECISION_CACHE_TTL=%s): bringing the environment up on 127.0.0.1 (Cerbos, STS, mocks, synapse, two Envoys, two agentgateways where they can run) in %s",
		cache.Name, cache.TTL, envDir)
	h, err := harness.Up(ctx, harness.Options{
		OutDir:     envDir,
		BinDir:     filepath.Join(opts.OutDir, "bin"),
		Gateways:   extra,
		Observe:    observe(opts.Progress),
		SynapseEnv: cache.env(),
	})
	defer func() {
		if closeErr := h.Close(context.WithoutCancel(ctx)); closeErr != nil && err == nil {
			err = fmt.Errorf("stop the environment: %w", closeErr)
		}
	}()
	if err != nil {
		return err
	}
	for _, g := range required {
		if reason, ok := h.NotRun[g.Name()]; ok {
			return fmt.Errorf("%s cannot run here: %w", g.Name(), reason)
		}
	}
	// agentgateway is optional: where it cannot run, the rest is measured and the report says why.
	names := gatewayNames{governed: governed.Name(), baseline: baseline.Name()}
	agentStatus := "measured (a2, b2)"
	if reason := agentGatewayNotRun(h, agentGoverned, agentBaseline); reason != nil {
		agentStatus = "not run: " + reason.Error()
	} else {
		names.agentGoverned, names.agentBaseline = agentGoverned.Name(), agentBaseline.Name()
	}
	say("    agentgateway targets: %s", agentStatus)
	if first {
		if err := describeRun(ctx, report, governed, agentGoverned, compared, names, agentStatus, envDir); err != nil {
			return err
		}
	} else if agentStatus != report.AgentGateway {
		report.AgentGateway += fmt.Sprintf("; with the cache %s: %s", cache.Name, agentStatus)
	}

	pids, err := h.Runtime.PIDs(ctx)
	if err != nil {
		return err
	}
	if _, ok := pids[synapseComponent]; !ok {
		return fmt.Errorf("synapse's process is not among the environment's %v", pids)
	}
	pids["load-generator"] = os.Getpid()
	monitor := NewMonitor(pids)
	audit := &auditTail{path: h.AuditLogPath()}
	for _, mix := range mixes {
		steps, err := measureMix(ctx, h, names, compared, monitor, audit, mix, cache, opts)
		if err != nil {
			return fmt.Errorf("mix %s: %w", mix.Name, err)
		}
		report.Steps = append(report.Steps, steps...)
	}
	return nil
}

// describeRun fills in what the report says about the machine and the targets.
func describeRun(ctx context.Context, report *Report, governed *gateways.Envoy, agentGoverned *gateways.AgentGateway, compared *ComparedSynapse, names gatewayNames, agentStatus, envDir string) error {
	cerbosPath, err := binaries.Tool("cerbos")
	if err != nil {
		return err
	}
	report.Machine = describeMachine(ctx, cerbosPath, governed.Detail())
	report.Method.EnvironmentDir = envDir
	report.Targets = Targets()
	report.AgentGateway = agentStatus
	if names.agentGoverned != "" {
		report.Machine.AgentGateway = agentGoverned.Detail()
		// In the order they are measured: right after a and b.
		report.Targets = slices.Insert(report.Targets, 2, AgentGatewayTargets(agentGoverned.Detail())...)
	}
	if compared != nil {
		report.Targets = append(report.Targets, Target{TargetCompared, "synapse Check, compared build", "Check over gRPC on " + compared.Detail() + ", beside c"})
	}
	return nil
}

// measureMix measures one mix on every target at every load, then saturation.
func measureMix(ctx context.Context, h *harness.Env, names gatewayNames, compared *ComparedSynapse, monitor *Monitor, audit *auditTail, mix Mix, cache CacheSetting, opts Options) ([]Step, error) {
	say := func(format string, args ...any) { fmt.Fprintf(opts.Progress, format+"\n", args...) }
	targets, closeTargets, err := prepare(ctx, h, names, compared, mix, opts)
	if err != nil {
		return nil, err
	}
	defer closeTargets()
	upstreams, err := h.JournalsByResource()
	if err != nil {
		return nil, err
	}
	reset := resetUpstreams(upstreams)
	say("==> measuring the %s mix (%d hops), cache %s: %d loads x %d targets, %s each in %d rounds (targets in turn), each round after a %s warmup",
		mix.Name, len(mix.Hops), cache.Name, len(opts.Rates)+1, len(targets), opts.Step, opts.Rounds, opts.Warmup)
	var out []Step
	for _, rate := range append(slices.Clone(opts.Rates), 0) {
		steps, err := measureLoad(ctx, monitor, audit, reset, targets, rate, opts)
		if err != nil {
			return nil, err
		}
		for i := range steps {
			steps[i].Mix, steps[i].Cache = mix.Name, cache.Name
			say("    %s", steps[i].line())
		}
		out = append(out, steps...)
	}
	return out, nil
}

// memoryFS is where the environment goes by default: a tmpfs on every Linux this runs on.
const memoryFS = "/dev/shm"

// environmentDir returns the directory the environment of one phase runs in and how to remove
// it: <dir>/<phase> when dir is given (kept), else a fresh one in memory (removed), else a fresh
// temporary one (removed).
func environmentDir(dir, phase string) (string, func(), error) {
	if dir != "" {
		return filepath.Join(dir, "cache-"+phase), func() {}, nil
	}
	parent := memoryFS
	if info, err := os.Stat(parent); err != nil || !info.IsDir() {
		parent = ""
	}
	tmp, err := os.MkdirTemp(parent, "hopguard-bench-cache-"+phase+"-")
	if err != nil {
		return "", nil, fmt.Errorf("environment directory: %w", err)
	}
	return tmp, func() { _ = os.RemoveAll(tmp) }, nil
}

// target is one of a, b, c, d (a2, b2, c2) with its request mix.
type target struct {
	id  string
	mix []Request
}

// prepare sets up the mix's callers and each target's requests; it checks each request once, so a
// misconfigured run fails here with the reason instead of measuring errors.
func prepare(ctx context.Context, h *harness.Env, names gatewayNames, compared *ComparedSynapse, mix Mix, opts Options) ([]target, func(), error) {
	admin, err := h.Admin()
	if err != nil {
		return nil, nil, err
	}
	governedURL, err := h.GatewayURL(names.governed)
	if err != nil {
		return nil, nil, err
	}
	baselineURL, err := h.GatewayURL(names.baseline)
	if err != nil {
		return nil, nil, err
	}
	hops := mix.Hops
	callers, err := NewCallers(ctx, CallerSetup{
		Admin: admin, SigningKeyPEM: h.Secrets.SigningKeyPEM, Issuer: stack.Issuer,
		GatewayURL: governedURL, HTTP: http.DefaultClient,
	}, mix)
	if err != nil {
		return nil, nil, err
	}
	synapseAddr, err := h.SynapseAddr()
	if err != nil {
		return nil, nil, err
	}
	cerbosAddr, err := h.CerbosAddr()
	if err != nil {
		return nil, nil, err
	}
	synapseConn, err := grpc.NewClient(synapseAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("synapse client: %w", err)
	}
	cerbosConn, err := grpc.NewClient(cerbosAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		_ = synapseConn.Close()
		return nil, nil, fmt.Errorf("cerbos client: %w", err)
	}
	conns := []*grpc.ClientConn{synapseConn, cerbosConn}
	closeAll := func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	cerbosMix, err := CerbosMix(svcv1.NewCerbosServiceClient(cerbosConn), hops, callers)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	defaultsAddr, err := h.Runtime.Endpoint(DefaultsCerbosName, stack.PortGRPC)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	defaultsConn, err := grpc.NewClient(defaultsAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("cerbos (defaults) client: %w", err)
	}
	conns = append(conns, defaultsConn)
	defaultsMix, err := CerbosMix(svcv1.NewCerbosServiceClient(defaultsConn), hops, callers)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	targets := []target{
		{TargetBaseline, GatewayMix(httpClient(opts.MaxInFlight), baselineURL, false, hops, callers)},
		{TargetGoverned, GatewayMix(httpClient(opts.MaxInFlight), governedURL, true, hops, callers)},
		{TargetSynapse, SynapseMix(authv3.NewAuthorizationClient(synapseConn), hops, callers)},
		// d2 right after d, so that the two Cerbos settings are measured under the same conditions.
		{TargetCerbos, cerbosMix},
		{TargetCerbosDefaults, defaultsMix},
	}
	if names.agentGoverned != "" {
		agent, err := agentGatewayTargets(ctx, h, names.agentGoverned, names.agentBaseline, hops, callers, opts)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		// Right after a and b, so the two gateways are measured under the same conditions.
		targets = slices.Insert(targets, 2, agent...)
	}
	if compared != nil {
		conn, err := comparedClient(ctx, h, compared, callers)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, conn)
		// Right after c, so the two builds are measured under the same conditions.
		c := slices.IndexFunc(targets, func(t target) bool { return t.id == TargetSynapse })
		targets = slices.Insert(targets, c+1, target{TargetCompared, SynapseMix(authv3.NewAuthorizationClient(conn), hops, callers)})
	}
	for _, t := range targets {
		for _, r := range t.mix {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := r.Do(rctx)
			cancel()
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("target %s, %s: the first request already fails: %w", t.id, r.Kind, err)
			}
		}
	}
	return targets, closeAll, nil
}

// comparedClient registers the callers' tasks (same ids, revoked where they are) with the
// compared synapse and connects to it.
func comparedClient(ctx context.Context, h *harness.Env, compared *ComparedSynapse, callers Callers) (*grpc.ClientConn, error) {
	adminAddr, err := h.Runtime.Endpoint(ComparedSynapseName, stack.PortAdmin)
	if err != nil {
		return nil, err
	}
	admin := &admin.Client{BaseURL: "http://" + adminAddr.String(), Token: compared.Secrets.AdminToken}
	for _, c := range callers {
		t := c.Task
		if _, err := admin.Create(ctx, tasks.NewTask{ID: t.ID, Principal: t.Principal, AgentID: t.AgentID, TicketID: t.TicketID}); err != nil {
			return nil, fmt.Errorf("register task %s with the compared synapse: %w", t.ID, err)
		}
		if t.Status == tasks.StatusRevoked {
			if _, err := admin.Revoke(ctx, t.ID); err != nil {
				return nil, fmt.Errorf("revoke task %s with the compared synapse: %w", t.ID, err)
			}
		}
	}
	grpcAddr, err := h.Runtime.Endpoint(ComparedSynapseName, stack.PortGRPC)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("compared synapse client: %w", err)
	}
	return conn, nil
}

// httpClient keeps a connection per request in flight, as agents behind a gateway do.
func httpClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}}
}

// line is the progress line of a step.
func (s Step) line() string {
	load := "saturation"
	if s.Rate > 0 {
		load = fmt.Sprintf("%.0f/s", s.Rate)
	}
	syn := s.Processes[s.synapseProcess()]
	line := fmt.Sprintf("%-6s cache %-3s %-2s @ %-10s %6d sent %4d failed %4d unsent  %7.0f/s  p50 %s  p99 %s  synapse %3.0f%% cpu %5.1f MiB",
		s.Mix, s.Cache, s.Target, load, s.Sent, s.Failed, s.Unsent, s.Throughput, ms(s.Latency.P50), ms(s.Latency.P99),
		syn.CPUPercent, float64(syn.RSSMaxBytes)/mib)
	if share := s.CachedShare(); share >= 0 {
		line += fmt.Sprintf("  %3.0f%% cached", share)
	}
	if len(s.Errors) > 0 {
		line += "\n        first error: " + s.Errors[0]
	}
	return line
}

// ms formats microseconds as milliseconds.
func ms(us float64) string { return fmt.Sprintf("%.3f ms", us/1000) }

func observe(w io.Writer) runtime.Observer {
	return func(e runtime.Event) {
		switch e.Phase {
		case runtime.Ready:
			fmt.Fprintf(w, "    %-21s ready in %s\n", e.Component, e.Elapsed.Round(time.Millisecond))
		case runtime.Failed:
			fmt.Fprintf(w, "    %-21s failed: %v\n", e.Component, e.Err)
		}
	}
}

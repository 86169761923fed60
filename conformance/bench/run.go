// Package bench measures what a governed hop costs (`make bench`, BENCHMARKS.md). It brings
// hopguard's environment up through conformance/harness with two Envoys, one governed and one
// without ext_authz (BaselineEnvoy), and drives four targets side by side: the ungoverned route,
// the governed route, synapse's Check and Cerbos's CheckResources. Where agentgateway can run
// (its binary in bin/, a loopback-only network), the two routes are measured behind
// it too (a2, b2; BaselineAgentGateway); where it cannot, the report says why. Load is open
// loop at fixed rates (Drive; latency from each request's due time) and closed loop at
// saturation, in rounds with the targets taking turns; CPU and memory come from /proc
// (Monitor). Run returns a Report; Write renders report.md and report.json.
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
	// Progress receives a line per phase and step.
	Progress io.Writer
}

// DefaultOptions are what `make bench` runs: 4 loads x 4 targets x 4 rounds x (2 s + 0.5 s
// warmup), under three minutes of load.
func DefaultOptions(outDir string) Options {
	return Options{
		OutDir: outDir, Rates: []float64{100, 500, 1000},
		Step: 8 * time.Second, Warmup: 500 * time.Millisecond, Rounds: 4,
		MaxInFlight: 512, SaturationWorkers: 16, Timeout: 2 * time.Second,
		Progress: io.Discard,
	}
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
	if o.Rounds < 1 || (o.Rounds > 0 && o.Step/time.Duration(o.Rounds) < 100*time.Millisecond) {
		errs = append(errs, fmt.Errorf("rounds %d: need at least one, and at least 100ms of the step in each", o.Rounds))
	}
	if o.MaxInFlight < 1 || o.SaturationWorkers < 1 {
		errs = append(errs, errors.New("max in flight and saturation workers must be at least 1"))
	}
	return errors.Join(errs...)
}

// Run brings hopguard's environment up with both gateways, measures every target at every load
// and returns the report. Everything it started is stopped before it returns.
func Run(ctx context.Context, opts Options) (report *Report, err error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	began := time.Now()
	say := func(format string, args ...any) { fmt.Fprintf(opts.Progress, format+"\n", args...) }

	// Each baseline is its governed gateway under another name with its config rendered
	// without ext_authz: the difference between the two is what governing a hop costs. The
	// bench runs on the process runtime (harness.Up's default).
	governed, baseline := &gateways.Envoy{}, &gateways.Envoy{Named: BaselineEnvoy, WithoutAuthz: true}
	agentGoverned := &gateways.AgentGateway{Runtime: "process", Network: opts.Network}
	agentBaseline := &gateways.AgentGateway{Runtime: "process", Network: opts.Network, Named: BaselineAgentGateway, WithoutAuthz: true}
	required := []gateways.Gateway{governed, baseline}
	extra := []gateways.Gateway{governed, baseline, agentGoverned, agentBaseline}
	var compared *ComparedSynapse
	if opts.CompareSynapse != "" {
		secrets, err := stack.NewSecrets()
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		compared = &ComparedSynapse{Binary: opts.CompareSynapse, Secrets: secrets}
		required = append(required, compared)
		extra = append(extra, compared)
	}
	envDir, removeEnv, err := environmentDir(opts.EnvDir)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer removeEnv()
	say("==> bringing the environment up on 127.0.0.1 (Cerbos, STS, mocks, synapse, two Envoys, two agentgateways where they can run) in %s", envDir)
	h, err := harness.Up(ctx, harness.Options{
		OutDir:   envDir,
		BinDir:   filepath.Join(opts.OutDir, "bin"),
		Gateways: extra,
		Observe:  observe(opts.Progress),
	})
	defer func() {
		if closeErr := h.Close(context.WithoutCancel(ctx)); closeErr != nil && err == nil {
			err = fmt.Errorf("bench: stop the environment: %w", closeErr)
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	for _, g := range required {
		if reason, ok := h.NotRun[g.Name()]; ok {
			return nil, fmt.Errorf("bench: %s cannot run here: %w", g.Name(), reason)
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

	cerbosPath, err := binaries.Tool("cerbos")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	report = &Report{
		Started: began,
		Machine: describeMachine(ctx, cerbosPath, governed.Detail()),
		Method: Method{
			Rates: opts.Rates, StepSeconds: opts.Step.Seconds(), WarmupSeconds: opts.Warmup.Seconds(), Rounds: opts.Rounds,
			MaxInFlight: opts.MaxInFlight, SaturationWorkers: opts.SaturationWorkers, TimeoutSeconds: opts.Timeout.Seconds(),
			EnvironmentDir: envDir, EnvironmentKept: opts.EnvDir != "",
		},
		Targets:      Targets(),
		AgentGateway: agentStatus,
	}
	if names.agentGoverned != "" {
		report.Machine.AgentGateway = agentGoverned.Detail()
		// In the order they are measured: right after a and b.
		report.Targets = slices.Insert(report.Targets, 2, AgentGatewayTargets(agentGoverned.Detail())...)
	}
	if compared != nil {
		report.Targets = append(report.Targets, Target{TargetCompared, "synapse Check, compared build", "Check over gRPC on " + compared.Detail() + ", beside c"})
	}
	targets, closeTargets, err := prepare(ctx, h, names, compared, opts)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer closeTargets()
	report.Method.Mix = Kinds(Hops(benchTicket))

	pids, err := h.Runtime.PIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if _, ok := pids[synapseComponent]; !ok {
		return nil, fmt.Errorf("bench: synapse's process is not among the environment's %v", pids)
	}
	pids["load-generator"] = os.Getpid()
	monitor := NewMonitor(pids)

	say("==> measuring: %d loads x %d targets, %s each in %d rounds (targets in turn), each round after a %s warmup",
		len(opts.Rates)+1, len(targets), opts.Step, opts.Rounds, opts.Warmup)
	for _, rate := range append(slices.Clone(opts.Rates), 0) {
		steps, err := measureLoad(ctx, monitor, targets, rate, opts)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		for _, step := range steps {
			say("    %s", step.line())
		}
		report.Steps = append(report.Steps, steps...)
	}
	report.Overheads, report.Goals = Analyze(report.Steps)
	report.Machine.LoadAfter = loadAverage()
	report.Duration = time.Since(began).Round(time.Second).String()
	return report, nil
}

// memoryFS is where the environment goes by default: a tmpfs on every Linux this runs on.
const memoryFS = "/dev/shm"

// environmentDir returns the directory the environment runs in and how to remove it: dir when
// given (kept), else a fresh one in memory (removed), else a fresh temporary one (removed).
func environmentDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	parent := memoryFS
	if info, err := os.Stat(parent); err != nil || !info.IsDir() {
		parent = ""
	}
	tmp, err := os.MkdirTemp(parent, "hopguard-bench-")
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

// prepare sets up the caller and the four request mixes; it checks each request once, so a
// misconfigured run fails here with the reason instead of measuring errors.
func prepare(ctx context.Context, h *harness.Env, names gatewayNames, compared *ComparedSynapse, opts Options) ([]target, func(), error) {
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
	hops := Hops(benchTicket)
	caller, err := NewCaller(ctx, CallerSetup{
		Admin: admin, SigningKeyPEM: h.Secrets.SigningKeyPEM, Issuer: stack.Issuer,
		GatewayURL: governedURL, HTTP: http.DefaultClient, Hops: hops,
	})
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
	cerbosMix, err := CerbosMix(svcv1.NewCerbosServiceClient(cerbosConn), hops, caller)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	targets := []target{
		{TargetBaseline, GatewayMix(httpClient(opts.MaxInFlight), baselineURL, false, hops, caller)},
		{TargetGoverned, GatewayMix(httpClient(opts.MaxInFlight), governedURL, true, hops, caller)},
		{TargetSynapse, SynapseMix(authv3.NewAuthorizationClient(synapseConn), hops, caller)},
		{TargetCerbos, cerbosMix},
	}
	if names.agentGoverned != "" {
		agent, err := agentGatewayTargets(ctx, h, names.agentGoverned, names.agentBaseline, hops, caller, opts)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		// Right after a and b, so the two gateways are measured under the same conditions.
		targets = slices.Insert(targets, 2, agent...)
	}
	if compared != nil {
		conn, err := comparedClient(ctx, h, compared, caller)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, conn)
		// Right after c, so the two builds are measured under the same conditions.
		c := slices.IndexFunc(targets, func(t target) bool { return t.id == TargetSynapse })
		targets = slices.Insert(targets, c+1, target{TargetCompared, SynapseMix(authv3.NewAuthorizationClient(conn), hops, caller)})
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

// comparedClient registers the caller's task (same id) with the compared synapse and connects
// to it.
func comparedClient(ctx context.Context, h *harness.Env, compared *ComparedSynapse, caller Caller) (*grpc.ClientConn, error) {
	adminAddr, err := h.Runtime.Endpoint(ComparedSynapseName, stack.PortAdmin)
	if err != nil {
		return nil, err
	}
	admin := &admin.Client{BaseURL: "http://" + adminAddr.String(), Token: compared.Secrets.AdminToken}
	t := caller.Task
	if _, err := admin.Create(ctx, tasks.NewTask{ID: t.ID, Principal: t.Principal, AgentID: t.AgentID, TicketID: t.TicketID}); err != nil {
		return nil, fmt.Errorf("register the task with the compared synapse: %w", err)
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
	line := fmt.Sprintf("%-2s @ %-10s %6d sent %4d failed %4d unsent  %7.0f/s  p50 %s  p99 %s  synapse %3.0f%% cpu %5.1f MiB",
		s.Target, load, s.Sent, s.Failed, s.Unsent, s.Throughput, ms(s.Latency.P50), ms(s.Latency.P99),
		syn.CPUPercent, float64(syn.RSSMaxBytes)/mib)
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

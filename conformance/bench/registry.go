package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hopguard/hopguard/internal/pgserver"
	"github.com/hopguard/hopguard/synapse/authz"
	"github.com/hopguard/hopguard/synapse/tasks"
	"github.com/hopguard/hopguard/synapse/tasks/pgstore"
)

// synapse reads the token's task from its registry on every task-bound check (authz's enrich
// stage, TaskStore.Get), never cached, so that a revocation holds from the very next hop: the
// lookup is part of every governed hop. On bbolt it is a read of a memory-mapped file in
// synapse's process; on PostgreSQL (pgstore, the registry replicas share) a round trip on
// loopback. Both are measured in the same run, in rounds with the two in turn, so that their
// ratio holds on a noisy machine, and set against the governed hop the run measured.

// The registry backends.
const (
	RegistryBBolt    = "bbolt"
	RegistryPostgres = "postgres"
)

const (
	// registryTasks is how many tasks each registry holds. Lookups go through them in turn, so
	// neither backend answers one hot key over and over.
	registryTasks = 1000
	registryKind  = "task lookup"
)

// RegistryCost is what the task registry's lookup costs per task-bound check, on each backend.
type RegistryCost struct {
	// Status is "measured", or "not run: <reason>" when nothing was measured.
	Status string `json:"status"`
	// Tasks is how many tasks each registry held, read in turn.
	Tasks int `json:"tasks"`
	// StepSeconds is each backend's measured time back to back and again at Rate, in Rounds
	// slices with the other backend in turn.
	StepSeconds float64           `json:"step_seconds"`
	Rounds      int               `json:"rounds"`
	Rate        float64           `json:"rate_per_second"`
	Backends    []RegistryBackend `json:"backends"`
	// Added is what PostgreSQL adds over bbolt, when both were measured.
	Added *RegistryAdded `json:"postgres_adds,omitempty"`
	// Meaning says in a sentence what the figures mean for a governed hop.
	Meaning string `json:"meaning"`
}

// RegistryBackend is one backend's figures.
type RegistryBackend struct {
	Name   string `json:"name"`
	Detail string `json:"detail"`
	// NotRun says why the backend was not measured ("" when it was).
	NotRun string `json:"not_run,omitempty"`
	// Sequential is the latency of lookups made one after another.
	Sequential Summary `json:"sequential"`
	// CPUPerLookup is the CPU time of a sequential lookup in µs: this process's plus, for
	// PostgreSQL, its backends'; -1 when it could not be read.
	CPUPerLookup float64 `json:"cpu_per_lookup_us"`
	// AtRate is the lookups at the fixed rate.
	AtRate RegistryLoad `json:"at_rate"`
}

// RegistryLoad is a backend's lookups at a fixed rate (open loop, latency from each lookup's
// due time, as Drive measures every target).
type RegistryLoad struct {
	Rate       float64  `json:"rate"`
	Sent       uint64   `json:"sent"`
	Failed     uint64   `json:"failed"`
	Unsent     uint64   `json:"unsent"`
	Throughput float64  `json:"throughput_per_second"`
	Latency    Summary  `json:"latency"`
	Errors     []string `json:"errors,omitempty"`
}

// RegistryAdded is what PostgreSQL adds to a check over bbolt, from the sequential lookups.
type RegistryAdded struct {
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	Mean float64 `json:"mean_us"`
	// Ratio is PostgreSQL's p50 over bbolt's.
	Ratio float64 `json:"ratio_p50"`
	// CPU is the CPU per lookup PostgreSQL adds in µs; -1 when either could not be read.
	CPU float64 `json:"cpu_us"`
	// Hop is the governed hop it is set against; nil when the run measured none.
	Hop *RegistryHop `json:"governed_hop,omitempty"`
}

// RegistryHop is the governed hop (b − a) PostgreSQL's addition is set against: the run's
// cheapest at the goal rate (else its highest fixed rate), where the lookup weighs most.
type RegistryHop struct {
	Mix   string  `json:"mix"`
	Cache string  `json:"cache"`
	Rate  float64 `json:"rate"`
	// P50 is the hop's b − a p50 in µs; Share is Added.P50 in percent of it.
	P50   float64 `json:"p50_us"`
	Share float64 `json:"share_percent"`
	// CPU is the hop's CPU (HopCPU.Total) in µs and CPUShare Added.CPU in percent of it; both
	// -1 when unknown or when the hop is not at the goal rate.
	CPU      float64 `json:"cpu_us"`
	CPUShare float64 `json:"cpu_share_percent"`
}

// Backend returns the backend called name, if it was measured.
func (c RegistryCost) Backend(name string) (RegistryBackend, bool) {
	for _, b := range c.Backends {
		if b.Name == name && b.NotRun == "" {
			return b, true
		}
	}
	return RegistryBackend{}, false
}

// registry is one backend under measurement.
type registry struct {
	name, detail string
	// lookup is the registry as synapse's check path sees it.
	lookup authz.TaskStore
	// otherCPU reads the CPU time that the backend's processes other than this one have used
	// (PostgreSQL's server backends); nil when there are none.
	otherCPU func(context.Context) (func() (time.Duration, error), error)
	notRun   error
	close    func()
}

// measureRegistry measures the task lookup on bbolt and on PostgreSQL. What cannot run here
// (PostgreSQL not installed, or not starting) is "not run" with its reason, never a figure.
func measureRegistry(ctx context.Context, opts Options) RegistryCost {
	cost := RegistryCost{Tasks: registryTasks, StepSeconds: opts.RegistryStep.Seconds(), Rounds: opts.Rounds, Rate: GoalRate}
	say := func(format string, args ...any) { fmt.Fprintf(opts.Progress, format+"\n", args...) }
	if opts.RegistryStep <= 0 {
		cost.Status = "not run: the registry step is 0 (--registry-step)"
		return cost
	}
	parent := memoryFS
	if info, err := os.Stat(parent); err != nil || !info.IsDir() {
		parent = ""
	}
	dir, err := os.MkdirTemp(parent, "hopguard-bench-registry-")
	if err != nil {
		cost.Status = fmt.Sprintf("not run: registry directory: %v", err)
		return cost
	}
	defer func() { _ = os.RemoveAll(dir) }()
	// PostgreSQL runs as nobody when the benchmark is root, and needs to reach its directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		cost.Status = fmt.Sprintf("not run: registry directory: %v", err)
		return cost
	}
	ids := make([]string, registryTasks)
	for i := range ids {
		if ids[i], err = tasks.NewID(); err != nil {
			cost.Status = fmt.Sprintf("not run: task ids: %v", err)
			return cost
		}
	}

	say("==> the task registry per check: bbolt beside PostgreSQL, %d tasks each, %s each back to back and at %d/s, in %d rounds",
		registryTasks, opts.RegistryStep, GoalRate, opts.Rounds)
	regs := []*registry{openBBolt(ctx, dir, ids), openPostgres(ctx, dir, ids)}
	defer func() {
		for _, r := range regs {
			if r.close != nil {
				r.close()
			}
		}
	}()
	var running []*registry
	for _, r := range regs {
		if r.notRun != nil {
			say("    %-8s not run: %v", r.name, r.notRun)
			continue
		}
		running = append(running, r)
	}
	results, err := measureRegistries(ctx, running, ids, opts)
	if err != nil {
		cost.Status = "not run: " + err.Error()
		return cost
	}
	for _, r := range regs {
		b, ok := results[r.name]
		if !ok {
			b = RegistryBackend{Name: r.name, Detail: r.detail, NotRun: r.notRun.Error()}
		}
		cost.Backends = append(cost.Backends, b)
		if ok {
			say("    %-8s back to back: %d lookups, p50 %.1f µs, p99 %.1f µs, mean %.1f µs, CPU %s per lookup; at %.0f/s: p50 %.1f µs, p99 %.1f µs, %d failed",
				b.Name, b.Sequential.Count, b.Sequential.P50, b.Sequential.P99, b.Sequential.Mean, microseconds(b.CPUPerLookup),
				b.AtRate.Rate, b.AtRate.Latency.P50, b.AtRate.Latency.P99, b.AtRate.Failed+b.AtRate.Unsent)
		}
	}
	cost.Status = "measured"
	return cost
}

// measureRegistries measures every registry back to back and then at the goal rate, in rounds
// with the registries in turn.
func measureRegistries(ctx context.Context, regs []*registry, ids []string, opts Options) (map[string]RegistryBackend, error) {
	if len(regs) == 0 {
		return nil, nil
	}
	slice := opts.RegistryStep / time.Duration(opts.Rounds)
	lookups := make([]Request, len(regs))
	for i, r := range regs {
		lookups[i] = lookupRequest(r.lookup, ids)
		// The first lookups open the pool's connection and fault the file's pages in.
		if _, _, err := sequential(ctx, r, lookups[i].Do, opts.Warmup, &Histogram{}); err != nil {
			return nil, fmt.Errorf("%s: warm-up: %w", r.name, err)
		}
	}
	hists := make([]Histogram, len(regs))
	cpu, counted := make([]time.Duration, len(regs)), make([]int, len(regs))
	cpuKnown := make([]bool, len(regs))
	for i := range cpuKnown {
		cpuKnown[i] = true
	}
	for range opts.Rounds {
		for i, r := range regs {
			n, used, err := sequential(ctx, r, lookups[i].Do, slice, &hists[i])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.name, err)
			}
			if used < 0 {
				cpuKnown[i] = false
			}
			cpu[i] += used
			counted[i] += n
		}
	}

	targets := make([]target, len(regs))
	for i, r := range regs {
		targets[i] = target{id: r.name, mix: []Request{lookups[i]}}
	}
	atRate := opts
	atRate.Step = opts.RegistryStep
	// The warm-up above opened the connections; each round's own only has to settle the rate.
	atRate.Warmup = opts.Warmup / time.Duration(opts.Rounds)
	steps, err := measureLoad(ctx, NewMonitor(nil), nil, nil, targets, GoalRate, atRate)
	if err != nil {
		return nil, err
	}

	out := make(map[string]RegistryBackend, len(regs))
	for i, r := range regs {
		b := RegistryBackend{Name: r.name, Detail: r.detail, Sequential: summarize(&hists[i]), CPUPerLookup: -1}
		if cpuKnown[i] && counted[i] > 0 {
			b.CPUPerLookup = float64(cpu[i]) / float64(time.Microsecond) / float64(counted[i])
		}
		s := steps[i]
		b.AtRate = RegistryLoad{Rate: s.Rate, Sent: s.Sent, Failed: s.Failed, Unsent: s.Unsent, Throughput: s.Throughput, Latency: s.Latency, Errors: s.Errors}
		out[r.name] = b
	}
	return out, nil
}

// lookupRequest is the lookup synapse's check path makes (authz.TaskStore.Get), over the
// registry's tasks in turn. A lookup that does not return the active task asked for fails, so
// a misconfigured registry cannot pass for a fast one.
func lookupRequest(store authz.TaskStore, ids []string) Request {
	var next atomic.Uint64
	return Request{Kind: registryKind, Do: func(ctx context.Context) error {
		id := ids[(next.Add(1)-1)%uint64(len(ids))]
		task, err := store.Get(ctx, id)
		if err != nil {
			return err
		}
		if task.ID != id || task.Status != tasks.StatusActive {
			return fmt.Errorf("task %s: got %q (%s)", id, task.ID, task.Status)
		}
		return nil
	}}
}

// sequential makes lookups one after another for d, recording each one's latency in h. It
// returns how many it made and the CPU time they took (this process's and the backend's other
// processes'), -1 when that could not be read.
func sequential(ctx context.Context, r *registry, do func(context.Context) error, d time.Duration, h *Histogram) (int, time.Duration, error) {
	clock := r.cpuClock(ctx)
	before, known := clock()
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); n++ {
		began := time.Now()
		if err := do(ctx); err != nil {
			return n, -1, fmt.Errorf("lookup %d: %w", n+1, err)
		}
		h.Record(time.Since(began))
	}
	after, stillKnown := clock()
	if !known || !stillKnown {
		return n, -1, nil
	}
	return n, after - before, nil
}

// cpuClock returns a reader of the CPU time the registry's lookups have used so far: this
// process's plus its other processes'. An unreadable one (false) leaves the figure unknown; it
// does not stop the lookups.
func (r *registry) cpuClock(ctx context.Context) func() (time.Duration, bool) {
	var other func() (time.Duration, error)
	if r.otherCPU != nil {
		var err error
		if other, err = r.otherCPU(ctx); err != nil {
			return func() (time.Duration, bool) { return 0, false }
		}
	}
	return func() (time.Duration, bool) {
		self, err := processCPU()
		if err != nil {
			return 0, false
		}
		if other == nil {
			return self, true
		}
		rest, err := other()
		if err != nil {
			return 0, false
		}
		return self + rest, true
	}
}

// processCPU is this process's CPU time, user and system, to the microsecond.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// openBBolt is the registry synapse keeps by default: bbolt's file, here in dir.
func openBBolt(ctx context.Context, dir string, ids []string) *registry {
	path := filepath.Join(dir, "tasks.db")
	r := &registry{name: RegistryBBolt, detail: "bbolt file (synapse's default registry) in " + filepath.Dir(dir)}
	store, err := tasks.Open(path)
	if err != nil {
		r.notRun = err
		return r
	}
	r.lookup, r.close = store, func() { _ = store.Close() }
	if err := seed(ctx, store, ids); err != nil {
		r.notRun = err
	}
	return r
}

// openPostgres starts a PostgreSQL of the run's own and opens pgstore on it as synapse does.
func openPostgres(ctx context.Context, dir string, ids []string) *registry {
	r := &registry{name: RegistryPostgres, detail: "PostgreSQL on 127.0.0.1 through pgstore's pgx pool"}
	bin, err := pgserver.FindBinaries(postgresSearchPath())
	if errors.Is(err, pgserver.ErrNoBinaries) {
		r.notRun = fmt.Errorf("PostgreSQL is not installed (%w): run `make tools`", err)
		return r
	}
	if err != nil {
		r.notRun = err
		return r
	}
	server, err := startPostgres(ctx, bin, filepath.Join(dir, "postgres"))
	if err != nil {
		r.notRun = fmt.Errorf("start PostgreSQL: %w", err)
		return r
	}
	r.detail = server.version + " on 127.0.0.1 through pgstore's pgx pool (synapse's settings)"
	store, err := pgstore.Open(ctx, server.dsn)
	if err != nil {
		server.stop()
		r.notRun = fmt.Errorf("open the registry on PostgreSQL: %w", err)
		return r
	}
	// A connection of its own to find the pool's server backends, whose CPU the lookups cost too.
	admin, err := pgx.Connect(ctx, server.dsn)
	if err != nil {
		_ = store.Close()
		server.stop()
		r.notRun = fmt.Errorf("connect to PostgreSQL: %w", err)
		return r
	}
	r.lookup = store
	r.otherCPU = func(ctx context.Context) (func() (time.Duration, error), error) { return backendsCPU(ctx, admin) }
	r.close = func() {
		_ = admin.Close(context.WithoutCancel(ctx))
		_ = store.Close()
		server.stop()
	}
	if err := seed(ctx, store, ids); err != nil {
		r.notRun = err
	}
	return r
}

// seed registers the tasks, active, as the admin API does.
func seed(ctx context.Context, registry tasks.Registry, ids []string) error {
	for _, id := range ids {
		if _, err := registry.Create(ctx, tasks.NewTask{ID: id, Principal: benchSubject, AgentID: benchAgentID, TicketID: benchTicket}); err != nil {
			return fmt.Errorf("register the tasks: %w", err)
		}
	}
	return nil
}

// backendsCPU finds PostgreSQL's client backends other than admin's own (the pool's) and returns
// a reader of their CPU time so far. The set is taken once, before a round: the pool keeps its
// connections open between rounds.
func backendsCPU(ctx context.Context, admin *pgx.Conn) (func() (time.Duration, error), error) {
	rows, err := admin.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
	if err != nil {
		return nil, fmt.Errorf("list PostgreSQL's backends: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("list PostgreSQL's backends: %w", err)
	}
	return func() (time.Duration, error) {
		var total time.Duration
		for _, pid := range pids {
			used, err := threadCPU(int(pid))
			if err != nil {
				return 0, err
			}
			total += used
		}
		return total, nil
	}, nil
}

// threadCPU is the time a single-threaded process (a PostgreSQL backend) has run, to the
// nanosecond: /proc/<pid>/schedstat's first field, where /proc/<pid>/stat counts in 10 ms ticks.
func threadCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "schedstat"))
	if err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0, fmt.Errorf("CPU time of process %d: empty schedstat", pid)
	}
	ns, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	return time.Duration(ns), nil
}

// compare sets what PostgreSQL adds over bbolt and what that is beside the run's governed hop,
// and the sentence that says so.
func (c *RegistryCost) compare(overheads []Overhead, hopCPU []HopCPU) {
	if c.Status != "measured" {
		c.Meaning = "The task registry was not measured in this run."
		return
	}
	bolt, boltOK := c.Backend(RegistryBBolt)
	pg, pgOK := c.Backend(RegistryPostgres)
	if !boltOK || !pgOK {
		var missing []string
		for _, b := range c.Backends {
			if b.NotRun != "" {
				missing = append(missing, fmt.Sprintf("%s was not run (%s)", b.Name, b.NotRun))
			}
		}
		c.Meaning = strings.Join(missing, "; ") + ", so this run does not say what PostgreSQL adds to a check over bbolt."
		return
	}
	added := &RegistryAdded{
		P50: pg.Sequential.P50 - bolt.Sequential.P50, P99: pg.Sequential.P99 - bolt.Sequential.P99,
		Mean: pg.Sequential.Mean - bolt.Sequential.Mean, CPU: -1,
	}
	if bolt.Sequential.P50 > 0 {
		added.Ratio = pg.Sequential.P50 / bolt.Sequential.P50
	}
	if pg.CPUPerLookup >= 0 && bolt.CPUPerLookup >= 0 {
		added.CPU = pg.CPUPerLookup - bolt.CPUPerLookup
	}
	added.Hop = registryHop(added, overheads, hopCPU)
	c.Added = added

	meaning := fmt.Sprintf("On PostgreSQL the task lookup synapse makes on every task-bound check takes %.1f µs at the median against bbolt's %.1f µs (%.1f×): PostgreSQL adds %.1f µs (mean %.1f µs) to each check",
		pg.Sequential.P50, bolt.Sequential.P50, added.Ratio, added.P50, added.Mean)
	if added.CPU >= 0 {
		meaning += fmt.Sprintf(" and %.1f µs of CPU (this process and PostgreSQL's backend)", added.CPU)
	}
	if h := added.Hop; h != nil {
		meaning += fmt.Sprintf(". Against this run's cheapest governed hop (%s mix, cache %s, b − a p50 at %s: %.3f ms) that is %.1f%% more latency",
			h.Mix, h.Cache, loadName(h.Rate), h.P50/1000, h.Share)
		if h.CPUShare >= 0 {
			meaning += fmt.Sprintf(", and %.1f%% of the %.0f µs of CPU the hop costs (Cerbos + synapse + Envoy's ext_authz share)", h.CPUShare, h.CPU)
		}
	} else {
		meaning += ". This run measured no governed hop without failures to set it against"
	}
	c.Meaning = meaning + ". PostgreSQL is there for replicas that share revocations, not for speed; one synapse is cheaper on bbolt."
}

// registryHop picks the governed hop (b − a) to set PostgreSQL's addition against: the cheapest
// at the goal rate, else at the run's highest fixed rate; nil when there is none. A hop whose
// steps had failures is no yardstick: failed requests are answered fast or time out.
func registryHop(added *RegistryAdded, overheads []Overhead, hopCPU []HopCPU) *RegistryHop {
	usable := func(o Overhead) bool { return o.Name == overheadGoverned && o.Clean && o.P50 > 0 }
	rate := 0.0
	for _, o := range overheads {
		if usable(o) && (o.Rate == GoalRate || (rate != GoalRate && o.Rate > rate)) {
			rate = o.Rate
		}
	}
	var hop *RegistryHop
	for _, o := range overheads {
		if !usable(o) || o.Rate != rate || (hop != nil && o.P50 >= hop.P50) {
			continue
		}
		hop = &RegistryHop{Mix: o.Mix, Cache: o.Cache, Rate: o.Rate, P50: o.P50, Share: 100 * added.P50 / o.P50, CPU: -1, CPUShare: -1}
	}
	if hop == nil {
		return nil
	}
	// Below the goal rate a hop's CPU per request carries the components' idle work spread over
	// few requests: no yardstick either.
	for _, c := range hopCPU {
		if hop.Rate == GoalRate && c.Mix == hop.Mix && c.Cache == hop.Cache && c.Rate == hop.Rate && c.Total > 0 {
			hop.CPU = c.Total
			if added.CPU >= 0 {
				hop.CPUShare = 100 * added.CPU / c.Total
			}
		}
	}
	return hop
}

// microseconds formats a figure in µs; a negative one is unknown.
func microseconds(us float64) string {
	if us < 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f µs", us)
}

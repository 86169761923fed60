// Package conformance_test is the entry point of the conformance suite: `go test ./conformance`
// brings up the whole environment once (real Cerbos and Envoy, synapse, the mock upstreams),
// runs every scenario behind every gateway that can run here, and writes the portability
// report to out/conformance/report.md and report.json. HOPGUARD_RUNTIME=container runs every
// component in a container instead of as a local process (`make container-test`), and the
// report, which says which runtime it ran on, goes to out/conformance/container.
package conformance_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/clients"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/conformance/procnet"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/scenarios"
)

// suite is the environment and the report shared by every test of the run.
var suite struct {
	gateways []gateways.Gateway // every gateway, those that run and those that cannot
	network  netns.Where
	env      *harness.Env
	upErr    error
	recorder *report.Recorder
	outDir   string // where the report goes
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		fmt.Println("conformance: skipped in -short mode (it starts the whole environment)")
		return 0
	}
	// HOPGUARD_RUNTIME selects the runtime (process by default); the report names it. The
	// suite runs in a network namespace of its own, loopback only, where it can; with
	// HOPGUARD_EXTERNAL it runs against `make up`'s environment and the gateways named there.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	started, code, exited := harness.StartSuite(ctx, harness.SuiteOptions{Who: "conformance", Log: os.Stderr, Observe: progress})
	cancel()
	if exited {
		return code
	}
	runtimeName, outDir := started.RuntimeName, started.ReportDir
	suite.network, suite.gateways, suite.env, suite.upErr = started.Network, started.Gateways, started.Env, started.UpErr
	suite.outDir = outDir

	suite.recorder = report.NewRecorder(runtimeName)
	if suite.env != nil {
		suite.recorder.SetAgentIdentity(suite.env.AgentIdentity())
	}
	for _, g := range suite.gateways {
		gw := report.Gateway{Name: g.Name(), Detail: g.Detail(), Notes: gateways.ProfileOf(g).Notes}
		if gw.Detail != "" {
			gw.Detail += "; " + runtimeName + " runtime"
		}
		if suite.env != nil {
			if err, ok := suite.env.NotRun[g.Name()]; ok {
				gw.NotRunReason = err.Error()
				gw.Notes = nil
			}
		}
		suite.recorder.AddGateway(gw)
	}
	for _, s := range scenarios.Suite() {
		suite.recorder.AddScenario(report.Scenario{ID: s.ID, Title: s.Title})
	}

	code = m.Run()

	if err := suite.env.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "conformance: stopping the environment:", err)
		code = 1
	}
	if err := report.Write(outDir, suite.recorder.Report(time.Now())); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	logs := "(none: the environment did not start)"
	if suite.env != nil {
		logs = suite.env.LogsDir()
	}
	fmt.Printf("conformance: report in %s, component logs in %s\n", filepath.Join(outDir, "report.md"), logs)
	return code
}

func progress(e runtime.Event) {
	switch e.Phase {
	case runtime.Ready:
		fmt.Fprintf(os.Stderr, "conformance: %-12s ready (%s)\n", e.Component, e.Elapsed.Round(time.Millisecond))
	case runtime.Failed:
		fmt.Fprintf(os.Stderr, "conformance: %-12s FAILED: %v\n", e.Component, e.Err)
	}
}

// TestNothingListensBeyondLoopbackOnTheHost holds the run to its network namespace: every
// component's process (a local process or a container's) lives outside the host's namespace,
// and none of them owns a socket that listens on an address of the host other than loopback.
// agentgateway binds every interface, so outside the namespace it would.
func TestNothingListensBeyondLoopbackOnTheHost(t *testing.T) {
	if suite.upErr != nil {
		t.Fatalf("the environment did not start: %v", suite.upErr)
	}
	if !suite.network.Isolated {
		t.Skipf("not run: the run is on the host's network (%v)", suite.network.Why)
	}
	// The process that ran this one again inside the namespace (harness.Isolate) stays in the
	// host's network: its view of the network is the host's.
	const proc = "/proc"
	hostPID := os.Getppid()
	host, err := procnet.Namespace(proc, hostPID)
	require.NoError(t, err, "the host's network namespace, as the parent process has it")
	hostListeners, err := procnet.Listening(proc, hostPID)
	require.NoError(t, err)
	beyondLoopback := map[uint64]procnet.Socket{}
	for _, s := range hostListeners {
		if !s.Local.Addr().IsLoopback() {
			beyondLoopback[s.Inode] = s
		}
	}

	pids, err := suite.env.Runtime.PIDs(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, pids)
	for component, pid := range pids {
		ns, err := procnet.Namespace(proc, pid)
		require.NoError(t, err, component)
		assert.NotEqual(t, host, ns, "%s (process %d) is outside the host's network namespace", component, pid)
		for inode := range procnet.SocketInodes(proc, pid) {
			if s, ok := beyondLoopback[inode]; ok {
				t.Errorf("%s (process %d) listens on the host's %s %s", component, pid, s.Proto, s.Local)
			}
		}
	}
}

// TestScenarios runs every scenario behind every gateway that runs here.
func TestScenarios(t *testing.T) {
	if suite.upErr != nil {
		for _, s := range scenarios.Suite() {
			for _, g := range suite.gateways {
				suite.recorder.Record(report.Result{Gateway: g.Name(), Scenario: s.ID, Outcome: report.Fail, Reason: "the environment did not start: " + suite.upErr.Error()})
			}
		}
		t.Fatalf("the environment did not start (run `make tools` if a binary is missing): %v", suite.upErr)
	}
	runID := strconv.FormatInt(time.Now().Unix(), 36)
	for _, g := range suite.env.Gateways {
		t.Run(g.Name(), func(t *testing.T) {
			env := scenarioEnv(t, g.Name(), runID)
			for _, s := range scenarios.Suite() {
				t.Run(s.ID, func(t *testing.T) {
					began := time.Now()
					result := scenarios.Execute(t.Context(), env, s, scenarios.Observer{})
					res := report.Result{Gateway: g.Name(), Scenario: s.ID, Outcome: report.Pass, Decisions: result.Decisions(), Duration: time.Since(began)}
					// One subtest per step run: its log, then its problems as failures.
					for _, step := range result.Steps {
						t.Run(step.Name, func(t *testing.T) {
							for _, line := range step.Log {
								t.Log(line)
							}
							for _, problem := range step.Problems {
								t.Error(problem)
							}
						})
					}
					if failed, ok := result.Failed(); ok {
						res.Outcome = report.Fail
						res.Reason = "step failed: " + failed.Name + " (see go test -v output)"
					}
					suite.recorder.Record(res)
				})
			}
		})
	}
}

// TestClients plays the client matrix (conformance/clients): hops through every gateway with
// official client libraries, each with its own API, and compares what the upstreams received
// behind each gateway (conformance/parity). Both go into the report; a cell that does not pass
// (but for those a gateway cannot meet, report.Cannot, each quoting the gateway's notes) or a
// meaning-changing difference fails. It runs after the scenarios since it stops and starts
// components again.
func TestClients(t *testing.T) {
	if suite.upErr != nil {
		t.Fatalf("the environment did not start: %v", suite.upErr)
	}
	// The MCP session lifecycle (conformance/clients, lifecycle.go): the upstream reached
	// directly, then through each gateway.
	lifecycle := clients.Lifecycle(t.Context(), suite.env, strconv.FormatInt(time.Now().UnixNano(), 36), t.Logf)
	suite.recorder.RecordLifecycle(lifecycle...)
	for _, r := range lifecycle {
		t.Run("session lifecycle/"+r.Target, func(t *testing.T) {
			t.Logf("%s: %+v", r.Outcome, r.Steps)
			if r.Outcome != report.Pass {
				t.Errorf("%s: %s", r.Outcome, r.Reason)
			}
		})
	}
	res := clients.Run(t.Context(), suite.env, strconv.FormatInt(time.Now().UnixNano(), 36), t.Logf)
	suite.recorder.SetClientSDKs(res.SDKs)
	suite.recorder.RecordClientCells(res.Cells...)
	suite.recorder.RecordParity(res.Parity...)
	for _, c := range res.Cells {
		t.Run(c.Gateway+"/"+c.Client+"/"+c.Hop, func(t *testing.T) {
			t.Logf("%s: %s; surfaced: %s; requests: %q", c.Outcome, c.Played, c.Surfaced, c.Requests)
			switch c.Outcome {
			case report.Pass:
			case report.Cannot: // a cell the gateway cannot meet, its notes quoted (conformance/clients, explained.go)
				t.Log(c.Reason)
			default:
				t.Errorf("%s: %s", c.Outcome, c.Reason)
			}
		})
	}
	for _, p := range res.Parity {
		t.Run("parity/"+p.Hop, func(t *testing.T) {
			t.Logf("%s: %s; differences: %+v", p.Outcome, p.Reason, p.Differences)
			if p.Outcome == report.Fail {
				t.Error(p.Reason)
			}
		})
	}
	for _, p := range res.Problems {
		t.Error(p)
	}
}

func scenarioEnv(t *testing.T, gateway, runID string) scenarios.Env {
	t.Helper()
	env, err := suite.env.Behind(gateway, runID)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

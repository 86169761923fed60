package security_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/conformance/security/summary"
)

// suite is the environment, the credentials and the report shared by every test of the binary.
var suite struct {
	env      *harness.Env
	upErr    error
	creds    *bypass.Credentials
	recorder *summary.Recorder
	runID    string
	// started is how the suite started: its runtime, network and report directory, for a test
	// that brings up an environment of its own (the HA drills).
	started harness.Suite
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		fmt.Println("security: skipped in -short mode (it starts the whole environment)")
		return 0
	}
	// HOPGUARD_RUNTIME selects the runtime (process by default); the summary names it. The
	// suite runs in a network namespace of its own, loopback only, where it can; with
	// HOPGUARD_EXTERNAL it runs against `make up`'s environment and the gateways named there.
	// Its environment has a directory of its own: the scenario suite may run at the same time.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	started, code, exited := harness.StartSuite(ctx, harness.SuiteOptions{Who: "security", Home: "security", Log: os.Stderr, Observe: progress})
	if exited {
		return code
	}
	runtimeName, reportDir, all := started.RuntimeName, started.ReportDir, started.Gateways
	suite.started = started
	suite.env, suite.upErr = started.Env, started.UpErr
	suite.runID = strconv.FormatInt(time.Now().UnixNano(), 36)
	if suite.upErr == nil {
		suite.creds, suite.upErr = newCredentials(ctx)
	}
	cancel()

	var gws []summary.Gateway
	for _, g := range all {
		gw := summary.Gateway{Name: g.Name(), Detail: g.Detail()}
		if suite.env != nil {
			if err, ok := suite.env.NotRun[g.Name()]; ok {
				gw.NotRunReason = err.Error()
			}
		}
		h2 := gw
		h2.Name, h2.Detail = overHTTP2(g.Name()), "the same front door over cleartext HTTP/2 (prior knowledge)"
		gws = append(gws, gw, h2)
	}
	suite.recorder = summary.NewRecorder(runtimeName, gws, bypass.Corpus(), bypass.Controls())

	code = m.Run()

	if err := suite.env.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "security: stopping the environment:", err)
		code = 1
	}
	if err := summary.Write(reportDir, suite.recorder.Summary(time.Now())); err != nil {
		fmt.Fprintln(os.Stderr, "security:", err)
		return 1
	}
	logs := "(none: the environment did not start)"
	if suite.env != nil {
		logs = suite.env.LogsDir()
	}
	fmt.Printf("security: report in %s, component logs in %s\n", filepath.Join(reportDir, summary.MarkdownFile), logs)
	return code
}

func newCredentials(ctx context.Context) (*bypass.Credentials, error) {
	h := suite.env
	sts, err := h.STSURL()
	if err != nil {
		return nil, err
	}
	expired, err := h.ExpiredSTSURL()
	if err != nil {
		return nil, err
	}
	admin, err := h.Admin()
	if err != nil {
		return nil, err
	}
	return bypass.NewCredentials(ctx, bypass.CredentialsConfig{
		STSURL: sts, ExpiredSTSURL: expired, DriverSTSURL: h.DriverSTSURL(), Admin: admin, SigningKeyPEM: h.Secrets.SigningKeyPEM, RunID: suite.runID,
	})
}

func progress(e runtime.Event) {
	switch e.Phase {
	case runtime.Ready:
		fmt.Fprintf(os.Stderr, "security: %-12s ready (%s)\n", e.Component, e.Elapsed.Round(time.Millisecond))
	case runtime.Failed:
		fmt.Fprintf(os.Stderr, "security: %-12s FAILED: %v\n", e.Component, e.Err)
	}
}

// requireEnv fails the test when the environment did not come up.
func requireEnv(t *testing.T) *harness.Env {
	t.Helper()
	if suite.upErr != nil {
		t.Fatalf("the environment did not start (run `make tools` if a binary is missing): %v", suite.upErr)
	}
	return suite.env
}

// overHTTP2 is the report's name of a gateway's front door spoken to in HTTP/2.
func overHTTP2(gateway string) string { return gateway + " h2" }

// target is one running gateway as the corpus and the drills see it.
// marksOwnRefusals are the gateways whose configs mark every reply they make themselves for a
// request they refuse (Envoy's and Istio's local reply mappers, agentgateway's gateway-level
// response transformation), so that an unmarked refusal behind them is a problem.
var marksOwnRefusals = map[string]bool{"envoy": true, "istio": true, "agentgateway": true}

func target(t *testing.T, gateway string) bypass.Target {
	t.Helper()
	h := requireEnv(t)
	u, err := h.GatewayURL(gateway)
	if err != nil {
		t.Fatal(err)
	}
	journals, err := h.JournalsByResource()
	if err != nil {
		t.Fatal(err)
	}
	return bypass.Target{Gateway: gateway, Addr: strings.TrimPrefix(u, "http://"), Journals: journals, AuditLogs: []string{h.AuditLogPath()}, Creds: suite.creds,
		MarksOwnRefusals: marksOwnRefusals[gateway]}
}

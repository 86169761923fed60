package conformance_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/conformance/transparency"
	"github.com/hopguard/hopguard/mockservers/mcpconformance"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// frameworkName is what the table says ran.
const frameworkName = "@modelcontextprotocol/conformance 0.1.16, its active server suite"

// The framework's suite takes about 2 s here. A scenario that hangs behind a gateway (its
// client waits 60 s for an answer that never comes) holds the whole suite up: past
// suiteTimeout the suite is cut short, and each scenario it did not finish is run alone for at
// most scenarioTimeout.
const (
	suiteTimeout    = 20 * time.Second
	scenarioTimeout = 10 * time.Second
)

// TestMCPTransparency runs the official MCP conformance framework's server suite against the
// fixture server directly and through every gateway that runs, as the principal whose policy
// allows everything on that server: whatever passes directly must pass through a gateway, or be
// that gateway's recorded behaviour (gateways.Profile.MCPBehaviours). The table goes into the
// report.
func TestMCPTransparency(t *testing.T) {
	if suite.upErr != nil {
		t.Fatalf("the environment did not start: %v", suite.upErr)
	}
	rec := report.Transparency{Framework: frameworkName, Targets: []string{report.TransparencyDirect}, TargetsNotRun: map[string]string{}}
	defer func() { suite.recorder.RecordTransparency(rec) }()
	dir, err := binaries.Dir()
	if err == nil {
		var fw transparency.Framework
		if fw, err = transparency.Find(dir); err == nil {
			runTransparency(t, fw, &rec)
			return
		}
	}
	rec.NotRun = err.Error()
	t.Skipf("not run: %v", err)
}

func runTransparency(t *testing.T, fw transparency.Framework, rec *report.Transparency) {
	out := filepath.Join(suite.outDir, "mcp-conformance")
	base, err := suite.env.URL(stack.MCPComponent(stack.ConformanceServer))
	if err != nil {
		t.Fatalf("the fixture server's address: %v", err)
	}
	direct, err := runFramework(t.Context(), fw, transparency.Target{Name: report.TransparencyDirect, URL: base + mcpconformance.EndpointPath}, out, nil, t.Logf)
	if err != nil {
		t.Fatalf("the framework against the fixture directly: %v", err)
	}
	var all []string
	for _, r := range direct {
		all = append(all, r.Scenario)
	}
	behind := map[string][]transparency.ScenarioResult{}
	known := map[string]map[string]string{}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, g := range suite.env.Gateways {
		rec.Targets = append(rec.Targets, g.Name())
		known[g.Name()] = gateways.ProfileOf(g).MCPBehaviours
		target, err := frameworkTarget(t.Context(), g.Name(), runID)
		if err == nil {
			behind[g.Name()], err = runFramework(t.Context(), fw, target, out, all, t.Logf)
		}
		if err != nil {
			rec.TargetsNotRun[g.Name()] = err.Error()
			t.Errorf("the framework behind %s: %v", g.Name(), err)
		}
	}
	rows, problems := transparency.Compare(direct, behind, known)
	for _, row := range rows {
		cells := map[string]report.TransparencyCell{}
		for target, c := range row.Cells {
			cells[target] = report.TransparencyCell{Outcome: c.Outcome, Detail: c.Detail}
		}
		rec.Rows = append(rec.Rows, report.TransparencyRow{Scenario: row.Scenario, Cells: cells})
		t.Logf("%s: %+v", row.Scenario, row.Cells)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// runFramework runs the suite against target; when it is cut short, every scenario of all it
// did not finish runs alone, and one that does not finish then fails as hung.
func runFramework(ctx context.Context, fw transparency.Framework, target transparency.Target, out string, all []string, logf func(string, ...any)) ([]transparency.ScenarioResult, error) {
	dir := filepath.Join(out, target.Name)
	suiteCtx, cancel := context.WithTimeout(ctx, suiteTimeout)
	defer cancel()
	results, err := fw.Run(suiteCtx, target, dir, logf)
	if err == nil || suiteCtx.Err() == nil || ctx.Err() != nil || len(all) == 0 {
		return results, err
	}
	logf("the suite against %s did not finish within %v: each scenario it did not finish runs alone", target.Name, suiteTimeout)
	results, _ = transparency.ReadResults(dir)
	for _, scenario := range all {
		if slices.ContainsFunc(results, func(r transparency.ScenarioResult) bool { return r.Scenario == scenario }) {
			continue
		}
		scenarioCtx, cancel := context.WithTimeout(ctx, scenarioTimeout)
		r, err := fw.RunScenario(scenarioCtx, target, scenario, filepath.Join(dir, "alone", scenario), logf)
		hung := scenarioCtx.Err() != nil
		cancel()
		switch {
		case hung:
			r = transparency.ScenarioResult{Scenario: scenario, Failures: []transparency.Check{{ID: "hung", Status: transparency.StatusFailure,
				Message: fmt.Sprintf("no result within %v, run alone: the scenario hangs", scenarioTimeout)}}}
		case err != nil:
			return nil, err
		}
		results = append(results, r)
	}
	slices.SortFunc(results, func(a, b transparency.ScenarioResult) int { return strings.Compare(a.Scenario, b.Scenario) })
	return results, nil
}

// frameworkTarget is the fixture behind gateway, with a token of the framework's principal for
// a task of its own.
func frameworkTarget(ctx context.Context, gateway, runID string) (transparency.Target, error) {
	env, err := suite.env.Behind(gateway, runID)
	if err != nil {
		return transparency.Target{}, err
	}
	actor := scenarios.MCPConformance
	taskID := fmt.Sprintf("%s-%s-mcp-conformance", runID, gateway)
	if _, err := env.Admin.Create(ctx, tasks.NewTask{ID: taskID, Principal: actor.Creds.ClientID, AgentID: actor.AgentID, TicketID: "T-1001"}); err != nil {
		return transparency.Target{}, fmt.Errorf("create task %s: %w", taskID, err)
	}
	sts := &identity.STSClient{TokenURL: env.STSURL + "/oauth2/token"}
	boot, err := sts.Bootstrap(ctx, actor.Creds, identity.Attestation{AgentID: actor.AgentID, HarnessVersion: "conformance", TaskID: taskID})
	if err != nil {
		return transparency.Target{}, fmt.Errorf("STS bootstrap: %w", err)
	}
	resource := "mcp:" + stack.ConformanceServer
	tok, err := sts.Exchange(ctx, identity.ExchangeRequest{SubjectToken: boot.Value, Resource: resource})
	if err != nil {
		return transparency.Target{}, fmt.Errorf("STS exchange for %s: %w", resource, err)
	}
	return transparency.Target{Name: gateway, URL: env.GatewayURL + "/mcp/" + stack.ConformanceServer, Authorization: "Bearer " + tok.Value}, nil
}

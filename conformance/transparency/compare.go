package transparency

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The outcomes of a Cell.
const (
	OutcomePass = "pass"
	OutcomeFail = "fail"
	// OutcomeGatewayBehaviour is a failure behind a gateway that the caller named as known.
	OutcomeGatewayBehaviour = "gateway behaviour"
	OutcomeNotRun           = "not run"
)

// Direct is the column of the run straight against the fixture in a Row's Cells.
const Direct = "direct"

// detailLimit keeps a cell's detail readable in a table; the full messages are in checks.json.
const detailLimit = 400

// Row is one scenario across the runs: Cells maps Direct and each gateway's name to its outcome.
type Row struct {
	Scenario string
	Cells    map[string]Cell
}

// Cell is one scenario's outcome in one run.
type Cell struct {
	// Outcome is one of OutcomePass, OutcomeFail, OutcomeGatewayBehaviour, OutcomeNotRun.
	Outcome string
	// Detail says why: the failing checks, the known behaviour's note, or why it did not run.
	Detail string
}

// Compare lays the direct run and the run behind each gateway side by side, one row per scenario
// seen in any of them, sorted by name. known[gateway][scenario] is a note on a failure the gateway
// is known to cause; such a failure shows as OutcomeGatewayBehaviour with that note.
//
// A gateway with no results did not run (the caller says why): its cells are OutcomeNotRun and
// no problem. The problems, which fail the run, are:
//   - no direct results at all, or a scenario missing from them;
//   - a scenario that fails directly (the fixture must pass everything);
//   - a scenario that passes directly and fails behind a gateway, unless known names it;
//   - a scenario missing from the results of a gateway that ran.
func Compare(direct []ScenarioResult, behind map[string][]ScenarioResult, known map[string]map[string]string) (rows []Row, problems []string) {
	if len(direct) == 0 {
		problems = append(problems, "the direct run against the fixture has no results")
	}
	gateways := slices.Sorted(maps.Keys(behind))
	if slices.Contains(gateways, Direct) {
		problems = append(problems, fmt.Sprintf("a gateway is named %q, which is the column of the direct run", Direct))
	}
	directBy := byScenario(direct)
	behindBy := make(map[string]map[string]ScenarioResult, len(behind))
	scenarios := slices.Collect(maps.Keys(directBy))
	for _, gw := range gateways {
		behindBy[gw] = byScenario(behind[gw])
		scenarios = append(scenarios, slices.Collect(maps.Keys(behindBy[gw]))...)
	}
	slices.Sort(scenarios)
	scenarios = slices.Compact(scenarios)

	for _, scenario := range scenarios {
		row := Row{Scenario: scenario, Cells: make(map[string]Cell, len(gateways)+1)}
		d, ranDirectly := directBy[scenario]
		switch {
		case !ranDirectly:
			row.Cells[Direct] = Cell{Outcome: OutcomeNotRun, Detail: "missing from the direct run's results"}
			problems = append(problems, fmt.Sprintf("%s: missing from the direct run's results", scenario))
		case d.Passed:
			row.Cells[Direct] = Cell{Outcome: OutcomePass}
		default:
			detail := describeFailures(d.Failures)
			row.Cells[Direct] = Cell{Outcome: OutcomeFail, Detail: detail}
			problems = append(problems, fmt.Sprintf("%s: fails directly against the fixture: %s", scenario, detail))
		}
		for _, gw := range gateways {
			cell, problem := gatewayCell(scenario, gw, len(behind[gw]) > 0, behindBy[gw], ranDirectly && d.Passed, known[gw][scenario])
			row.Cells[gw] = cell
			if problem != "" {
				problems = append(problems, problem)
			}
		}
		rows = append(rows, row)
	}
	return rows, problems
}

// gatewayCell is a scenario's cell for one gateway, and the problem it shows, if any. A failure
// behind a gateway is the gateway's problem only when the scenario passes directly; otherwise the
// direct failure is the problem.
func gatewayCell(scenario, gateway string, ran bool, results map[string]ScenarioResult, passedDirectly bool, knownNote string) (Cell, string) {
	if !ran {
		return Cell{Outcome: OutcomeNotRun}, ""
	}
	r, ok := results[scenario]
	switch {
	case !ok:
		return Cell{Outcome: OutcomeNotRun, Detail: "missing from the gateway's results"},
			fmt.Sprintf("%s: missing from the results behind %s", scenario, gateway)
	case r.Passed && knownNote != "":
		// Stale notes are worth seeing, but a gateway that got better is no failure.
		return Cell{Outcome: OutcomePass, Detail: "the known gateway behaviour did not show: " + knownNote}, ""
	case r.Passed:
		return Cell{Outcome: OutcomePass}, ""
	case knownNote != "":
		return Cell{Outcome: OutcomeGatewayBehaviour, Detail: knownNote}, ""
	}
	detail := describeFailures(r.Failures)
	if !passedDirectly {
		return Cell{Outcome: OutcomeFail, Detail: detail}, ""
	}
	return Cell{Outcome: OutcomeFail, Detail: detail},
		fmt.Sprintf("%s: passes directly but fails behind %s: %s", scenario, gateway, detail)
}

func byScenario(results []ScenarioResult) map[string]ScenarioResult {
	m := make(map[string]ScenarioResult, len(results))
	for _, r := range results {
		m[r.Scenario] = r
	}
	return m
}

// describeFailures is a one-line account of failing checks: "id: message; id: message".
func describeFailures(failures []Check) string {
	if len(failures) == 0 {
		return "failed"
	}
	parts := make([]string, len(failures))
	for i, c := range failures {
		parts[i] = c.ID + ": " + strings.Join(strings.Fields(c.Message), " ")
	}
	s := strings.Join(parts, "; ")
	if r := []rune(s); len(r) > detailLimit {
		s = string(r[:detailLimit]) + "…"
	}
	return s
}

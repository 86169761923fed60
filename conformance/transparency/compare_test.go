package transparency

import (
	"reflect"
	"strings"
	"testing"
)

func pass(scenario string) ScenarioResult { return ScenarioResult{Scenario: scenario, Passed: true} }

func fail(scenario, id, message string) ScenarioResult {
	return ScenarioResult{Scenario: scenario, Failures: []Check{{ID: id, Status: StatusFailure, Message: message}}}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name     string
		direct   []ScenarioResult
		behind   map[string][]ScenarioResult
		known    map[string]map[string]string
		rows     []Row
		problems []string // each is a substring of the problem at that index
	}{
		{
			name:   "transparent gateways",
			direct: []ScenarioResult{pass("ping"), pass("tools-list")},
			behind: map[string][]ScenarioResult{
				"envoy":        {pass("tools-list"), pass("ping")},
				"agentgateway": {pass("ping"), pass("tools-list")},
			},
			rows: []Row{
				{"ping", map[string]Cell{Direct: {Outcome: OutcomePass}, "envoy": {Outcome: OutcomePass}, "agentgateway": {Outcome: OutcomePass}}},
				{"tools-list", map[string]Cell{Direct: {Outcome: OutcomePass}, "envoy": {Outcome: OutcomePass}, "agentgateway": {Outcome: OutcomePass}}},
			},
		},
		{
			name:   "a failure only behind a gateway is its problem",
			direct: []ScenarioResult{pass("tools-call-sampling")},
			behind: map[string][]ScenarioResult{"envoy": {fail("tools-call-sampling", "tools-call-sampling", "no\nsampling request")}},
			rows: []Row{{"tools-call-sampling", map[string]Cell{
				Direct:  {Outcome: OutcomePass},
				"envoy": {Outcome: OutcomeFail, Detail: "tools-call-sampling: no sampling request"},
			}}},
			problems: []string{"tools-call-sampling: passes directly but fails behind envoy: tools-call-sampling: no sampling request"},
		},
		{
			name:   "a known gateway behaviour is no problem",
			direct: []ScenarioResult{pass("dns-rebinding-protection")},
			behind: map[string][]ScenarioResult{"envoy": {fail("dns-rebinding-protection", "localhost-host-rebinding-rejected", "200")}},
			known:  map[string]map[string]string{"envoy": {"dns-rebinding-protection": "the gateway rewrites Host"}},
			rows: []Row{{"dns-rebinding-protection", map[string]Cell{
				Direct:  {Outcome: OutcomePass},
				"envoy": {Outcome: OutcomeGatewayBehaviour, Detail: "the gateway rewrites Host"},
			}}},
		},
		{
			name:   "a known behaviour of another gateway does not excuse this one",
			direct: []ScenarioResult{pass("ping")},
			behind: map[string][]ScenarioResult{"envoy": {fail("ping", "ping", "timeout")}},
			known:  map[string]map[string]string{"agentgateway": {"ping": "note"}},
			rows: []Row{{"ping", map[string]Cell{
				Direct:  {Outcome: OutcomePass},
				"envoy": {Outcome: OutcomeFail, Detail: "ping: timeout"},
			}}},
			problems: []string{"ping: passes directly but fails behind envoy"},
		},
		{
			name:   "a known behaviour that did not show passes with a note",
			direct: []ScenarioResult{pass("ping")},
			behind: map[string][]ScenarioResult{"envoy": {pass("ping")}},
			known:  map[string]map[string]string{"envoy": {"ping": "drops pings"}},
			rows: []Row{{"ping", map[string]Cell{
				Direct:  {Outcome: OutcomePass},
				"envoy": {Outcome: OutcomePass, Detail: "the known gateway behaviour did not show: drops pings"},
			}}},
		},
		{
			name:   "a direct failure is a problem, and not the gateway's",
			direct: []ScenarioResult{fail("ping", "ping", "boom")},
			behind: map[string][]ScenarioResult{"envoy": {fail("ping", "ping", "boom")}},
			rows: []Row{{"ping", map[string]Cell{
				Direct:  {Outcome: OutcomeFail, Detail: "ping: boom"},
				"envoy": {Outcome: OutcomeFail, Detail: "ping: boom"},
			}}},
			problems: []string{"ping: fails directly against the fixture: ping: boom"},
		},
		{
			name:   "a scenario missing behind a gateway that ran",
			direct: []ScenarioResult{pass("ping"), pass("tools-list")},
			behind: map[string][]ScenarioResult{"envoy": {pass("ping")}},
			rows: []Row{
				{"ping", map[string]Cell{Direct: {Outcome: OutcomePass}, "envoy": {Outcome: OutcomePass}}},
				{"tools-list", map[string]Cell{Direct: {Outcome: OutcomePass}, "envoy": {Outcome: OutcomeNotRun, Detail: "missing from the gateway's results"}}},
			},
			problems: []string{"tools-list: missing from the results behind envoy"},
		},
		{
			name:   "a gateway that did not run is no problem",
			direct: []ScenarioResult{pass("ping")},
			behind: map[string][]ScenarioResult{"envoy": nil},
			rows:   []Row{{"ping", map[string]Cell{Direct: {Outcome: OutcomePass}, "envoy": {Outcome: OutcomeNotRun}}}},
		},
		{
			name:   "a scenario seen only behind a gateway",
			direct: []ScenarioResult{pass("ping")},
			behind: map[string][]ScenarioResult{"envoy": {pass("ping"), pass("extra")}},
			rows: []Row{
				{"extra", map[string]Cell{Direct: {Outcome: OutcomeNotRun, Detail: "missing from the direct run's results"}, "envoy": {Outcome: OutcomePass}}},
				{"ping", map[string]Cell{Direct: {Outcome: OutcomePass}, "envoy": {Outcome: OutcomePass}}},
			},
			problems: []string{"extra: missing from the direct run's results"},
		},
		{
			name:     "no direct results",
			behind:   map[string][]ScenarioResult{"envoy": nil},
			problems: []string{"the direct run against the fixture has no results"},
		},
		{
			name:     "a gateway named like the direct column",
			direct:   []ScenarioResult{pass("ping")},
			behind:   map[string][]ScenarioResult{Direct: {pass("ping")}},
			rows:     []Row{{"ping", map[string]Cell{Direct: {Outcome: OutcomePass}}}},
			problems: []string{`a gateway is named "direct"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, problems := Compare(tt.direct, tt.behind, tt.known)
			if !reflect.DeepEqual(rows, tt.rows) {
				t.Errorf("rows:\n got %+v\nwant %+v", rows, tt.rows)
			}
			if len(problems) != len(tt.problems) {
				t.Fatalf("problems: got %q, want %d matching %q", problems, len(tt.problems), tt.problems)
			}
			for i, want := range tt.problems {
				if !strings.Contains(problems[i], want) {
					t.Errorf("problem %d: got %q, want it to contain %q", i, problems[i], want)
				}
			}
		})
	}
}

func TestDescribeFailuresIsBounded(t *testing.T) {
	got := describeFailures([]Check{{ID: "x", Message: strings.Repeat("é", 2*detailLimit)}})
	if n := len([]rune(got)); n != detailLimit+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("got %d runes ending %q, want %d ending with …", n, got[len(got)-5:], detailLimit+1)
	}
}

package transparency

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// The check statuses of the framework's results that matter here; it also writes WARNING, INFO
// and others, which do not fail a scenario.
const (
	StatusSuccess = "SUCCESS"
	StatusFailure = "FAILURE"
)

// checksFile is the file the framework writes per scenario.
const checksFile = "checks.json"

// resultDirName is how the framework names a server scenario's result directory:
// "server-<scenario>-<new Date().toISOString() with : and . replaced by ->", e.g.
// server-server-initialize-2026-12-05T17-49-47-774Z for the scenario server-initialize.
var resultDirName = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$`)

// Check is one check of a scenario, as the framework reported it.
type Check struct {
	// ID is the framework's check id, e.g. "tools-call-simple-text".
	ID string
	// Status is the framework's status: SUCCESS, FAILURE, WARNING, INFO, ...
	Status string
	// Message says why: the framework's error message, or what the check is about when it gave none.
	Message string
}

// ScenarioResult is one scenario of a run.
type ScenarioResult struct {
	Scenario string
	// Passed is true when no check failed.
	Passed bool
	// Failures are the checks with status FAILURE.
	Failures []Check
}

// frameworkCheck is one element of a checks.json.
type frameworkCheck struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Status       string          `json:"status"`
	Description  string          `json:"description"`
	ErrorMessage string          `json:"errorMessage"`
	Details      json.RawMessage `json:"details"`
}

// ReadResults reads every checks.json under dir, as the framework writes them with -o dir, and
// returns one result per scenario, sorted by name. A directory with no results gives none and no
// error.
func ReadResults(dir string) ([]ScenarioResult, error) {
	var results []ScenarioResult
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != checksFile {
			return nil
		}
		r, err := readScenario(path)
		if err != nil {
			return err
		}
		results = append(results, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read conformance results in %s: %w", dir, err)
	}
	slices.SortFunc(results, func(a, b ScenarioResult) int { return strings.Compare(a.Scenario, b.Scenario) })
	for i := 1; i < len(results); i++ {
		if results[i].Scenario == results[i-1].Scenario {
			return nil, fmt.Errorf("read conformance results in %s: scenario %s has more than one result", dir, results[i].Scenario)
		}
	}
	return results, nil
}

// readScenario reads one checks.json; its directory names the scenario.
func readScenario(path string) (ScenarioResult, error) {
	scenario, err := scenarioName(filepath.Base(filepath.Dir(path)))
	if err != nil {
		return ScenarioResult{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ScenarioResult{}, err
	}
	var checks []frameworkCheck
	if err := json.Unmarshal(data, &checks); err != nil {
		return ScenarioResult{}, fmt.Errorf("%s: %w", path, err)
	}
	r := ScenarioResult{Scenario: scenario, Passed: true}
	for _, c := range checks {
		if c.Status == StatusFailure {
			r.Passed = false
			r.Failures = append(r.Failures, Check{ID: c.ID, Status: c.Status, Message: c.message()})
		}
	}
	return r, nil
}

// scenarioName is the scenario a result directory is for.
func scenarioName(dir string) (string, error) {
	m := resultDirName.FindStringSubmatch(dir)
	if m == nil {
		return "", fmt.Errorf("result directory %q is not server-<scenario>-<timestamp>", dir)
	}
	return m[1], nil
}

// message is the most specific explanation the framework gave: some scenarios put theirs in
// details.message instead of errorMessage.
func (c frameworkCheck) message() string {
	if c.ErrorMessage != "" {
		return c.ErrorMessage
	}
	var details struct {
		Message string `json:"message"`
	}
	if len(c.Details) > 0 && json.Unmarshal(c.Details, &details) == nil && details.Message != "" {
		return details.Message
	}
	if c.Description != "" {
		return c.Description
	}
	return c.Name
}

package transparency

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeResults writes files (path relative to dir -> content) under dir.
func writeResults(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadResults(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    []ScenarioResult
		wantErr string
	}{
		{
			name: "as the framework writes them",
			files: map[string]string{
				LogName: "=== SUMMARY ===\n",
				"server-server-initialize-2026-12-05T17-49-47-774Z/checks.json": `[{"id":"server-initialize","name":"ServerInitialize","status":"SUCCESS","description":"d"}]`,
				"server-ping-2026-12-05T17-49-47-847Z/checks.json":              `[{"id":"ping","status":"SUCCESS"},{"id":"server-info","status":"INFO"},{"id":"w","status":"WARNING","errorMessage":"meh"}]`,
				"server-tools-call-sampling-2026-12-05T17-49-48-488Z/checks.json": `[
					{"id":"tools-call-sampling","name":"ToolsCallSampling","status":"FAILURE","description":"Tool requests sampling","errorMessage":"Failed: timeout"},
					{"id":"from-details","name":"N","status":"FAILURE","description":"desc","details":{"message":"Tool was not called"}},
					{"id":"from-description","name":"N","status":"FAILURE","description":"desc","details":["not an object"]},
					{"id":"ok","status":"SUCCESS"}]`,
				"server-tools-list-2026-12-05T17-49-47-887Z/stdout.txt": "no checks.json here",
			},
			want: []ScenarioResult{
				{Scenario: "ping", Passed: true},
				{Scenario: "server-initialize", Passed: true},
				{Scenario: "tools-call-sampling", Failures: []Check{
					{ID: "tools-call-sampling", Status: StatusFailure, Message: "Failed: timeout"},
					{ID: "from-details", Status: StatusFailure, Message: "Tool was not called"},
					{ID: "from-description", Status: StatusFailure, Message: "desc"},
				}},
			},
		},
		{
			name:  "an empty directory",
			files: map[string]string{LogName: "Error: unknown option\n"},
		},
		{
			name: "a directory not named by the framework",
			files: map[string]string{
				"ping/checks.json": `[]`,
			},
			wantErr: `"ping" is not server-<scenario>-<timestamp>`,
		},
		{
			name: "a scenario twice",
			files: map[string]string{
				"server-ping-2026-12-05T17-49-47-847Z/checks.json": `[]`,
				"server-ping-2026-12-05T17-49-49-001Z/checks.json": `[]`,
			},
			wantErr: "scenario ping has more than one result",
		},
		{
			name: "not JSON",
			files: map[string]string{
				"server-ping-2026-12-05T17-49-47-847Z/checks.json": `[{`,
			},
			wantErr: "checks.json: unexpected end of JSON input",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeResults(t, dir, tt.files)
			got, err := ReadResults(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestReadResultsOfAMissingDirectory(t *testing.T) {
	if _, err := ReadResults(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Fatal("got no error for a missing directory")
	}
}

func TestScenarioName(t *testing.T) {
	tests := []struct {
		dir, want string
	}{
		{"server-server-initialize-2026-12-05T17-49-47-774Z", "server-initialize"},
		{"server-elicitation-sep1034-defaults-2026-12-05T17-49-48-523Z", "elicitation-sep1034-defaults"},
		{"server-ping-1999-01-01T00-00-00-000Z", "ping"},
		{"server-ping", ""},
		{"client-ping-2026-12-05T17-49-47-774Z", ""},
		{"server-ping-2026-12-05T17:49:47.774Z", ""},
	}
	for _, tt := range tests {
		got, err := scenarioName(tt.dir)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("scenarioName(%q) = %q, %v; want %q", tt.dir, got, err, tt.want)
		}
	}
}

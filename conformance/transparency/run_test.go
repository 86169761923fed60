package transparency

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/mockservers/mcpconformance"
)

// fakeFramework is a Framework whose "Node" is a shell script, called as Run calls Node:
// $1 --import, $2 the preload's file URL, $3 the CLI, $4 server, $5 --url, $6 the URL, $7 -o,
// $8 the output directory, $9 --suite, ${10} active.
func fakeFramework(t *testing.T, script string) Framework {
	t.Helper()
	dir := t.TempDir()
	node := filepath.Join(dir, "node")
	if err := os.WriteFile(node, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return Framework{Node: node, CLI: filepath.Join(dir, "index.js"), Dir: dir}
}

// writeTwoScenarios is a fake framework's output: ping passes, tools-list fails.
const writeTwoScenarios = `
mkdir -p "$8/server-ping-2026-12-05T17-49-47-847Z" "$8/server-tools-list-2026-12-05T17-49-47-887Z"
echo '[{"id":"ping","status":"SUCCESS"}]' > "$8/server-ping-2026-12-05T17-49-47-847Z/checks.json"
echo '[{"id":"tools-list","status":"FAILURE","errorMessage":"Missing tools array"}]' > "$8/server-tools-list-2026-12-05T17-49-47-887Z/checks.json"
`

func TestRun(t *testing.T) {
	twoScenarios := []ScenarioResult{
		{Scenario: "ping", Passed: true},
		{Scenario: "tools-list", Failures: []Check{{ID: "tools-list", Status: StatusFailure, Message: "Missing tools array"}}},
	}
	tests := []struct {
		name    string
		script  string
		node    string // replaces the script's path when set
		timeout time.Duration
		want    []ScenarioResult
		wantErr []string
		wantLog []string
	}{
		{
			name: "failing checks are results, not errors",
			script: `test "$4 $5 $6 $7 $9 ${10}" = "server --url http://127.0.0.1:1/mcp -o --suite active" || exit 2
grep -q setGlobalDispatcher "${2#file://}" || exit 2
echo "auth=$MCP_CONFORMANCE_AUTHORIZATION dir=$MCP_CONFORMANCE_DIR"
` + writeTwoScenarios + "exit 1\n",
			want:    twoScenarios,
			wantLog: []string{"auth=Bearer not-a-jwt dir="},
		},
		{
			name:    "no result",
			script:  "echo 'Error: unknown option' >&2\nexit 1\n",
			wantErr: []string{"wrote no result", "Error: unknown option"},
		},
		{
			name:    "died",
			script:  writeTwoScenarios + "echo 'Segmentation fault' >&2\nexit 139\n",
			wantErr: []string{"did not finish", "exit status 139", "Segmentation fault"},
		},
		{
			name:    "cannot start",
			node:    "/nonexistent/node",
			wantErr: []string{"did not finish", "/nonexistent/node"},
		},
		{
			// The shell's child sleep shares its process group: Run must not wait for it.
			name:    "cut short",
			script:  "echo started\nsleep 60\necho finished\n",
			timeout: 300 * time.Millisecond,
			wantErr: []string{"cut short", "context deadline exceeded", "started"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeFramework(t, tt.script)
			if tt.node != "" {
				f.Node = tt.node
			}
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			out := filepath.Join(t.TempDir(), "out")
			writeResults(t, out, map[string]string{"server-stale-2026-01-01T00-00-00-000Z/checks.json": `[]`})

			start := time.Now()
			got, err := f.Run(ctx, Target{Name: "fake", URL: "http://127.0.0.1:1/mcp", Authorization: "Bearer not-a-jwt"}, out, t.Logf)
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("Run took %v", elapsed)
			}
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got results %+v and no error, want an error containing %q", got, tt.wantErr)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			log, err := os.ReadFile(filepath.Join(out, LogName))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(string(log), want) {
					t.Errorf("log %q does not contain %q", log, want)
				}
			}
		})
	}
}

func TestRunNeedsAURL(t *testing.T) {
	_, err := fakeFramework(t, "exit 0\n").Run(t.Context(), Target{Name: "fake"}, t.TempDir(), t.Logf)
	if err == nil || !strings.Contains(err.Error(), "no URL") {
		t.Fatalf("got %v, want an error about the missing URL", err)
	}
}

func TestFindNamesMakeTools(t *testing.T) {
	_, err := Find(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("got %v, want an error naming `make tools`", err)
	}
}

// binDir is where `make tools` installs: $HOPGUARD_BIN, else bin at the module root.
func binDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv(binaries.BinDirEnv); dir != "" {
		return dir
	}
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "bin")
}

// TestFrameworkAgainstTheFixture runs the real framework against the fixture, as the direct column
// of the transparency suite does: every scenario passes, and the Authorization header of the
// target (or its absence) is what reached the fixture.
func TestFrameworkAgainstTheFixture(t *testing.T) {
	f, err := Find(binDir(t))
	if err != nil {
		t.Skipf("the MCP conformance framework is not installed, so it is not run: %v", err)
	}
	tests := []struct {
		name          string
		authorization string
		want          journal.Credential
	}{
		{"with a bearer token", "Bearer not-a-jwt", journal.CredentialOther},
		{"without authorization", "", journal.CredentialNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := mcpconformance.New(mcpconformance.Config{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			// Before ts.Close (cleanups run last first): it ends the open GET streams ts.Close waits for.
			t.Cleanup(func() { srv.Close(context.Background()) })

			ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
			defer cancel()
			target := Target{Name: "direct", URL: ts.URL + mcpconformance.EndpointPath, Authorization: tt.authorization}
			results, err := f.Run(ctx, target, filepath.Join(t.TempDir(), "out"), t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, r := range results {
				seen[r.Scenario] = true
				if !r.Passed {
					t.Errorf("scenario %s fails against the fixture: %+v", r.Scenario, r.Failures)
				}
			}
			for _, s := range []string{"server-initialize", "tools-call-simple-text", "dns-rebinding-protection"} {
				if !seen[s] {
					t.Errorf("scenario %s did not run; ran %d: %v", s, len(results), seen)
				}
			}

			entries, err := journal.NewClient(ts.URL, ts.Client()).Entries(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) == 0 {
				t.Fatal("the fixture's journal is empty")
			}
			for _, e := range entries {
				if e.Credential != tt.want {
					t.Errorf("%s %s (%s) reached the fixture with credential %q, want %q", e.HTTPMethod, e.Path, e.MCPMethod, e.Credential, tt.want)
				}
			}
		})
	}
}

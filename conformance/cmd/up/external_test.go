package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/scenarios"
)

// TestExternalGatewayPassesTheSuites is "verify your own gateway" end to end, as a user does
// it: `up --gateway none`, an Envoy started by hand from the worked example up wrote, then the
// scenarios and the bypass corpus with HOPGUARD_EXTERNAL naming that Envoy. The reports must
// have its column, every scenario passing, and the corpus run against it.
func TestExternalGatewayPassesTheSuites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole environment and runs two suites")
	}
	envoy, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("not run: %v", err)
	}
	if _, err := binaries.Tool("cerbos"); err != nil {
		t.Skipf("not run: %v", err)
	}
	root, err := binaries.ModuleRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	built, err := binaries.Build(ctx, t.TempDir(), "./conformance/cmd/up")
	require.NoError(t, err)

	out := t.TempDir()
	var upLog bytes.Buffer
	up := exec.CommandContext(ctx, built["./conformance/cmd/up"], "--out", out, "--gateway", "none", "--runtime", "process")
	up.Stdout, up.Stderr = &upLog, &upLog
	require.NoError(t, up.Start())
	t.Cleanup(func() {
		_ = up.Process.Signal(syscall.SIGINT)
		_ = up.Wait()
	})
	jsonPath := filepath.Join(out, "env.json")
	require.Eventually(t, func() bool { _, err = harness.ReadPublished(jsonPath); return err == nil },
		3*time.Minute, 200*time.Millisecond, "env.json: %v\n%s", err, &upLog)

	// The user's gateway: Envoy from the worked example, started outside the harness.
	example := filepath.Join(out, "examples", "envoy.yaml")
	front := frontOf(t, upLog.String())
	var envoyLog bytes.Buffer
	gw := exec.CommandContext(ctx, envoy, "-c", example, "--disable-hot-restart", "--base-id-path", filepath.Join(out, "base-id"), "--use-dynamic-base-id")
	gw.Stdout, gw.Stderr = &envoyLog, &envoyLog
	require.NoError(t, gw.Start())
	t.Cleanup(func() { _ = gw.Process.Kill(); _ = gw.Wait() })
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(front, "http://"), time.Second)
		if err == nil {
			_ = conn.Close()
		}
		return err == nil
	}, time.Minute, 100*time.Millisecond, "Envoy listening on %s:\n%s", front, &envoyLog)

	// The suites, as `make conformance EXTERNAL=handmade=<front>` runs them.
	suites := exec.CommandContext(ctx, binaries.GoCommand(), "test", "-count=1", "-p", "1", "-run", "^(TestScenarios|TestBypassCorpus)$", "./conformance", "./conformance/security")
	suites.Dir = root
	suites.Env = append(os.Environ(), gateways.ExternalEnv+"=handmade="+front, harness.PublishedEnv+"="+jsonPath)
	output, err := suites.CombinedOutput()
	require.NoError(t, err, "the suites against the external gateway:\n%s", output)

	reportDir := filepath.Join(harness.ReportDir(root, "process"), "external")
	var matrix struct {
		Results []struct {
			Gateway, Scenario, Outcome string
		} `json:"results"`
	}
	readJSON(t, filepath.Join(reportDir, "report.json"), &matrix)
	passed := 0
	for _, r := range matrix.Results {
		if r.Gateway == "handmade" {
			assert.Equal(t, "pass", r.Outcome, r.Scenario)
			passed++
		}
	}
	assert.Equal(t, len(scenarios.Suite()), passed, "every scenario ran behind the external gateway")

	var security struct {
		Results []struct {
			Gateway string `json:"gateway"`
			Pass    bool   `json:"pass"`
			Skipped string `json:"skipped"`
		} `json:"results"`
	}
	readJSON(t, filepath.Join(reportDir, "security.json"), &security)
	cases := 0
	for _, r := range security.Results {
		if r.Gateway == "handmade" && r.Skipped == "" {
			assert.True(t, r.Pass)
			cases++
		}
	}
	assert.Greater(t, cases, 100, "the bypass corpus ran against the external gateway")
}

// frontOf reads the worked example's front door from up's guide.
func frontOf(t *testing.T, guide string) string {
	t.Helper()
	const marker = "make conformance EXTERNAL=mygateway="
	i := strings.Index(guide, marker)
	require.GreaterOrEqual(t, i, 0, "up names the example's front door:\n%s", guide)
	return strings.Fields(guide[i+len(marker):])[0]
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, v), path)
}

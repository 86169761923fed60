package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/cli"
	"github.com/hopguard/hopguard/agent/loop"
)

// runCLI runs the agent command in-process; env stands in for the environment.
func runCLI(t *testing.T, args []string, env map[string]string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), args, &stdout, &stderr, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	return code, stdout.String(), stderr.String()
}

func TestCLINarratesTheRefundEscalation(t *testing.T) {
	e := newEnv(t)
	code, out, stderr := runCLI(t, []string{
		"--gateway", e.gateway, "--sts", e.stsURL, "--ticket", "T-1001", "--task-id", "task-T-1001",
	}, map[string]string{"HOPGUARD_AGENT_CLIENT_ID": "alice", "HOPGUARD_AGENT_CLIENT_SECRET": "alice-secret"})
	t.Logf("narrative:\n%s", out)
	require.Equal(t, loop.ExitSuccess, code, stderr)

	assert.Contains(t, out, "[sts alice] bootstrap -> ALLOW\n")
	assert.Contains(t, out, "[sts mcp:payments] token-exchange -> ALLOW\n")
	assert.Contains(t, out, "[mcp payroll] initialize -> DENY server_not_allowed: payroll requires payroll-admin\n")
	assert.Contains(t, out, "[mcp payments] tools/call refund_issue -> DENY refund_cap_exceeded: tier-1-support refund cap exceeded (remediation: step_up, approvers tier-2-lead)\n")
	assert.Contains(t, out, "[mcp tickets] tools/call update_ticket -> ALLOW")
	assert.Contains(t, out, "outcome: success")
	assert.NotContains(t, out, "alice-secret")
}

func TestCLIJSONAndExitCodeOnADeniedModel(t *testing.T) {
	e := newEnv(t)
	code, out, stderr := runCLI(t, []string{
		"--json", "--gateway", e.gateway, "--sts", e.stsURL, "--ticket", "T-1001",
		"--client-id", triageID, "--model", "gpt-4o",
	}, map[string]string{"HOPGUARD_AGENT_CLIENT_SECRET": "triage-secret"})
	require.Equal(t, loop.ExitDenied, code, stderr)

	var hops, summaries []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		switch line["type"] {
		case "hop":
			hops = append(hops, line)
		case "summary":
			summaries = append(summaries, line)
		default:
			t.Fatalf("unexpected line %s", sc.Text())
		}
	}
	require.Len(t, summaries, 1)
	s := summaries[0]
	assert.Equal(t, "denied", s["outcome"])
	assert.EqualValues(t, loop.ExitDenied, s["exit_code"])
	assert.Equal(t, "model_not_allowed", s["denial"].(map[string]any)["code"])
	assert.NotContains(t, s, "hops", "hops were written one per line already")

	last := hops[len(hops)-1]
	assert.Equal(t, "llm", last["plane"])
	assert.Equal(t, "gpt-4o", last["target"])
	assert.Equal(t, "deny", last["decision"])
}

func TestCLIFlagsWinOverEnvironment(t *testing.T) {
	e := newEnv(t)
	code, out, _ := runCLI(t, []string{
		"--gateway", e.gateway, "--sts", e.stsURL, "--ticket", "T-2001", "--client-secret", "wrong",
	}, map[string]string{"HOPGUARD_AGENT_CLIENT_ID": "alice", "HOPGUARD_AGENT_CLIENT_SECRET": "alice-secret"})
	assert.Equal(t, loop.ExitError, code)
	assert.Contains(t, out, "[sts alice] bootstrap -> ERROR sts bootstrap for \"alice\": sts: 401 invalid_client")
}

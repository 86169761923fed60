package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/conformance/stack"
)

func stayOnTheHost(context.Context, string, io.Writer, string) (netns.Where, int, bool) {
	return netns.Where{Why: errors.New("tests stay on the host's network")}, 0, false
}

func TestRunRefusesBadFlags(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"--help"}, 0, "make conformance EXTERNAL=<name>=http://127.0.0.1:<port>"},
		{[]string{"--help"}, 0, "-version"},
		{[]string{"--gateway=nginx"}, 2, `no gateway "nginx"`},
		{[]string{"--runtime=podman"}, 2, `no runtime "podman"`},
		{[]string{"extra"}, 2, `unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), tt.args, &stdout, &stderr, stayOnTheHost)
		assert.Equal(t, tt.wantCode, code, "%v: %s", tt.args, stderr.String())
		assert.Contains(t, stderr.String(), tt.want, "%v", tt.args)
		assert.Empty(t, stdout.String(), "%v: nothing started", tt.args)
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"--version"}, &stdout, &stderr, stayOnTheHost))
	assert.True(t, strings.HasPrefix(stdout.String(), "up "), stdout.String())
}

// TestUpServesUntilInterrupted runs `up` as a user does: it waits for env.json, uses only what
// it says to make one allowed and one denied hop through the gateway, then interrupts it as
// Ctrl-C does, and checks that every component's process is gone.
func TestUpServesUntilInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole environment")
	}
	for _, tool := range []string{"cerbos", "envoy"} {
		if _, err := binaries.Tool(tool); err != nil {
			t.Skipf("not run: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	built, err := binaries.Build(ctx, t.TempDir(), "./conformance/cmd/up")
	require.NoError(t, err)
	out := t.TempDir()
	var log bytes.Buffer
	cmd := exec.CommandContext(ctx, built["./conformance/cmd/up"], "--out", out, "--gateway", "envoy", "--runtime", "process")
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	jsonPath := filepath.Join(out, "env.json")
	var p harness.Published
	require.Eventually(t, func() bool {
		p, err = harness.ReadPublished(jsonPath)
		return err == nil
	}, 3*time.Minute, 200*time.Millisecond, "env.json: %v\n%s", err, &log)
	require.Equal(t, []string{"envoy"}, p.Gateways)
	assert.Contains(t, log.String(), "TOKEN=$(curl", "prints a token command")
	assert.Contains(t, log.String(), "go run ./agent/cmd/agent", "prints the agent's command")

	status, decision := hop(ctx, t, p, "alice", "gpt-4o-mini")
	assert.Equal(t, http.StatusOK, status, "alice may ask gpt-4o-mini")
	assert.Equal(t, "allow", decision)
	status, decision = hop(ctx, t, p, "triage", "gpt-4o")
	assert.Equal(t, http.StatusForbidden, status, "the triage agent may not ask gpt-4o")
	assert.Equal(t, "deny", decision)

	attached, err := harness.Attach(jsonPath)
	require.NoError(t, err)
	pids, err := attached.Runtime.PIDs(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, pids)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, cmd.Wait(), "up exits 0 on Ctrl-C:\n%s", &log)
	for component, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "%s (process %d) is gone", component, pid)
	}
	_, err = os.Stat(jsonPath)
	assert.ErrorIs(t, err, os.ErrNotExist, "env.json goes with the environment")
}

// hop asks the published gateway for model as the published principal called name, with the
// token the STS gives it for the model route, and returns the status and the decision mark.
func hop(ctx context.Context, t *testing.T, p harness.Published, name, model string) (int, string) {
	t.Helper()
	var principal harness.Principal
	for _, pr := range p.Principals {
		if pr.Name == name {
			principal = pr
		}
	}
	require.NotEmpty(t, principal.TaskID, "a task for %s", name)
	sts := &identity.STSClient{TokenURL: p.URL(stack.STS) + "/oauth2/token"}
	boot, err := sts.Bootstrap(ctx, identity.ClientCredentials{ClientID: principal.ClientID, ClientSecret: principal.ClientSecret},
		identity.Attestation{AgentID: principal.AgentID, HarnessVersion: "test", TaskID: principal.TaskID})
	require.NoError(t, err)
	tok, err := sts.Exchange(ctx, identity.ExchangeRequest{SubjectToken: boot.Value, Resource: "llm"})
	require.NoError(t, err)

	body := `{"model":"` + model + `","messages":[{"role":"user","content":"Work ticket ` + principal.Ticket + `."}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL(p.Gateways[0])+p.Routes["llm"]+"/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.Value)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get(denial.DecisionHeader)
}

package cli

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/loop"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseFillsFlagsFromTheEnvironment(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parse([]string{"--ticket", "T-1001", "--max-steps", "3"}, &stderr, env(map[string]string{
		"HOPGUARD_AGENT_TICKET":              "T-9999",
		"HOPGUARD_AGENT_CLIENT_ID":           "alice",
		"HOPGUARD_AGENT_CLIENT_SECRET":       "alice-secret",
		"HOPGUARD_AGENT_ACTOR_CLIENT_ID":     "spiffe://x",
		"HOPGUARD_AGENT_JSON":                "true",
		"HOPGUARD_AGENT_TIMEOUT":             "5s",
		"HOPGUARD_AGENT_SERVERS":             "tickets, crm",
		"HOPGUARD_AGENT_FALLBACK_MODEL":      "gpt-4o-mini",
		"HOPGUARD_AGENT_ACTOR_CLIENT_SECRET": "s",
	}))
	require.NoError(t, err)
	assert.Equal(t, "T-1001", o.ticket, "the flag wins")
	assert.Equal(t, 3, o.maxSteps)
	assert.Equal(t, "alice", o.clientID)
	assert.True(t, o.asJSON)
	assert.Equal(t, "5s", o.timeout.String())

	cfg, err := o.config(nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"tickets", "crm"}, cfg.Servers)
	require.NotNil(t, cfg.Actor)
	assert.Equal(t, "spiffe://x", cfg.Actor.ClientID)
	assert.Equal(t, "gpt-4o-mini", cfg.FallbackModel)
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want int
		out  string
	}{
		{name: "help", args: []string{"--help"}, want: loop.ExitSuccess, out: "Exit codes:"},
		{name: "help names --version", args: []string{"--help"}, want: loop.ExitSuccess, out: "-version"},
		{name: "version", args: []string{"--version"}, want: loop.ExitSuccess, out: "agent "},
		{name: "version reads no environment", args: []string{"--version"}, env: map[string]string{"HOPGUARD_AGENT_MAX_STEPS": "many"},
			want: loop.ExitSuccess, out: "agent "},
		{name: "version is not an environment variable", env: map[string]string{"HOPGUARD_AGENT_VERSION": "true"},
			want: loop.ExitError, out: "with a secret or a SPIFFE identity"},
		{name: "unknown flag", args: []string{"--nope"}, want: loop.ExitError, out: "flag provided but not defined"},
		{name: "bad environment value", env: map[string]string{"HOPGUARD_AGENT_MAX_STEPS": "many"}, want: loop.ExitError, out: "HOPGUARD_AGENT_MAX_STEPS"},
		{name: "stray argument", args: []string{"T-1001"}, want: loop.ExitError, out: "unexpected arguments"},
		{name: "missing ticket", args: []string{"--client-id", "a", "--client-secret", "b"}, want: loop.ExitError, out: "not a ticket id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tt.args, &stdout, &stderr, env(tt.env))
			assert.Equal(t, tt.want, code)
			assert.Contains(t, stdout.String()+stderr.String(), tt.out)
			if tt.name == "version" {
				assert.Regexp(t, `^agent \S+( \S+)* go\S+\n$`, stdout.String())
				assert.Empty(t, stderr.String())
			}
		})
	}
}

package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/loop"
)

func TestCommandIsParsedBackToTheSameConfig(t *testing.T) {
	base := loop.Config{
		GatewayURL:  "http://127.0.0.1:8080",
		STSURL:      "http://127.0.0.1:8081/oauth2/token",
		Subject:     identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"},
		Attestation: identity.Attestation{AgentID: "triage-agent", HarnessVersion: "0.1.0", TaskID: "t-1"},
		Ticket:      "T-1001",
		Model:       "gpt-4o-mini",
		MaxSteps:    loop.DefaultMaxSteps,
	}
	for _, tt := range []struct {
		name   string
		change func(*loop.Config)
	}{
		{name: "a user's run", change: func(*loop.Config) {}},
		{name: "an autonomous workload attested by SPIFFE", change: func(c *loop.Config) {
			c.Subject = identity.ClientCredentials{ClientID: "spiffe://hopguard.local/ns/agents/sa/triage",
				SPIFFE: &identity.SPIFFE{Socket: "unix:///run/spire/agent.sock", Audience: "https://sts.example"}}
		}},
		{name: "every field a flag can say", change: func(c *loop.Config) {
			c.LLMURL = "http://127.0.0.1:9000/v1"
			c.MCPURLTemplate = "http://127.0.0.1:9000/tools/{server}"
			c.Servers = []string{"tickets", "payments"}
			c.Actor = &identity.ClientCredentials{ClientID: "spiffe://hopguard.local/agent", ClientSecret: "agent-secret"}
			c.FallbackModel = "gpt-4o"
			c.MaxSteps = 3
			c.ModelRetries = 0
			c.RequestTimeout = 1500 * time.Millisecond
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := base
			tt.change(&want)
			args, environ, err := Command(want)
			require.NoError(t, err)
			for _, arg := range args {
				assert.NotContains(t, arg, "secret", "a secret on the command line")
			}
			lookup := map[string]string{}
			for _, kv := range environ {
				k, v, _ := strings.Cut(kv, "=")
				lookup[k] = v
			}

			o, err := parse(args, &bytes.Buffer{}, env(lookup))
			require.NoError(t, err)
			got, err := o.config(nil)
			require.NoError(t, err)

			assert.True(t, o.asJSON, "the launcher reads JSON back")
			if want.Servers == nil {
				want.Servers = loop.DefaultServers()
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestCommandRefusesWhatNoFlagSays(t *testing.T) {
	for _, cfg := range []loop.Config{
		{SystemPrompt: "be brief"},
		{ClientName: "other"},
	} {
		_, _, err := Command(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
}

package agentgateway_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/gateway-configs/agentgateway"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/mockservers/llm"
)

// keyEnv is the environment variable the tests hand the provider key to agentgateway in.
const keyEnv = providertest.KeyEnv

// TestRenderedProviderConfigsAreValidForAgentgateway runs `agentgateway --validate-only` (it
// binds nothing) on provider renderings: OpenAI and Anthropic, with the system roots or a CA
// file, governed or not. agentgateway reads every file the config names here (the CA file
// too) and expands the key's variable; without the variable it refuses the config.
func TestRenderedProviderConfigsAreValidForAgentgateway(t *testing.T) {
	bin, err := binaries.Tool("agentgateway")
	if err != nil {
		t.Skipf("not run: agentgateway not available: %v", err)
	}
	schema, err := agentgateway.LoadSchema()
	require.NoError(t, err)
	pki, err := llm.NewTestPKI(t.TempDir(), "localhost")
	require.NoError(t, err)

	validate := func(t *testing.T, p agentgateway.Params, env ...string) (string, error) {
		config, err := agentgateway.Render(p)
		require.NoError(t, err)
		require.NoError(t, schema.Validate(config))
		path := filepath.Join(t.TempDir(), "config.yaml")
		require.NoError(t, os.WriteFile(path, config, 0o600))
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-f", path, "--validate-only")
		cmd.Env = append(providertest.WithoutEnv(os.Environ(), keyEnv), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for name, provider := range map[string]*agentgateway.Provider{
		"OpenAI, system roots":                    {Host: "api.openai.com", KeyEnv: keyEnv},
		"Anthropic, system roots":                 {Kind: agentgateway.ProviderAnthropic, Host: "api.anthropic.com", KeyEnv: keyEnv},
		"OpenAI-compatible, a CA file and a port": {Host: "localhost", Port: 8443, CAFile: pki.CAFile, KeyEnv: keyEnv},
	} {
		for _, withoutAuthz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, WithoutAuthz=%t", name, withoutAuthz), func(t *testing.T) {
				p := agentgateway.DefaultParams()
				p.Provider = provider
				p.WithoutAuthz = withoutAuthz
				out, err := validate(t, p, keyEnv+"=sk-from-the-environment")
				require.NoError(t, err, "agentgateway --validate-only rejected the config:\n%s", out)
				assert.Contains(t, out, "Configuration is valid!")
			})
		}
	}
	t.Run("the key's variable unset", func(t *testing.T) {
		p := agentgateway.DefaultParams()
		p.Provider = &agentgateway.Provider{Host: "api.openai.com", KeyEnv: keyEnv}
		out, err := validate(t, p)
		require.Error(t, err, "agentgateway must refuse the config without the provider key:\n%s", out)
		assert.Contains(t, out, keyEnv)
	})
	t.Run("a CA file that is not there", func(t *testing.T) {
		p := agentgateway.DefaultParams()
		p.Provider = &agentgateway.Provider{Host: "localhost", CAFile: filepath.Join(t.TempDir(), "missing.pem"), KeyEnv: keyEnv}
		out, err := validate(t, p, keyEnv+"=sk-from-the-environment")
		require.Error(t, err, "agentgateway must refuse the config:\n%s", out)
		assert.Contains(t, out, "missing.pem")
	})
}

// TestProviderOverTLSEndToEnd is the real-provider path run here behind agentgateway: the
// real agentgateway, with the governed config rendered for a Provider, sends a chat completion
// to the mock LLM served over TLS (mockllm --tls-cert --tls-key) by host name "localhost",
// verifying its certificate against a local CA made by the test; the provider key exists only
// in agentgateway's environment. A wrong CA, and a certificate for another host from the right
// CA, make the call fail.
//
// agentgateway binds its gateway port on every interface, so this runs only inside a
// loopback-only network namespace of its own; where none can be made it is not run.
func TestProviderOverTLSEndToEnd(t *testing.T) {
	bin, err := binaries.Tool("agentgateway")
	if err != nil {
		t.Skipf("not run: agentgateway not available: %v", err)
	}
	if !providertest.RunHereIsolated(t, bindsEveryInterface) {
		return
	}
	provider := providertest.StartProvider(t)

	params := func(caFile string, port uint16) agentgateway.Params {
		freePort := func() int { return int(providertest.FreeAddr(t).Port()) }
		p := agentgateway.DefaultParams()
		p.GatewayPort, p.AdminPort, p.StatsPort, p.ReadinessPort = freePort(), freePort(), freePort(), freePort()
		p.SynapseAddr = provider.Authz.Addr.String()
		p.MCPServers = nil
		p.Provider = &agentgateway.Provider{Host: "localhost", Port: int(port), CAFile: caFile, KeyEnv: keyEnv}
		return p
	}
	start := func(t *testing.T, caFile string, port uint16) providertest.RunningGateway {
		return startAgentgateway(t, bin, params(caFile, port), provider.KeyInEnv())
	}

	// Both test CAs have the same name, so rustls reports the signature that fails.
	provider.RunCases(t, start,
		[]string{"route=default/llm", "http.status=503", "invalid peer certificate"},
		[]string{"route=default/llm", "http.status=503", `certificate not valid for name \"localhost\"`})

	t.Run("Anthropic: the agent's chat completion reaches /v1/messages as a message, with the key", func(t *testing.T) {
		p := params(provider.PKI.CAFile, provider.Port)
		p.Provider.Kind = agentgateway.ProviderAnthropic
		gateway := startAgentgateway(t, bin, p, provider.KeyInEnv())
		before := len(providertest.Entries(t, provider.Journal))

		status, body := providertest.ChatCompletion(t, gateway.URL)

		require.Equal(t, http.StatusOK, status, "body: %s", body)
		assert.Contains(t, body, `"choices"`, "translated back into a chat completion")
		seen := providertest.Entries(t, provider.Journal)[before:]
		require.Len(t, seen, 1, "one call reached the provider")
		assert.Equal(t, "/v1/messages", seen[0].Path)
		assert.Equal(t, journal.CredentialProviderKey, seen[0].Credential)
	})
}

// startAgentgateway runs the real agentgateway on the rendered config of p with env added to
// its environment, and returns once it is ready. Callers run inside a loopback-only network
// namespace.
func startAgentgateway(t *testing.T, bin string, p agentgateway.Params, env ...string) providertest.RunningGateway {
	t.Helper()
	require.True(t, netns.Current().Isolated, "agentgateway runs only in a loopback-only network namespace")
	config, err := agentgateway.Render(p)
	require.NoError(t, err)
	return providertest.StartAgentgateway(t, bin, config, p.GatewayPort, p.ReadinessPort, env...)
}

package envoy_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
	"github.com/hopguard/hopguard/mockservers/journal"
)

// TestProviderOverTLSEndToEnd is the real-provider path run here: the real Envoy, with the
// governed config rendered for a Provider, sends a chat completion to the mock LLM served over
// TLS (mockllm --tls-cert --tls-key) by host name "localhost", verifying its certificate
// against a local CA made by the test; the provider key exists only in Envoy's environment.
// A wrong CA, and a certificate for another host from the right CA, make the call fail.
//
// It runs in a loopback-only network namespace of its own where one can be made (so Envoy's
// resolver cannot reach any DNS server), else on the host's loopback ("localhost" is then
// answered from /etc/hosts).
func TestProviderOverTLSEndToEnd(t *testing.T) {
	envoyBin, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("not run: real Envoy not available: %v", err)
	}
	if !providertest.RunHereIsolatedIfPossible(t) {
		return
	}
	provider := providertest.StartProvider(t)

	params := func(caFile string, port uint16) envoy.Params {
		return envoy.Params{
			Listen:   providertest.FreeAddr(t),
			Admin:    providertest.FreeAddr(t),
			Synapse:  []netip.AddrPort{provider.Authz.Addr},
			Provider: &envoy.Provider{Host: "localhost", Port: port, CAFile: caFile, KeyEnv: providertest.KeyEnv},
		}
	}
	start := func(t *testing.T, caFile string, port uint16) providertest.RunningGateway {
		return startEnvoy(t, envoyBin, params(caFile, port), provider.KeyInEnv())
	}

	provider.RunCases(t, start,
		[]string{"CERTIFICATE_VERIFY_FAILED", "unable_to_get_local_issuer_certificate"},
		[]string{"CERTIFICATE_VERIFY_FAILED", "SAN_matcher"})

	t.Run("Anthropic's Messages API: the key in x-api-key", func(t *testing.T) {
		p := params(provider.PKI.CAFile, provider.Port)
		p.Provider.KeyHeader = "x-api-key"
		gateway := startEnvoy(t, envoyBin, p, provider.KeyInEnv())
		before := len(providertest.Entries(t, provider.Journal))

		status, body := providertest.Post(t, gateway.URL+"/v1/messages",
			`{"model":"gpt-4o","max_tokens":256,"messages":[{"role":"user","content":"Work ticket T-1001"}]}`)

		require.Equal(t, http.StatusOK, status, "body: %s", body)
		assert.Contains(t, body, `"type":"message"`)
		seen := providertest.Entries(t, provider.Journal)[before:]
		require.Len(t, seen, 1)
		assert.Equal(t, "/v1/messages", seen[0].Path)
		assert.Equal(t, journal.CredentialProviderKey, seen[0].Credential, "the key alone, in x-api-key (the agent's Authorization is gone)")
	})
}

// startEnvoy runs the real Envoy on the rendered config of p with env added to its
// environment, and returns once Envoy is ready.
func startEnvoy(t *testing.T, envoyBin string, p envoy.Params, env ...string) providertest.RunningGateway {
	t.Helper()
	config, err := envoy.Render(p)
	require.NoError(t, err)
	return providertest.StartEnvoy(t, envoyBin, config, p.Listen, p.Admin, env...)
}

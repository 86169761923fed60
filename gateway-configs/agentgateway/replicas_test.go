package agentgateway_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/agentgateway"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
)

// The evidence for the agentgateway profile's note on synapse replicas (conformance/gateways,
// oneSynapseReplica): v1.4.1's extAuthz cannot spread checks over several replicas in a config
// its schema accepts, so the config names the first replica alone.

// synapseService is a top-level service whose workloads are two synapse replicas on loopback,
// ports first and second, in agentgateway's local form of Istio's service and workload model
// (free-form in the schema: its `services` and `workloads` items allow any property).
func synapseService(first, second int) string {
	return fmt.Sprintf(`services:
- name: synapse
  namespace: hopguard
  hostname: synapse.hopguard.local
  vips: []
  ports: {"9191": 9191}
workloads:
- {uid: hopguard/synapse-1, name: synapse-1, namespace: hopguard, workloadIps: [127.0.0.1], protocol: TCP, services: {hopguard/synapse.hopguard.local: {"9191": %d}}}
- {uid: hopguard/synapse-2, name: synapse-2, namespace: hopguard, workloadIps: [127.0.0.1], protocol: TCP, services: {hopguard/synapse.hopguard.local: {"9191": %d}}}
`, first, second)
}

// naming renders p with every extAuthz naming the synapse service by target (YAML at the
// policy's indentation) instead of p.SynapseAddr, and the service's two replicas appended.
func naming(t *testing.T, p agentgateway.Params, target string, first, second int) []byte {
	t.Helper()
	config, err := agentgateway.Render(p)
	require.NoError(t, err)
	host := "    extAuthz:\n      host: " + p.SynapseAddr + "\n"
	require.Contains(t, string(config), host)
	return []byte(strings.ReplaceAll(string(config), host, "    extAuthz:\n      "+target+"\n") + synapseService(first, second))
}

// The schema's form of a service reference, `service: {name, port}`, is one the v1.4.1 binary
// refuses; the binary's, `name` and `port` beside where `host` would be, is one the schema
// refuses. `host` and `backend` (a top-level backend, itself one host) name one upstream.
func TestExtAuthzNamesOneUpstreamInASchemaValidConfig(t *testing.T) {
	schema, err := agentgateway.LoadSchema()
	require.NoError(t, err)
	bin, binErr := binaries.Tool("agentgateway")

	tests := []struct {
		name          string
		target        string
		schemaAccepts bool
		binaryRefuses string // what agentgateway --validate-only says; empty: it accepts
	}{
		{
			name:          "the schema's service reference",
			target:        "service: {name: hopguard/synapse.hopguard.local, port: 9191}",
			schemaAccepts: true,
			binaryRefuses: "unknown field `service`",
		},
		{
			name:   "the binary's service reference",
			target: "name: hopguard/synapse.hopguard.local\n      port: 9191",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := naming(t, agentgateway.DefaultParams(), tt.target, 9191, 9192)
			if err := schema.Validate(config); tt.schemaAccepts {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "/policies/extAuthz")
			}

			if binErr != nil {
				t.Skipf("agentgateway --validate-only not run: %v", binErr)
			}
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, config, 0o600))
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "-f", path, "--validate-only").CombinedOutput() // binds nothing
			if tt.binaryRefuses != "" {
				require.Error(t, err, "agentgateway accepted the config:\n%s", out)
				assert.Contains(t, string(out), tt.binaryRefuses)
				return
			}
			require.NoError(t, err, "agentgateway refused the config:\n%s", out)
			assert.Contains(t, string(out), "Configuration is valid!")
		})
	}
}

// Even in the binary's form, a replica that is down is not avoided: each check draws its replica
// at random and an extAuthz call's outcome is never reported to the service's endpoints, so
// with one of two replicas down, checks go on failing closed throughout.
func TestExtAuthzServiceKeepsAskingAReplicaThatIsDown(t *testing.T) {
	bin := agentgatewayBinary(t)
	if !providertest.RunHereIsolated(t, bindsEveryInterface) {
		return
	}
	up := providertest.StartAllowingAuthz(t)
	p := gatewayParams(t, agentgateway.DefaultParams().SynapseAddr)
	p.LLMAddr = fmt.Sprintf("127.0.0.1:%d", unusedPort(t)) // a check decides; the upstream need not answer
	config := naming(t, p, "name: hopguard/synapse.hopguard.local\n      port: 9191", int(up.Addr.Port()), unusedPort(t))
	gateway := runAgentgatewayOn(t, bin, p, config)

	const calls = 30
	var failedClosed []int
	for i := range calls {
		resp, body := providertest.SendAsAgent(t, gateway, http.MethodGet, "/v1/models", "")
		if body == agentgatewayUnavailable {
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			failedClosed = append(failedClosed, i)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("checks that failed closed: %v of %d; the replica that is up saw %d", failedClosed, calls, len(up.Checks()))
	assert.Len(t, up.Checks(), calls-len(failedClosed), "every other check reached the replica that is up")
	require.NotEmpty(t, failedClosed)
	assert.GreaterOrEqual(t, failedClosed[len(failedClosed)-1], calls/2, "the replica that is down is still asked in the second half")
}

package gateways_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/stack"
)

func istioComponents(t *testing.T) (xds, gateway env.Component, g *gateways.Istio) {
	t.Helper()
	if _, err := binaries.Tool("envoy"); err != nil {
		t.Skipf("real Envoy not available: %v", err)
	}
	g = &gateways.Istio{}
	gateway, err := g.Component(t.Context())
	require.NoError(t, err)
	companions, err := g.Companions(t.Context())
	require.NoError(t, err)
	require.Len(t, companions, 1)
	for _, c := range []env.Component{companions[0], gateway} {
		require.NoError(t, env.Environment{Components: []env.Component{c}}.Validate())
	}
	return companions[0], gateway, g
}

// The xDS server is told every address of the run, the same ones the report's notes describe.
func TestIstioXDSServesTheRunsAddresses(t *testing.T) {
	xds, _, g := istioComponents(t)
	l := newFakeLayout(t.TempDir())
	assert.Equal(t, gateways.IstioXDS, xds.Name)
	assert.Equal(t, env.ProbeGRPC, xds.Ready.Kind)

	args := xds.Args(l)
	assert.Contains(t, args, "--addr="+l.Addr(gateways.IstioXDS, stack.PortGRPC).String())
	assert.Contains(t, args, "--node-id="+gateways.IstioNodeID)
	assert.Contains(t, args, "--gateway="+l.Addr("istio", stack.PortHTTP).String())
	assert.Contains(t, args, "--synapse="+l.Addr(stack.Synapse, stack.PortGRPC).String())
	assert.Contains(t, args, "--llm="+l.Addr(stack.LLM, stack.PortHTTP).String())
	for _, s := range stack.MCPServers() {
		assert.Contains(t, args, "--mcp="+s+"="+l.Addr(stack.MCPComponent(s), stack.PortHTTP).String())
	}

	require.Len(t, xds.Files, 1)
	changes, err := xds.Files[0].Render(l)
	require.NoError(t, err)
	assert.Contains(t, string(changes), "address 0.0.0.0:8080 -> "+l.Addr("istio", stack.PortHTTP).String())

	joined := strings.Join(g.Profile().Notes, "\n")
	assert.Contains(t, joined, "changed from pilot's output: listener 0.0.0.0_8080: removed HTTP filter istio.alpn")
	assert.Contains(t, joined, "EnvoyFilter", "the report says how the fail-closed reply is marked")
	assert.Contains(t, g.Detail(), "pilot v0.0.0-")
}

// The gateway's Envoy knows nothing but who it is, its admin port and where ADS is; real Envoy
// accepts the bootstrap.
func TestIstioBootstrapIsADSOnlyAndValidForEnvoy(t *testing.T) {
	_, gateway, _ := istioComponents(t)
	l := newFakeLayout(t.TempDir())
	require.Len(t, gateway.Files, 1)
	raw, err := gateway.Files[0].Render(l)
	require.NoError(t, err)

	var b struct {
		Node struct {
			ID string `json:"id"`
		} `json:"node"`
		Admin struct {
			Address struct {
				SocketAddress struct {
					Address   string `json:"address"`
					PortValue int    `json:"portValue"`
				} `json:"socketAddress"`
			} `json:"address"`
		} `json:"admin"`
		DynamicResources struct {
			AdsConfig map[string]any `json:"adsConfig"`
			CdsConfig map[string]any `json:"cdsConfig"`
			LdsConfig map[string]any `json:"ldsConfig"`
		} `json:"dynamicResources"`
		StaticResources struct {
			Listeners []any `json:"listeners"`
			Clusters  []struct {
				Name string `json:"name"`
			} `json:"clusters"`
		} `json:"staticResources"`
	}
	require.NoError(t, json.Unmarshal(raw, &b))
	assert.Equal(t, gateways.IstioNodeID, b.Node.ID)
	assert.Equal(t, "127.0.0.1", b.Admin.Address.SocketAddress.Address)
	assert.Equal(t, int(l.Addr("istio", stack.PortAdmin).Port()), b.Admin.Address.SocketAddress.PortValue)
	assert.Equal(t, "GRPC", b.DynamicResources.AdsConfig["apiType"])
	assert.Contains(t, b.DynamicResources.CdsConfig, "ads")
	assert.Contains(t, b.DynamicResources.LdsConfig, "ads")
	assert.Empty(t, b.StaticResources.Listeners, "every listener comes over ADS")
	require.Len(t, b.StaticResources.Clusters, 1, "the one static cluster is the xDS server")
	assert.Contains(t, string(raw), `"portValue": `+l.Addr(gateways.IstioXDS, stack.PortGRPC).String()[len("127.0.0.1:"):])

	path := filepath.Join(t.TempDir(), gateways.IstioBootstrapFile)
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	envoyBin, err := binaries.Tool("envoy")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, envoyBin, "--mode", "validate", "-c", path, "--use-dynamic-base-id", "--disable-hot-restart", "--log-level", "warn").CombinedOutput()
	require.NoError(t, err, "envoy --mode validate rejected the bootstrap:\n%s", out)
	assert.Equal(t, []string{"-c", filepath.Join(l.Dir("istio"), gateways.IstioBootstrapFile), "--use-dynamic-base-id", "--disable-hot-restart", "--log-level", "warning"}, gateway.Args(l))
}

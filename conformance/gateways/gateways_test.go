package gateways_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/gateways"
)

func TestAllListsEveryGatewayInReportOrder(t *testing.T) {
	assert.Equal(t, []string{"envoy", "agentgateway", "istio"}, gateways.Names())
	for _, runtime := range []string{"process", "container"} {
		var names []string
		for _, g := range gateways.All(runtime) {
			names = append(names, g.Name())
		}
		assert.Equal(t, gateways.Names(), names, runtime)
	}
}

func TestAllTellsAgentGatewayItsRuntime(t *testing.T) {
	t.Setenv(binaries.BinDirEnv, t.TempDir()) // no agentgateway binary
	tests := []struct {
		runtime string
		// wantErr is what its Component says, or "" when it describes a component.
		wantErr string
	}{
		{runtime: "process", wantErr: "publishes no binary"},
		{runtime: "container"},
	}
	for _, tt := range tests {
		t.Run(tt.runtime, func(t *testing.T) {
			g, err := gateways.ByName(tt.runtime, "agentgateway")
			require.NoError(t, err)
			_, err = g.Component(t.Context())
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestByName(t *testing.T) {
	for _, name := range gateways.Names() {
		g, err := gateways.ByName("process", name)
		require.NoError(t, err)
		assert.Equal(t, name, g.Name())
	}
	_, err := gateways.ByName("process", "nginx")
	require.ErrorContains(t, err, `no gateway "nginx": want one of envoy, agentgateway, istio`)
}

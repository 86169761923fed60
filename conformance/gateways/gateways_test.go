package gateways_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	for _, runtime := range []string{"process", "container"} {
		g, err := gateways.ByName(runtime, "agentgateway")
		require.NoError(t, err)
		require.IsType(t, &gateways.AgentGateway{}, g)
		assert.Equal(t, runtime, g.(*gateways.AgentGateway).Runtime)
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

package gateways_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/netns"
)

func TestAllListsEveryGatewayInReportOrder(t *testing.T) {
	assert.Equal(t, []string{"envoy", "agentgateway", "istio"}, gateways.Names())
	for _, runtime := range []string{"process", "container"} {
		var names []string
		for _, g := range gateways.All(runtime, netns.Where{}) {
			names = append(names, g.Name())
		}
		assert.Equal(t, gateways.Names(), names, runtime)
	}
}

func TestAllTellsAgentGatewayItsRuntimeAndNetwork(t *testing.T) {
	network := netns.Where{Why: errors.New("no namespace here")}
	for _, runtime := range []string{"process", "container"} {
		g, err := gateways.ByName(runtime, network, "agentgateway")
		require.NoError(t, err)
		require.IsType(t, &gateways.AgentGateway{}, g)
		assert.Equal(t, runtime, g.(*gateways.AgentGateway).Runtime)
		assert.Equal(t, network, g.(*gateways.AgentGateway).Network)
	}
}

func TestByName(t *testing.T) {
	for _, name := range gateways.Names() {
		g, err := gateways.ByName("process", netns.Where{}, name)
		require.NoError(t, err)
		assert.Equal(t, name, g.Name())
	}
	_, err := gateways.ByName("process", netns.Where{}, "nginx")
	require.ErrorContains(t, err, `no gateway "nginx": want one of envoy, agentgateway, istio`)
}

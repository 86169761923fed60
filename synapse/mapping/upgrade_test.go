package mapping

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMapRefusesProtocolUpgrades: ext_authz sees only the request that asks to switch protocols;
// once the upstream answers 101 the gateway is a tunnel and nothing after it is checked. Istio's
// routes allow WebSocket upgrades by default, so synapse must refuse them itself, even on a route
// and for an action the policy allows (Alice's GET stream of tickets).
func TestMapRefusesProtocolUpgrades(t *testing.T) {
	stream := func(headers ...string) request {
		return request{method: "GET", path: "/mcp/tickets", resource: "mcp:tickets", headers: headers}
	}
	tests := []struct {
		name string
		req  request
	}{
		{"WebSocket on the MCP stream", stream("connection", "Upgrade", "upgrade", "websocket", "sec-websocket-version", "13")},
		{"WebSocket, upper-case header name", stream("Upgrade", "WebSocket")},
		{"h2c on an MCP call", mcp("tickets", ping, "connection", "Upgrade, HTTP2-Settings", "upgrade", "h2c")},
		{"WebSocket on the model route", chat(`{"model":"gpt-4o-mini"}`, "upgrade", "websocket")},
	}
	for _, tt := range tests {
		for _, g := range gateways {
			t.Run(tt.name+"/"+string(g), func(t *testing.T) {
				in, err := Map(tt.req.build(g), testRoutes)
				assertRefused(t, in, err, CodeUpgradeNotAllowed)
			})
		}
	}
	t.Run("a stream without an upgrade is mapped", func(t *testing.T) {
		_, err := Map(stream().build(envoy), testRoutes)
		require.NoError(t, err)
	})
}

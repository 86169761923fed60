package envoy

import "net/netip"

//go:generate go run ./internal/writeexamples

// Examples are the committed renderings of this gateway in front of a real model provider, by
// file name: envoy.openai.yaml (api.openai.com, key from OPENAI_API_KEY, "Authorization:
// Bearer") and envoy.anthropic.yaml (api.anthropic.com, key from ANTHROPIC_API_KEY, x-api-key),
// both verified against the system roots. Their other addresses are the fixed ones of
// docker/compose.yaml and gateway-configs/agentgateway/config.yaml: Envoy on 127.0.0.1:8080
// (admin 127.0.0.1:9901), synapse on 127.0.0.1:9191, the MCP servers on 127.0.0.1:9001-9005.
func Examples() map[string]Params {
	at := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port) }
	base := func(provider Provider) Params {
		return Params{
			Listen:  at(8080),
			Admin:   at(9901),
			Synapse: []netip.AddrPort{at(9191)},
			MCPServers: []MCPServer{
				{Name: "tickets", Addr: at(9001)},
				{Name: "crm", Addr: at(9002)},
				{Name: "payments", Addr: at(9003)},
				{Name: "payroll", Addr: at(9004)},
				{Name: "knowledge", Addr: at(9005)},
			},
			Provider: &provider,
		}
	}
	return map[string]Params{
		"envoy.openai.yaml":    base(Provider{Host: "api.openai.com", KeyEnv: "OPENAI_API_KEY"}),
		"envoy.anthropic.yaml": base(Provider{Host: "api.anthropic.com", KeyEnv: "ANTHROPIC_API_KEY", KeyHeader: "x-api-key"}),
	}
}

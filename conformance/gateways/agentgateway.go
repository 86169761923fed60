package gateways

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/stack"
	agwconfig "github.com/hopguard/hopguard/gateway-configs/agentgateway"
)

// agentgateway's component: its file and the ports beyond the stack's.
const (
	AgentGatewayConfigFile = "config.yaml"
	PortStats              = "stats"
	PortReadiness          = "readiness"
)

// AgentGateway is agentgateway v1.4.1 with the config of gateway-configs/agentgateway. It
// ships only as a container image (cr.agentgateway.dev/agentgateway:v1.4.1), so it runs only
// on the container runtime, and there only where that image is present: its component is
// Optional, and a runtime that cannot start it reports why (the image is not pulled offline).
type AgentGateway struct {
	// Runtime is the name of the runtime the run uses ("process", "container").
	Runtime string
}

var _ Gateway = (*AgentGateway)(nil)

// Name implements Gateway.
func (*AgentGateway) Name() string { return "agentgateway" }

// Detail implements Gateway.
func (g *AgentGateway) Detail() string {
	return "agentgateway v1.4.1 (image), config from gateway-configs/agentgateway"
}

// Component implements Gateway.
func (g *AgentGateway) Component(context.Context) (env.Component, error) {
	if g.Runtime != "container" {
		return env.Component{}, errors.New("agentgateway ships only as a container image (cr.agentgateway.dev/agentgateway:v1.4.1): run with HOPGUARD_RUNTIME=container where the image can be pulled")
	}
	name := g.Name()
	return env.Component{
		Name:    name,
		Program: env.Program{Tool: "agentgateway"},
		Ports:   []string{stack.PortHTTP, stack.PortAdmin, PortStats, PortReadiness},
		Files: []env.File{{Name: AgentGatewayConfigFile, Render: func(l env.Layout) ([]byte, error) {
			return agwconfig.Render(AgentGatewayParams(l, name))
		}}},
		Args: func(l env.Layout) []string {
			return []string{"-f", filepath.Join(l.Dir(name), AgentGatewayConfigFile)}
		},
		Ready:    env.Probe{Kind: env.ProbeHTTP, Port: PortReadiness, Path: "/healthz/ready"},
		Optional: true,
	}, nil
}

// AgentGatewayParams are the render parameters for the gateway component called name in
// layout l: the run's ports, and the defaults of gateway-configs/agentgateway for the rest.
func AgentGatewayParams(l env.Layout, name string) agwconfig.Params {
	p := agwconfig.DefaultParams()
	p.GatewayPort = int(l.Addr(name, stack.PortHTTP).Port())
	p.AdminPort = int(l.Addr(name, stack.PortAdmin).Port())
	p.StatsPort = int(l.Addr(name, PortStats).Port())
	p.ReadinessPort = int(l.Addr(name, PortReadiness).Port())
	p.SynapseAddr = l.Addr(stack.Synapse, stack.PortGRPC).String()
	p.LLMAddr = l.Addr(stack.LLM, stack.PortHTTP).String()
	p.MCPServers = nil
	for _, server := range stack.MCPServers() {
		p.MCPServers = append(p.MCPServers, agwconfig.MCPServer{Name: server, Addr: l.Addr(stack.MCPComponent(server), stack.PortHTTP).String()})
	}
	return p
}

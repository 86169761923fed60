package gateways

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/stack"
	agwconfig "github.com/hopguard/hopguard/gateway-configs/agentgateway"
)

// agentgateway's component: its program, its file and the ports beyond the stack's.
const (
	AgentGatewayTool       = "agentgateway"
	AgentGatewayConfigFile = "config.yaml"
	PortStats              = "stats"
	PortReadiness          = "readiness"
)

// AgentGateway is agentgateway v1.4.1 with the config of gateway-configs/agentgateway. It
// ships as a container image (cr.agentgateway.dev/agentgateway:v1.4.1) and publishes no binary
// to any registry, so `make tools` cannot install it: on the container runtime it runs where
// that image is present, on the process runtime where someone put a binary built from its
// source in bin/ (or $HOPGUARD_BIN). Its component is Optional, and a run without either
// reports the gateway "not run" with the reason.
type AgentGateway struct {
	// Runtime is the name of the runtime the run uses ("process", "container").
	Runtime string
}

var _ Gateway = (*AgentGateway)(nil)

// Name implements Gateway.
func (*AgentGateway) Name() string { return "agentgateway" }

// Detail implements Gateway.
func (g *AgentGateway) Detail() string {
	if g.Runtime == "container" {
		return "agentgateway v1.4.1 (image), config from gateway-configs/agentgateway"
	}
	return "agentgateway v1.4.1 (binary in bin/), config from gateway-configs/agentgateway"
}

// Component implements Gateway.
func (g *AgentGateway) Component(context.Context) (env.Component, error) {
	if g.Runtime != "container" {
		// `make tools` cannot install it, so binaries.Tool's advice to run it would mislead.
		if _, err := binaries.Tool(AgentGatewayTool); err != nil {
			return env.Component{}, fmt.Errorf("agentgateway publishes no binary (its release is the image cr.agentgateway.dev/agentgateway:v1.4.1) and none is in bin/%s or $%s: run with HOPGUARD_RUNTIME=container where that image can be pulled, or build v1.4.1 from source into bin/", AgentGatewayTool, binaries.BinDirEnv)
		}
	}
	name := g.Name()
	return env.Component{
		Name:    name,
		Program: env.Program{Tool: AgentGatewayTool},
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

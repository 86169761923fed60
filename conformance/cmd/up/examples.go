package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/stack"
	agwconfig "github.com/hopguard/hopguard/gateway-configs/agentgateway"
	envoyconfig "github.com/hopguard/hopguard/gateway-configs/envoy"
)

// Example is a built-in gateway's config rendered for the running environment's addresses: a
// worked example for a user who puts their own gateway in front of it (GATEWAY=none).
type Example struct {
	Gateway string
	File    string
	// Front is the URL the example's gateway listens on; Run starts it.
	Front string
	Run   string
}

// synapseAddrs are the ext_authz addresses of every synapse replica p publishes, in order, the
// first being stack.Synapse (stack.SynapseAddrs, for a running environment).
func synapseAddrs(p harness.Published) []netip.AddrPort {
	var addrs []netip.AddrPort
	for i := 1; ; i++ {
		ap, err := netip.ParseAddrPort(p.Endpoints[stack.SynapseReplica(i)][stack.PortGRPC])
		if err != nil {
			return addrs
		}
		addrs = append(addrs, ap)
	}
}

// writeExamples renders Envoy's and agentgateway's configs for p into dir, each on a free
// loopback port of its own.
func writeExamples(p harness.Published, dir string) ([]Example, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("worked examples: %w", err)
	}
	addr := func(component, port string) netip.AddrPort {
		ap, _ := netip.ParseAddrPort(p.Endpoints[component][port])
		return ap
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, fmt.Errorf("worked examples: %w", err)
	}

	envoy := envoyconfig.Params{
		Listen:  netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[0]),
		Admin:   netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[1]),
		Synapse: synapseAddrs(p),
		LLM:     addr(stack.LLM, stack.PortHTTP),
	}
	agw := agwconfig.DefaultParams()
	agw.GatewayPort, agw.AdminPort, agw.StatsPort, agw.ReadinessPort = int(ports[0]), int(ports[2]), int(ports[3]), int(ports[4])
	// agentgateway's extAuthz takes one upstream: the first replica (conformance/gateways, the
	// agentgateway profile's note on synapse replicas).
	agw.SynapseAddr = addr(stack.Synapse, stack.PortGRPC).String()
	agw.LLMAddr = addr(stack.LLM, stack.PortHTTP).String()
	agw.MCPServers = nil
	for _, server := range stack.MCPServers() {
		a := addr(stack.MCPComponent(server), stack.PortHTTP)
		envoy.MCPServers = append(envoy.MCPServers, envoyconfig.MCPServer{Name: server, Addr: a})
		agw.MCPServers = append(agw.MCPServers, agwconfig.MCPServer{Name: server, Addr: a.String()})
	}

	envoyYAML, err := envoyconfig.Render(envoy)
	if err != nil {
		return nil, err
	}
	agwYAML, err := agwconfig.Render(agw)
	if err != nil {
		return nil, err
	}
	front := "http://" + envoy.Listen.String()
	examples := []Example{
		{Gateway: "envoy", File: filepath.Join(dir, "envoy.yaml"), Front: front},
		{Gateway: "agentgateway", File: filepath.Join(dir, "agentgateway.yaml"), Front: front},
	}
	examples[0].Run = "bin/envoy -c " + examples[0].File + " --disable-hot-restart"
	examples[1].Run = "bin/agentgateway -f " + examples[1].File + "   (it binds every interface: only where loopback is the only one)"
	for i, data := range [][]byte{envoyYAML, agwYAML} {
		if err := os.WriteFile(examples[i].File, data, 0o644); err != nil {
			return nil, fmt.Errorf("worked examples: %w", err)
		}
	}
	return examples, nil
}

// freePorts are n loopback ports free at the moment of asking.
func freePorts(n int) ([]uint16, error) {
	var ports []uint16
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, netip.MustParseAddrPort(l.Addr().String()).Port())
	}
	return ports, nil
}

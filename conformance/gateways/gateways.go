// Package gateways puts a gateway in front of hopguard's stack. Each gateway renders its own
// configuration from the run's ports and becomes one more component of the environment; one
// that cannot run here says why, and the report shows it as "not run" with that reason.
package gateways

import (
	"context"
	"fmt"
	"strings"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/netns"
)

// Gateway is one data plane the scenarios run behind.
type Gateway interface {
	// Name is the gateway's column in the report and its component name ("envoy").
	Name() string
	// Component describes the gateway routing to the stack's components: the LLM route at /v1
	// and /mcp/<server> for each MCP server, each asking synapse first. Its front door is the
	// port stack.PortHTTP. An error means the gateway cannot run here, and says why.
	Component(ctx context.Context) (env.Component, error)
	// Detail describes what runs, e.g. "Envoy 1.40.0 (process)"; valid after Component.
	Detail() string
}

// Companions is implemented by a gateway that needs components of its own running before it,
// e.g. Istio's control plane. They start after the stack and before the gateway, and share its
// fate: when Companions fails the gateway is reported "not run" with the reason.
type Companions interface {
	Companions(ctx context.Context) ([]env.Component, error)
}

// Profile is what the report and the scenarios need to know of a gateway beyond its component.
type Profile struct {
	// Notes say, for the report, how what runs differs from the gateway's own configuration
	// and where the gateway's behaviour differs from Envoy's in a way the suite allows for.
	Notes []string
	// MCPBehaviours are the official MCP conformance framework's scenarios that fail behind the
	// gateway while they pass against the server directly, each with what the gateway does and
	// what comes of it (the MCP transparency suite, conformance/transparency).
	MCPBehaviours map[string]string
}

// Profiled is implemented by a gateway with a Profile; valid after Component.
type Profiled interface {
	Profile() Profile
}

// ProfileOf returns g's profile, or the zero Profile.
func ProfileOf(g Gateway) Profile {
	if p, ok := g.(Profiled); ok {
		return p.Profile()
	}
	return Profile{}
}

// All returns every gateway hopguard targets, in report order, for a run on the runtime called
// runtimeName ("process", "container") in network (harness.Isolate's). A gateway that cannot
// run there stays in the list and is reported "not run" with its reason (agentgateway, for
// one, where neither its image nor a binary is present, or outside a loopback-only namespace).
func All(runtimeName string, network netns.Where) []Gateway {
	return []Gateway{
		&Envoy{},
		&AgentGateway{Runtime: runtimeName, Network: network},
		&Istio{},
	}
}

// Names are the names of the gateways All returns, in the same order.
func Names() []string {
	var names []string
	for _, g := range All("", netns.Where{}) {
		names = append(names, g.Name())
	}
	return names
}

// ByName returns the gateway called name, as All(runtimeName, network) makes it.
func ByName(runtimeName string, network netns.Where, name string) (Gateway, error) {
	for _, g := range All(runtimeName, network) {
		if g.Name() == name {
			return g, nil
		}
	}
	return nil, fmt.Errorf("no gateway %q: want one of %s", name, strings.Join(Names(), ", "))
}

// Package gateways puts a gateway in front of hopguard's stack. Each gateway renders its own
// configuration from the run's ports and becomes one more component of the environment; one
// that cannot run here says why, and the report shows it as "not run" with that reason.
package gateways

import (
	"context"

	"github.com/hopguard/hopguard/conformance/env"
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

// All returns every gateway hopguard targets, in report order. A gateway that cannot run here
// stays in the list and is reported "not run" with its reason.
func All() []Gateway {
	return []Gateway{
		&Envoy{},
		Pending{GatewayName: "agentgateway", Reason: "agentgateway ships only as a container image (no binary is obtainable here) and the container runtime is not built yet"},
		Pending{GatewayName: "istio", Reason: "the Istio translation is not wired into the harness yet"},
	}
}

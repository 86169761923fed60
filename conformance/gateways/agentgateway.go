package gateways

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/netns"
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

// AgentGateway is agentgateway v1.4.1 with the config of gateway-configs/agentgateway. Its
// release is an image (cr.agentgateway.dev/agentgateway:v1.4.1) and no registry serves a
// binary, so `make tools` installs one into bin/ from HOPGUARD_AGENTGATEWAY or from that image;
// the container runtime runs the image, or the stand-in docker/build-images.sh makes of the
// installed binary. It binds every interface, so it runs only inside a loopback-only network
// namespace (conformance/netns). Its component is Optional: a run without a binary, an image or
// such a namespace reports the gateway "not run" with the reason.
type AgentGateway struct {
	// Runtime is the name of the runtime the run uses ("process", "container").
	Runtime string
	// Network is the network the run has (harness.Isolate): the reason it is the host's goes
	// into the not-run reason.
	Network netns.Where
	// Interfaces lists the network interfaces agentgateway would bind; nil means net.Interfaces.
	Interfaces func() ([]net.Interface, error)
	// Named is its name in the environment and the report; empty means "agentgateway".
	Named string
	// WithoutAuthz renders its config without the routes' extAuthz: nothing is authorized.
	// Only the benchmark's baseline uses it, in front of the mocks.
	WithoutAuthz bool
}

// HowToInstall names both ways to get agentgateway v1.4.1, for the reasons it is "not run".
const HowToInstall = "`make tools` installs it from HOPGUARD_AGENTGATEWAY=<a binary of agentgateway v1.4.1, or an .xz of one> or from the image cr.agentgateway.dev/agentgateway:v1.4.1 where a Docker engine can pull it"

var (
	_ Gateway  = (*AgentGateway)(nil)
	_ Profiled = (*AgentGateway)(nil)
)

// agentgatewayBehaviour is where agentgateway v1.4.1 differs from Envoy, each seen in a run of
// the suites against a binary built from its source.
var agentgatewayBehaviour = []string{
	"its gateway port binds every interface (v1.4.1 has no listen address), so hopguard runs it only in a network namespace whose only interface is loopback (every run makes one where it can)",
	"synapse unreachable: extAuthz answers with failureMode's status, 503, body \"Authorization service unavailable\" in plain text (plain failureMode deny would be 403); a gateway-level response transformation marks it x-hopguard-decision: deny, x-should-retry: false and x-hopguard-code: authz_unavailable, as Envoy's local reply mapper does, but cannot give it the route's JSON body with code authz_unavailable as Envoy and Istio do. Only a gateway-level transformation reaches extAuthz's own replies, and v1.4.1 chooses it from the request alone (a conditional entry's condition sees no response), before extAuthz runs; its body expression then replaces the body of every response (one that fails leaves it empty), and giving the others theirs back means reading response.body, which makes agentgateway buffer every response first, so an MCP event stream never answers (gateway-configs/agentgateway/failclosed_e2e_test.go shows both). Failing open to extAuthz (failureMode allow) and denying afterwards could write the body, but would make fail closed rest on later policies: not done. So the code is only in the x-hopguard-code header here: openai-go and anthropic-sdk-go expose it (their errors carry the *http.Response); the MCP Go SDK (v1.8.0) reads neither the body nor the headers of a 503, so its caller gets -32005 \"rejected by transport\" with no code, and changing the reply's status (a response transformation can set :status) would not help, since its body would still be plain text, not a JSON-RPC error. extAuthz has no default timeout, so the config bounds each call (2 s)",
	"dot segments are not resolved before routes are matched: /mcp/tickets/../payroll matches no route and gets the gateway's 404 without an authorization check, where Envoy and Istio resolve it to /mcp/payroll and synapse denies it",
	"escaped slashes (/mcp/tickets%2F..%2Fpayroll) and /v1beta/... match no route: 404 from the gateway (pathPrefix /v1 matches whole segments, like Envoy's path_separated_prefix)",
	"model APIs: each goes to a backend of its own format and passes through (ai routes \"*\": passthrough), so every body reaches the upstream byte for byte as the client sent it: OpenAI's (chat completions, responses, embeddings, models) to the OpenAI provider, /v1/messages to the Anthropic provider. Left to its default, v1.4.1 treats every path of an ai backend as an OpenAI chat completion: it translated Anthropic Messages into chat completions (the upstream refused them: 400 max_tokens required), renamed max_tokens to max_completion_tokens and added stream_options on chat calls, and answered /v1/responses and GET /v1/models with its own 503 (the body did not parse as a chat completion)",
	"what it still changes on the model route, headers only: on /v1/messages the Anthropic provider moves the provider key from Authorization: Bearer to x-api-key, sets anthropic-version: 2023-06-01 over the client's, and drops browser CORS headers (origin, access-control-request-*, sec-fetch-*); Envoy and Istio send the client's anthropic-version as it came",
	"the response path (extProc): an answer synapse gives in the upstream's place (a list it withholds, JSON-RPC -32011 list_withheld) reaches the agent as synapse wrote it, but with extAuthz's response headers added after it, whatever their append action: x-hopguard-decision: allow and the request's decision id stand over synapse's deny and the withheld list's own id (seen with v1.4.1 on a resumed event stream before synapse refused those at the request path). The body still fails the request closed; Envoy and Istio keep synapse's marks",
	"MCP session DELETE: agentgateway ends its own session and the upstream's and answers 202 itself whatever the upstream said (v1.4.1 has no option for it), where Envoy and Istio pass on the upstream's 200; the config sets the status back to 200 (route response transformation on :status), so the statuses of initialize, notifications/initialized, the GET stream and DELETE match the upstream's. With 202, the official MCP Python SDK logs \"Session termination failed: 202\" on every close; the official Go SDK (v1.8.0) does not look at the status",
	"a client's answer to a server's request (sampling, elicitation; protocol 2025-11-25 and before) is not relayed: " + noRelayedReplies,
	"MCP's multi round-trip requests (protocol 2026-07-28, which replace server-initiated sampling, elicitation and roots requests): a tool result asking for input (resultType input_required) reaches the client without its inputRequests, so the client has nothing to answer; the official Go SDK mcp-go v1.2.1 retries three times and fails the call. A server that asks the agent mid-call (scenario 11's confirm_escalation and draft_reply) therefore cannot behind v1.4.1; nothing of the answer reaches the upstream",
	oneSynapseReplica,
	"MCP sessions are agentgateway's own: the Mcp-Session-Id the client holds is the gateway's, base64 of a JSON object naming the upstream's session ({\"t\":\"mcp\",\"s\":[{\"t\":\"<route target>\",\"s\":\"<the upstream's session id>\"}]}, seen in its log), and it keeps a session of its own with the upstream, and it answers requests as an event stream (text/event-stream) where the upstream answered application/json; both are MCP's streamable HTTP, and the SDKs read either",
}

// Profile implements Profiled.
func (*AgentGateway) Profile() Profile {
	return Profile{Notes: agentgatewayBehaviour, MCPBehaviours: agentgatewayMCPBehaviours()}
}

// oneSynapseReplica is why agentgateway's checks go to one synapse replica where Envoy and Istio
// spread them over every replica (gateway-configs/agentgateway/replicas_test.go shows each part).
const oneSynapseReplica = "several synapse replicas: every check goes to the first replica alone (component synapse); the others get none, and if it is down every check fails closed (503). " +
	"agentgateway v1.4.1's extAuthz names one upstream: its schema (schema/config.schema.json, $defs.ExtAuthz.oneOf) allows `host` (one host:port), `backend` (a top-level backends entry, itself one host) or `service: {name, port}`, a top-level `services` entry whose `workloads` could list every replica, but the v1.4.1 binary refuses `service` in extAuthz (\"unknown field `service`\": its deserializer, SimpleBackendReferenceWithPolicies in crates/agentgateway/src/types/agent.rs, reads the service as `name` and `port` beside `host`, which the schema forbids, so that form fails the schema this config is held to). " +
	"Even in that form the checks would not avoid a replica that is down: a service's endpoint is drawn at random (two picks, the better scored), and an extAuthz call reports no outcome (PolicyClient passes no request log, so no endpoint is ever scored or evicted); with one of two replicas stopped, about half the checks kept failing closed"

// noRelayedReplies is what agentgateway v1.4.1 does with a client's answer to a server's request
// (seen in the MCP transparency suite's log of agentgateway, and synapse's audit log).
const noRelayedReplies = "agentgateway forwards the server's request (elicitation/create on the tool call's event stream, sampling/createMessage on the GET stream) to the client, and synapse allows the client's answer (rpc.response/...), but agentgateway answers that POST 500 \"mcp: failed to send message: invalid request: unsupported message type\" and never relays it: the server waits for an answer that does not come, and the tool call hangs until the client gives up. Effect: an MCP server that uses sampling or elicitation (protocol 2025-11-25 and before) does not work behind agentgateway v1.4.1"

// agentgatewayMCPBehaviours are the MCP conformance framework's scenarios that need a client's
// answer relayed to the server.
func agentgatewayMCPBehaviours() map[string]string {
	return map[string]string{
		"tools-call-sampling":          noRelayedReplies,
		"tools-call-elicitation":       noRelayedReplies,
		"elicitation-sep1034-defaults": noRelayedReplies,
		"elicitation-sep1330-enums":    noRelayedReplies,
	}
}

// Name implements Gateway.
func (g *AgentGateway) Name() string {
	if g.Named != "" {
		return g.Named
	}
	return "agentgateway"
}

// Detail implements Gateway.
func (g *AgentGateway) Detail() string {
	d := "agentgateway v1.4.1 (binary in bin/), config from gateway-configs/agentgateway"
	if g.Runtime == "container" {
		d = "agentgateway v1.4.1 (image), config from gateway-configs/agentgateway"
	}
	if g.WithoutAuthz {
		d += ", extAuthz removed"
	}
	return d
}

// Component implements Gateway.
func (g *AgentGateway) Component(context.Context) (env.Component, error) {
	if g.Runtime != "container" {
		if _, err := binaries.Tool(AgentGatewayTool); err != nil {
			return env.Component{}, fmt.Errorf("agentgateway is not installed in bin/%s (or $%s): %s", AgentGatewayTool, binaries.BinDirEnv, HowToInstall)
		}
	}
	if err := g.loopbackOnly(); err != nil {
		return env.Component{}, err
	}
	name := g.Name()
	return env.Component{
		Name:    name,
		Program: env.Program{Tool: AgentGatewayTool},
		Ports:   []string{stack.PortHTTP, stack.PortAdmin, PortStats, PortReadiness},
		Files: []env.File{{Name: AgentGatewayConfigFile, Render: func(l env.Layout) ([]byte, error) {
			p := AgentGatewayParams(l, name)
			p.WithoutAuthz = g.WithoutAuthz
			return agwconfig.Render(p)
		}}},
		Args: func(l env.Layout) []string {
			return []string{"-f", filepath.Join(l.Dir(name), AgentGatewayConfigFile)}
		},
		Ready:    env.Probe{Kind: env.ProbeHTTP, Port: PortReadiness, Path: "/healthz/ready"},
		Optional: true,
	}, nil
}

// loopbackOnly refuses to start agentgateway where it would listen beyond loopback: v1.4.1's
// gateways have no listen address and bind the unspecified address (0.0.0.0 or [::]) on every
// interface, and hopguard's servers bind 127.0.0.1 only. Inside the loopback-only network
// namespace that harness.Isolate makes (shared with every container on the container runtime)
// that reaches nothing else.
func (g *AgentGateway) loopbackOnly() error {
	list := g.Interfaces
	if list == nil {
		list = net.Interfaces
	}
	err := netns.LoopbackOnly(list)
	if err == nil {
		return nil
	}
	why := "hopguard runs it in a loopback-only network namespace, and this run is not in one"
	if g.Network.Why != nil {
		why = fmt.Sprintf("hopguard runs it in a loopback-only network namespace, and this run could not enter one (%v)", g.Network.Why)
	}
	return fmt.Errorf("agentgateway v1.4.1 binds its gateway port on every interface (it has no listen address), and %w: %s", err, why)
}

// AgentGatewayParams are the render parameters for the gateway component called name in
// layout l: the run's ports, and the defaults of gateway-configs/agentgateway for the rest.
func AgentGatewayParams(l env.Layout, name string) agwconfig.Params {
	p := agwconfig.DefaultParams()
	p.GatewayPort = int(l.Addr(name, stack.PortHTTP).Port())
	p.AdminPort = int(l.Addr(name, stack.PortAdmin).Port())
	p.StatsPort = int(l.Addr(name, PortStats).Port())
	p.ReadinessPort = int(l.Addr(name, PortReadiness).Port())
	// extAuthz takes one upstream (oneSynapseReplica): the first replica, whatever runs.
	p.SynapseAddr = stack.SynapseAddrs(l)[0].String()
	p.LLMAddr = l.Addr(stack.LLM, stack.PortHTTP).String()
	p.MCPServers = nil
	for _, server := range stack.MCPServers() {
		p.MCPServers = append(p.MCPServers, agwconfig.MCPServer{Name: server, Addr: l.Addr(stack.MCPComponent(server), stack.PortHTTP).String()})
	}
	return p
}

package clients

import (
	"github.com/hopguard/hopguard/conformance/stack"
)

// plane is the kind of route a client speaks to.
type plane int

const (
	modelPlane plane = iota + 1
	mcpPlane
)

// client is one official client library, as the matrix plays it.
type client struct {
	name   string
	module string
	speaks string
	plane  plane
	// model plays model calls (model plane).
	model modelSDK
	// protocol is the MCP protocol version the session asks for, "" for the SDK's default
	// (its latest); wantProtocol is the one the session must end up speaking.
	protocol     string
	wantProtocol string
}

// The clients' modules.
const (
	mcpModule       = "github.com/modelcontextprotocol/go-sdk"
	anthropicModule = "github.com/anthropics/anthropic-sdk-go"
	openaiModule    = "github.com/openai/openai-go/v3"
)

// MCP protocol versions the Go SDK speaks: the last with sessions (initialize, Mcp-Session-Id,
// a GET stream) and the stateless one (server/discover, per-request _meta), its default.
const (
	sessionProtocol   = "2025-11-25"
	statelessProtocol = "2026-07-28"
)

// The clients' names in the matrix.
const (
	mcpSessions  = "MCP Go SDK, sessions"
	mcpStateless = "MCP Go SDK, stateless"
	anthropicGo  = "anthropic-sdk-go"
	openaiGo     = "openai-go"
)

func clientList() []client {
	return []client{
		{name: mcpSessions, module: mcpModule, plane: mcpPlane, protocol: sessionProtocol, wantProtocol: sessionProtocol,
			speaks: "streamable HTTP client transport, protocol " + sessionProtocol + ": initialize, a session id, the GET stream, DELETE on close"},
		{name: mcpStateless, module: mcpModule, plane: mcpPlane, wantProtocol: statelessProtocol,
			speaks: "streamable HTTP client transport, protocol " + statelessProtocol + " (its default): server/discover, no session, falling back to initialize when discover fails"},
		{name: anthropicGo, module: anthropicModule, plane: modelPlane, model: anthropicSDK{},
			speaks: "Messages (POST /v1/messages), streamed and not; default retries"},
		{name: openaiGo, module: openaiModule, plane: modelPlane, model: openaiSDK{},
			speaks: "chat completions (POST /v1/chat/completions), streamed and not; default retries"},
	}
}

// The kinds of hop, as the report names them.
const (
	hopAllowed         = "allowed call"
	hopStreaming       = "streaming call"
	hopDeniedStreaming = "denied streaming call"
	hopDeniedAtConnect = "denial at connect"
	hopDeniedCall      = "denied call"
	hopRevoked         = "revoked task mid-session"
	hopNoToken         = "no token"
	hopOtherToken      = "token of another resource"
	hopSynapseDown     = "synapse down"
	hopCerbosDown      = "Cerbos down"
)

// tokenKind is the credential a hop presents.
type tokenKind int

const (
	ownToken   tokenKind = iota // the actor's token for the route
	noToken                     // no credential at all
	otherToken                  // the actor's valid token for otherResource
)

// otherResource is whose token is replayed on another route.
const otherResource = "mcp:payments"

// spec is one kind of hop for one plane: what is played and what must come of it.
type spec struct {
	hop    string
	played string
	// code is the hopguard code the denial must carry; "" for a hop that must be allowed.
	code    string
	token   tokenKind
	ticket  string
	disrupt string // the component stopped while the hop is played
	// Model plane: the model asked, streamed or not.
	model  string
	stream bool
	// MCP plane: the server connected to and the tool called (none: connecting is the hop).
	// connectFirst opens the session before the hop is measured; revoke makes an allowed call
	// on it, then revokes the task, then the hop is played on the same session.
	server       string
	tool         string
	args         map[string]any
	connectFirst bool
	revoke       bool
}

// Alice's hops (CONTRACTS.md, demo seed): she may ask gpt-4o-mini, read tickets and refund up
// to $50 on her task's ticket; payroll is closed to her and unknown models are denied.
const (
	allowedModel = "gpt-4o-mini"
	deniedModel  = "gpt-5-ultra"
	maxTokens    = 64
)

func getTicket() map[string]any { return map[string]any{"ticket_id": "T-2001"} }

func refund9000() map[string]any {
	return map[string]any{"ticket_id": "T-1001", "amount_cents": 900000, "currency": "usd", "reason": "Customer refund request on ticket T-1001"}
}

// The codes of denials synapse and the gateways make themselves (CONTRACTS.md).
const (
	codeUnauthenticated   = "unauthenticated"
	codeInvalidToken      = "invalid_token"
	codeTaskNotActive     = "task_not_active"
	codePDPUnavailable    = "pdp_unavailable"
	codeAuthzUnavailable  = "authz_unavailable" // the gateway's own reply with synapse unreachable (issue 20)
	codeModelNotAllowed   = "model_not_allowed"
	codeServerNotAllowed  = "server_not_allowed"
	codeRefundCapExceeded = "refund_cap_exceeded"
)

// specs are the kinds of hop of a plane, in the matrix's order.
func specs(p plane) []spec {
	if p == modelPlane {
		asks := "alice asks " + allowedModel + " (max_tokens 64)"
		return []spec{
			{hop: hopAllowed, played: asks, ticket: "T-2001", model: allowedModel},
			{hop: hopStreaming, played: asks + ", streamed", ticket: "T-2001", model: allowedModel, stream: true},
			{hop: hopDeniedCall, played: "alice asks " + deniedModel + ", a model no policy allows", code: codeModelNotAllowed, ticket: "T-2001", model: deniedModel},
			{hop: hopDeniedStreaming, played: "alice asks " + deniedModel + ", streamed", code: codeModelNotAllowed, ticket: "T-2001", model: deniedModel, stream: true},
			{hop: hopRevoked, played: asks + ", her task revoked after a first allowed call", code: codeTaskNotActive, ticket: "T-2001", model: allowedModel, revoke: true},
			{hop: hopNoToken, played: asks + " with no credential", code: codeUnauthenticated, token: noToken, ticket: "T-2001", model: allowedModel},
			{hop: hopOtherToken, played: asks + " with her " + otherResource + " token", code: codeInvalidToken, token: otherToken, ticket: "T-2001", model: allowedModel},
			{hop: hopSynapseDown, played: asks + ", synapse stopped", code: codeAuthzUnavailable, ticket: "T-2001", model: allowedModel, disrupt: stack.Synapse},
			{hop: hopCerbosDown, played: asks + ", Cerbos stopped", code: codePDPUnavailable, ticket: "T-2001", model: allowedModel, disrupt: stack.Cerbos},
		}
	}
	opens := "alice connects to tickets"
	return []spec{
		{hop: hopAllowed, played: opens + " and reads T-2001 (tools/call get_ticket)", ticket: "T-2001", server: "tickets", tool: "get_ticket", args: getTicket()},
		{hop: hopDeniedAtConnect, played: "alice connects to payroll", code: codeServerNotAllowed, ticket: "T-2001", server: "payroll"},
		{hop: hopDeniedCall, played: "alice, connected to payments, refunds $9,000 on T-1001 (tools/call refund_issue)", code: codeRefundCapExceeded, ticket: "T-1001",
			server: "payments", tool: "refund_issue", args: refund9000(), connectFirst: true},
		{hop: hopRevoked, played: "alice reads T-2001 again on the same session after her task is revoked", code: codeTaskNotActive, ticket: "T-2001",
			server: "tickets", tool: "get_ticket", args: getTicket(), connectFirst: true, revoke: true},
		{hop: hopNoToken, played: opens + " with no credential", code: codeUnauthenticated, token: noToken, ticket: "T-2001", server: "tickets"},
		{hop: hopOtherToken, played: opens + " with her " + otherResource + " token", code: codeInvalidToken, token: otherToken, ticket: "T-2001", server: "tickets"},
		{hop: hopSynapseDown, played: opens + ", synapse stopped", code: codeAuthzUnavailable, ticket: "T-2001", server: "tickets", disrupt: stack.Synapse},
		{hop: hopCerbosDown, played: opens + ", Cerbos stopped", code: codePDPUnavailable, ticket: "T-2001", server: "tickets", disrupt: stack.Cerbos},
	}
}

// entry is one cell of the matrix, before it is placed behind a gateway.
type entry struct {
	client client
	spec   spec
}

// matrix is every client with every kind of hop of its plane.
func matrix() []entry {
	var out []entry
	for _, c := range clientList() {
		for _, s := range specs(c.plane) {
			out = append(out, entry{client: c, spec: s})
		}
	}
	return out
}

// disruptions are the components the matrix stops, in order.
func disruptions() []string { return []string{stack.Synapse, stack.Cerbos} }

// resource is the route resource of the spec's hop.
func (s spec) resource() string {
	if s.server != "" {
		return "mcp:" + s.server
	}
	return "llm"
}

// wantDenied says the hop must be denied.
func (s spec) wantDenied() bool { return s.code != "" }

// actions are synapse's actions for the requests of the measured call (CONTRACTS.md): what its
// audit records are counted by.
func (s spec) actions() []string {
	if s.server == "" {
		return []string{"completion"}
	}
	var out []string
	if !s.connectFirst {
		out = append(out, "initialize")
	}
	if s.tool != "" {
		out = append(out, "tools/call/"+s.tool)
	}
	return out
}

// rpcMethods are the JSON-RPC methods of the measured call's requests.
func (s spec) rpcMethods() []string {
	var out []string
	if !s.connectFirst {
		out = append(out, "server/discover", "initialize")
	}
	if s.tool != "" {
		out = append(out, "tools/call")
	}
	return out
}

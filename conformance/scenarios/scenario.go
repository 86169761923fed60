// Package scenarios is the conformance suite as data: each scenario is a list of steps (a hop an
// agent makes through the gateway, or a control action such as revoking a task or stopping a
// component) with what must come of it. One runner drives every step with hopguard's real agent
// clients (mcp-go, openai-go) and checks, for each hop, the decision, what the agent saw, whether
// the upstream was contacted (the mock's journal) and synapse's audit record.
package scenarios

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/loop"
)

// Scenario is one row of the portability matrix.
type Scenario struct {
	ID    string
	Title string
	Steps []Step
}

// Actor is one of the demo's principals (CONTRACTS.md).
type Actor struct {
	Name    string // short name used in task ids and step names
	Creds   identity.ClientCredentials
	AgentID string // the agent the launcher attests to
	// Workload is a SPIFFE workload: where SPIRE runs, its secret is gone, and the agent binary
	// proves its identity with the JWT-SVID SPIRE gives it alone.
	Workload bool
}

// STS is where the test driver gets a's tokens for hops it makes itself: sts, the
// environment's STS, or for a workload when driverSTS is set (SPIRE runs, and the workload has no
// secret at sts: it proves itself there with a JWT-SVID only the agent binary gets) driverSTS,
// the test driver's own.
func (a Actor) STS(sts, driverSTS string) string {
	if a.Workload && driverSTS != "" {
		return driverSTS
	}
	return sts
}

// The demo's principals.
var (
	Alice = Actor{Name: "alice", Creds: identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"}, AgentID: "support-agent"}
	Bob   = Actor{Name: "bob", Creds: identity.ClientCredentials{ClientID: "bob", ClientSecret: "bob-secret"}, AgentID: "support-agent"}
	Carol = Actor{Name: "carol", Creds: identity.ClientCredentials{ClientID: "carol", ClientSecret: "carol-secret"}, AgentID: "support-agent"}
	// MCPConformance is the official MCP conformance framework's client, allowed everything on
	// the fixture server alone (policies/bundle/resource_policies/mcp_conformance.yaml).
	MCPConformance = Actor{Name: "mcp-conformance", Creds: identity.ClientCredentials{ClientID: "mcp-conformance", ClientSecret: "mcp-conformance-secret"}, AgentID: "mcp-conformance-client"}
	Triage         = Actor{Name: "triage", Creds: identity.ClientCredentials{ClientID: "spiffe://hopguard.local/ns/agents/sa/triage", ClientSecret: "triage-secret"}, AgentID: "triage-agent", Workload: true}
)

// Step is one thing a scenario does. Exactly one of Hop and Do is set.
type Step struct {
	Name string
	// Title and Intro tell a step as an act of a story: its title, and what is about to
	// happen (the demo narrates them; "" for the suite's other steps).
	Title string
	Intro string
	// As and Ticket say who makes the hop and the ticket its task is bound to; each (actor,
	// ticket) pair gets its own task, created through synapse's admin API when first used.
	As     Actor
	Ticket string
	Hop    Hop
	// Token is the credential presented; the zero value is the actor's own token for the route.
	Token Token
	Want  Want
	// Do is a control action (revoke a task, stop a component) instead of a hop.
	Do func(ctx context.Context, r *Run) error
}

// HopKind says what kind of request a hop is.
type HopKind int

// The hops.
const (
	// Model is a chat completion asking for Hop.Model.
	Model HopKind = iota + 1
	// ListModels lists the models (GET /v1/models).
	ListModels
	// Handshake opens an MCP session with Hop.Server; the session stays open for later steps
	// of the same actor and ticket.
	Handshake
	// ListTools lists the tools of Hop.Server on the open (or a new) session.
	ListTools
	// CallTool calls Hop.Tool with Hop.Args on the open (or a new) session with Hop.Server.
	CallTool
	// Agent runs the whole triage agent (agent/loop) on the step's ticket.
	Agent
	// Raw sends Hop.Method Hop.Path with Hop.Body as is (paths no client would send); it passes
	// when the gateway refuses it (a non-2xx status or a denial) and no upstream sees anything.
	// A Token of kind OtherResourceToken is presented as the bearer token.
	Raw
	// ListResources lists the documents of Hop.Server on the open (or a new) session.
	ListResources
	// ReadResource reads Hop.URI from Hop.Server.
	ReadResource
	// GetPrompt gets Hop.Prompt from Hop.Server with Hop.PromptArgs.
	GetPrompt
)

// Hop is the request a step makes.
type Hop struct {
	Kind   HopKind
	Method string // Raw
	Path   string // Raw
	Body   []byte // Raw
	// Model is the model a Model hop asks for, and the one an Agent hop's agent asks first
	// ("" for the agent's default); FallbackModel the one the agent asks once Model is denied.
	Model         string
	FallbackModel string
	Server        string
	Tool          string
	Args          json.RawMessage
	// Answering marks a CallTool whose tool asks the client mid-call: the hop judged is the
	// retried call carrying the client's answers (params.inputResponses), not the first one.
	Answering  bool
	URI        string            // ReadResource
	Prompt     string            // GetPrompt
	PromptArgs map[string]string // GetPrompt
	// AgentRun adjusts the agent's config (Agent hops); Check inspects what the run did.
	AgentRun func(r *Run, cfg *loop.Config)
	Check    func(r *Run, res loop.Result) error
}

// TokenKind is the credential a hop presents.
type TokenKind int

// The credentials a hop can present.
const (
	// OwnToken is the actor's valid token for the route's resource.
	OwnToken TokenKind = iota
	// NoToken presents no bearer token at all.
	NoToken
	// OtherResourceToken replays the actor's valid token for Token.Resource on this route.
	OtherResourceToken
	// ExpiredToken is a genuine token for the route, signed by the STS's key, already expired.
	ExpiredToken
)

// Token selects the credential of a hop.
type Token struct {
	Kind     TokenKind
	Resource string // OtherResourceToken
}

// Want is what must come of a hop.
type Want struct {
	Deny bool
	// Code is the denial's code the agent must see ("" = any, or none on allow).
	Code string
	// Reason must appear in the reason the agent sees.
	Reason string
	// Tools, when set, are the tools an allowed ListTools hop must show, exactly (in any order).
	Tools []string
	// Resources, when set, are the URIs an allowed ListResources hop must show, exactly.
	Resources []string
	// Remediation is the remediation's type ("step_up").
	Remediation string
	// Status is the HTTP status of the denied response; 0 does not check it. StatusBehind
	// overrides it behind the gateways it names (a gateway's own reply it cannot shape).
	Status       int
	StatusBehind map[string]int
	// FailClosed marks a denial because no decision could be made: it must carry
	// x-should-retry: false, whatever its status.
	FailClosed bool
	// NoAudit is set when synapse cannot have written a record (it is stopped).
	NoAudit bool
	// OrUnrouted accepts, instead of Code, the gateway's own 404 for a raw request it routes
	// nowhere (no decision mark): gateways differ on whether they resolve dot segments before
	// matching routes (Envoy and Istio do, agentgateway v1.4.1 does not), and either way
	// nothing reaches an upstream, which rawHop checks for every raw request.
	OrUnrouted bool
	// BrokenBehind names the gateways that break the hop, with what they do (their notes say
	// it too): behind them the hop must fail at the client, with nothing of it reaching the
	// upstream, and is recorded as "broken", never as the decision wanted.
	BrokenBehind map[string]string
	// CodeOptionalBehind names the gateways whose own reply may carry no code, their notes
	// saying why (agentgateway's fail-closed reply is plain text): behind them a denial without
	// any code passes too; one with a code must still have Code.
	CodeOptionalBehind []string
}

// status is the HTTP status the denied response must have behind gateway; 0 does not check it.
func (w Want) status(gateway string) int {
	if s, ok := w.StatusBehind[gateway]; ok {
		return s
	}
	return w.Status
}

// codeOptional says whether, behind gateway, a denial may come without a code.
func (w Want) codeOptional(gateway string) bool {
	return slices.Contains(w.CodeOptionalBehind, gateway)
}

// Step constructors keep the suite readable.

func completion(name string) Hop  { return Hop{Kind: Model, Model: name} }
func handshake(server string) Hop { return Hop{Kind: Handshake, Server: server} }
func listTools(server string) Hop { return Hop{Kind: ListTools, Server: server} }
func callTool(server, tool, args string) Hop {
	return Hop{Kind: CallTool, Server: server, Tool: tool, Args: json.RawMessage(args)}
}

func callToolAnswering(server, tool, args string) Hop {
	h := callTool(server, tool, args)
	h.Answering = true
	return h
}
func listResources(server string) Hop { return Hop{Kind: ListResources, Server: server} }
func readResource(server, uri string) Hop {
	return Hop{Kind: ReadResource, Server: server, URI: uri}
}
func getPrompt(server, prompt string, args map[string]string) Hop {
	return Hop{Kind: GetPrompt, Server: server, Prompt: prompt, PromptArgs: args}
}

func allow() Want { return Want{} }

func deny(code, reason string) Want { return Want{Deny: true, Code: code, Reason: reason} }

// Resource is the resource a hop's route carries: "llm" or "mcp:<server>".
func (h Hop) Resource() string {
	if h.Kind == Raw {
		return ""
	}
	if h.Kind == Model || h.Kind == ListModels || h.Kind == Agent {
		return "llm"
	}
	return "mcp:" + h.Server
}

// Package respond builds the CheckResponse synapse returns to the gateway: an allow that strips
// the agent's credential, or a denial shaped so that the client the agent runs can read it.
// Like synapse/mapping it is pure; the decision itself is made elsewhere (synapse/authz).
//
// What stock clients surface was measured (mcp-go v1.2.1, openai-go v3.98.0, anthropic-sdk-go
// v1.84.0), and the shapes follow from it. The gateway never forwards a denied request, whatever
// the status.
//
//   - Allowed: gRPC OK (always set: agentgateway takes a missing status as OK, Envoy does not),
//     the Authorization header removed from the upstream request (the gateway adds the provider
//     key after ext_authz), x-hopguard-decision-id added to the upstream request and to the
//     client's response. x-hopguard-grant is removed from the request, or, on an allowed list,
//     set to the list's sealed grant for the response path (WithGrant).
//   - Model plane denied: 403 with an OpenAI-style body {"error": {"type": "permission_denied",
//     "code", "message", "hopguard": <Denial>}}. openai-go does not retry a 403 and exposes
//     Message, Code and the "hopguard" extra field. A route synapse could not place gets it too.
//   - Anthropic's Messages API denied (/v1/messages and below, mapping.DialectAnthropic): 403
//     with Anthropic's body {"type": "error", "error": {"type": "permission_error", "message",
//     "hopguard": <Denial>}}; "authentication_error" when the token is missing or rejected (still
//     403, as on every route). anthropic-sdk-go's *anthropic.Error exposes error.type as Type()
//     and the whole body as RawJSON(), hopguard's field included.
//   - MCP request denied: 200 with a JSON-RPC answer for the request's id (a 403 makes mcp-go
//     report a "legacy SSE server" and never read the body). A tools/call gets a result with
//     isError, the reason as text for the model, and the Denial as structuredContent and under
//     _meta["io.hopguard/denial"]; the session survives and the agent can act on the reason.
//     Every other request, the handshake above all (a result would tell a client it connected),
//     gets a JSON-RPC error whose message carries the whole reason ("denied: ...", since mcp-go
//     shows only the message) and whose data is the Denial.
//   - MCP with nothing to answer (a notification, a client's response, GET, DELETE, a body that
//     could not be read): 403 with a JSON-RPC error whose id is null, as the streamable HTTP
//     transport specifies for input a server does not accept.
//   - MCP batch: a JSON array with one answer per request of the batch, each carrying the
//     denial: nothing of the batch was forwarded, so every request fails with the reason.
//   - Unavailable (fail closed): 503, the body in the route's shape (OpenAI's
//     "service_unavailable", Anthropic's "api_error"). On the MCP plane, the MCP-native way as
//     for a denial: 200 with the JSON-RPC error -32011 for each request (the MCP Go SDK v1.8.0
//     takes a 500, 502, 503, 504 or 429 for transient and never reads its body); 503 with the
//     error for id null where nothing can be answered (a notification, GET, DELETE).
//   - Every denial: x-hopguard-decision: deny and x-hopguard-decision-id, so logs and metrics
//     can count denials whatever the status; x-should-retry: false, which the OpenAI and
//     Anthropic SDKs obey over their own rules (they retry a 5xx twice otherwise, and a denial
//     is the same denial the next time); content-type application/json.
//
// JSON-RPC error codes come from the range -32000..-32019 that protocol 2026-07-28 leaves to
// implementations, avoiding -32000 and -32001 which SDKs use for closed connections and timeouts.
package respond

import (
	"slices"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/synapse/mapping"
)

// Headers synapse sets.
const (
	HeaderDecision      = "x-hopguard-decision"    // "deny" on every denial, "allow" on the client's response when allowed
	HeaderDecisionID    = "x-hopguard-decision-id" // the decision's id, on both
	HeaderShouldRetry   = "x-should-retry"         // "false" on every denial, read by the OpenAI and Anthropic SDKs
	HeaderAuthorization = "authorization"          // removed from an allowed request
	// HeaderPolicy names the policy that decided and the policy set's version
	// ("resource.mcp_payments.vdefault sha256:1f2e3d4c5b6a7980"), on the client's response
	// whether allowed or denied, when a policy decided (Provenance).
	HeaderPolicy = "x-hopguard-policy"
	// HeaderCode carries hopguard's code on the gateway's own fail-closed reply (synapse
	// unreachable: CodeAuthzUnavailable), set by the gateway configs, for clients that read no
	// body of a 5xx or a gateway that cannot write one; synapse's own denials carry the code
	// in their body.
	HeaderCode = "x-hopguard-code"
	// HeaderGrant carries an allowed list's grant, sealed (synapse/visibility.Sealer), on the
	// request the gateway forwards, from ext_authz to the response path (synapse/extproc), which
	// removes it before the upstream. Every allowed request has the client's copy removed or
	// overwritten: only synapse puts one there.
	HeaderGrant = "x-hopguard-grant"
)

// agentCredentialHeaders are removed from every allowed request: the agent's token must never
// reach an upstream, whichever header it was put in. x-api-key is where Anthropic's SDK puts a
// key; the gateway adds the provider's own key after authorization.
var agentCredentialHeaders = []string{HeaderAuthorization, "proxy-authorization", "x-api-key"}

// JSON-RPC error codes of an MCP denial.
const (
	JSONRPCDenied      = -32010 // a policy or input denial
	JSONRPCUnavailable = -32011 // synapse or Cerbos could not decide: fail closed
)

// DecisionDeny is the decision every Denial carries.
const DecisionDeny = "deny"

// Denial is the structured reason of a denial, the shape every DENY rule of the policies
// outputs and synapse builds itself for denials without one (CONTRACTS.md, "Policy output on
// deny").
type Denial struct {
	Decision    string         `json:"decision"`
	Reason      string         `json:"reason"`
	Code        string         `json:"code"`
	Remediation map[string]any `json:"remediation,omitempty"`
}

// Refusal is the Denial of a request synapse/mapping refused before Cerbos was asked.
func Refusal(err *mapping.Error) Denial {
	return Denial{Decision: DecisionDeny, Reason: err.Reason, Code: err.Code}
}

// Provenance is which policy decided (its Cerbos id, "resource.mcp_payments.vdefault") and the
// version of the policy set it belongs to (policies/provenance). Empty when no policy decided
// (a request refused before Cerbos was asked, or Cerbos unavailable).
type Provenance struct {
	Policy  string
	Version string
}

// header is the HeaderPolicy value, "" when nothing is known.
func (p Provenance) header() string {
	switch {
	case p.Policy == "" && p.Version == "":
		return ""
	case p.Version == "":
		return p.Policy
	case p.Policy == "":
		return p.Version
	}
	return p.Policy + " " + p.Version
}

// Allowed lets the request through, without the agent's credential.
func Allowed(decisionID string, p Provenance) *authv3.CheckResponse {
	toClient := []*corev3.HeaderValueOption{
		// Unless a later filter has marked the answer a denial already: the response path
		// (synapse/extproc) answers a tool list it withholds in the upstream's place, with
		// x-hopguard-decision: deny, and the gateway adds these headers after it.
		headerIfAbsent(HeaderDecision, "allow"),
		headerIfAbsent(HeaderDecisionID, decisionID),
	}
	if v := p.header(); v != "" {
		toClient = append(toClient, header(HeaderPolicy, v))
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			// A grant the client sent goes too: the response path must find none but synapse's.
			HeadersToRemove:      append(slices.Clone(agentCredentialHeaders), HeaderGrant),
			Headers:              []*corev3.HeaderValueOption{header(HeaderDecisionID, decisionID)},
			ResponseHeadersToAdd: toClient,
		}},
	}
}

// WithGrant makes an allowed response carry an allowed list's sealed grant to the response path:
// set over whatever the client sent under HeaderGrant, rather than removed. Never both, since a
// gateway's order between its sets and its removals is its own. A denial is left as it is.
func WithGrant(resp *authv3.CheckResponse, sealed string) {
	ok := resp.GetOkResponse()
	if ok == nil {
		return
	}
	ok.HeadersToRemove = slices.DeleteFunc(ok.HeadersToRemove, func(h string) bool { return h == HeaderGrant })
	ok.Headers = append(ok.Headers, header(HeaderGrant, sealed))
}

// Denied refuses the request for a policy or input reason. in may be nil or partly filled (a
// request mapping refused); the denial is then shaped as far as in tells.
func Denied(in *mapping.Input, d Denial, decisionID string, p Provenance) *authv3.CheckResponse {
	resp := denial(in, d, decisionID, false)
	if v := p.header(); v != "" {
		denied := resp.GetDeniedResponse()
		denied.Headers = append(denied.Headers, header(HeaderPolicy, v))
	}
	return resp
}

// Unavailable refuses the request because no decision could be made (Cerbos or synapse
// failed): fail closed, with a 503 the clients must not retry (200 with a JSON-RPC error for
// an MCP request, see the package comment).
func Unavailable(in *mapping.Input, d Denial, decisionID string) *authv3.CheckResponse {
	return denial(in, d, decisionID, true)
}

func denial(in *mapping.Input, d Denial, decisionID string, unavailable bool) *authv3.CheckResponse {
	if d.Decision == "" {
		d.Decision = DecisionDeny
	}
	status, body := shape(in, d, unavailable)
	grpcCode := codes.PermissionDenied
	headers := []*corev3.HeaderValueOption{
		header("content-type", "application/json"),
		header(HeaderDecision, DecisionDeny),
		header(HeaderDecisionID, decisionID),
		header(HeaderShouldRetry, "false"),
	}
	if unavailable {
		grpcCode = codes.Unavailable
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(grpcCode), Message: d.Code},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: status},
			Headers: headers,
			Body:    body,
		}},
	}
}

// headerIfAbsent is a header the gateway adds only where the message has none of that name.
func headerIfAbsent(key, value string) *corev3.HeaderValueOption {
	h := header(key, value)
	h.AppendAction = corev3.HeaderValueOption_ADD_IF_ABSENT
	return h
}

func header(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

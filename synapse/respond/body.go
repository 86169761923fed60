package respond

import (
	"encoding/json"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/hopguard/hopguard/synapse/mapping"
)

// DenialMetaKey is the _meta key under which a denied tool call carries the Denial, so Go code
// can tell a gateway denial from the tool's own error.
const DenialMetaKey = "io.hopguard/denial"

// shape returns the HTTP status and body of a denial in the protocol of the request's route:
// JSON-RPC on the MCP plane, Anthropic's error on Anthropic's paths, OpenAI's on every other.
func shape(in *mapping.Input, d Denial, unavailable bool) (typev3.StatusCode, string) {
	switch {
	case in != nil && in.Plane == mapping.PlaneMCP:
		return mcpShape(in, d, unavailable)
	case in != nil && in.Dialect == mapping.DialectAnthropic:
		return anthropicShape(d, unavailable)
	}
	return modelShape(d, unavailable)
}

// modelError is the OpenAI error body, which openai-go reads into *openai.Error; other clients
// (and a route synapse could not place) get the same plain JSON.
type modelError struct {
	Error modelErrorBody `json:"error"`
}

type modelErrorBody struct {
	Type     string `json:"type"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Hopguard Denial `json:"hopguard"`
}

func modelShape(d Denial, unavailable bool) (typev3.StatusCode, string) {
	status, kind := typev3.StatusCode_Forbidden, "permission_denied"
	if unavailable {
		status, kind = typev3.StatusCode_ServiceUnavailable, "service_unavailable"
	}
	return status, marshal(d, func(d Denial) any {
		return modelError{Error: modelErrorBody{Type: kind, Code: d.Code, Message: d.Reason, Hopguard: d}}
	})
}

// anthropicError is Anthropic's error body, which anthropic-sdk-go reads into *anthropic.Error:
// Type() is error.type, and the whole body, hopguard's field included, is RawJSON().
type anthropicError struct {
	Type  string             `json:"type"` // always "error"
	Error anthropicErrorBody `json:"error"`
}

type anthropicErrorBody struct {
	Type     string `json:"type"`
	Message  string `json:"message"`
	Hopguard Denial `json:"hopguard"`
}

// Anthropic's error types of hopguard's denials.
const (
	AnthropicPermissionError     = "permission_error"     // a policy or input denial (403)
	AnthropicAuthenticationError = "authentication_error" // no token, or one synapse rejects (403 too)
	AnthropicAPIError            = "api_error"            // fail closed (503): not overloaded_error, which invites a retry
)

// authenticationCodes are the denial codes of a missing or rejected credential: synapse's own
// (synapse/authz) and the mapper's for a malformed Authorization header.
var authenticationCodes = map[string]bool{
	"unauthenticated":                true,
	"invalid_token":                  true,
	mapping.CodeInvalidAuthorization: true,
}

func anthropicShape(d Denial, unavailable bool) (typev3.StatusCode, string) {
	status, kind := typev3.StatusCode_Forbidden, AnthropicPermissionError
	switch {
	case unavailable:
		status, kind = typev3.StatusCode_ServiceUnavailable, AnthropicAPIError
	case authenticationCodes[d.Code]:
		kind = AnthropicAuthenticationError
	}
	return status, marshal(d, func(d Denial) any {
		return anthropicError{Type: "error", Error: anthropicErrorBody{Type: kind, Message: d.Reason, Hopguard: d}}
	})
}

type rpcReply struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"` // nil encodes as null
	Error   *rpcError       `json:"error,omitempty"`
	Result  *toolResult     `json:"result,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    Denial `json:"data"`
}

// toolResult is an MCP CallToolResult that reports the denial as the tool's outcome.
type toolResult struct {
	ResultType        string         `json:"resultType"` // "complete": required from protocol 2026-07-28, ignored before
	IsError           bool           `json:"isError"`
	Content           []textContent  `json:"content"`
	StructuredContent Denial         `json:"structuredContent"`
	Meta              map[string]any `json:"_meta"`
}

type textContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func mcpShape(in *mapping.Input, d Denial, unavailable bool) (typev3.StatusCode, string) {
	var answered []mapping.MCPMessage
	for _, m := range in.Messages {
		if m.ID != nil {
			answered = append(answered, m)
		}
	}
	// A JSON-RPC answer goes out with 200, the fail-closed one too: the MCP Go SDK takes a 5xx
	// for transient and never reads its body. With nothing to answer (a notification, GET,
	// DELETE) there is no JSON-RPC response to give: 403 for a denial, 503 when no decision
	// could be made, as before.
	status := typev3.StatusCode_OK
	switch {
	case len(answered) == 0 && unavailable:
		status = typev3.StatusCode_ServiceUnavailable
	case len(answered) == 0:
		status = typev3.StatusCode_Forbidden
	}
	return status, marshal(d, func(d Denial) any {
		if len(answered) == 0 {
			return rpcAnswer(mapping.MCPMessage{}, d, unavailable)
		}
		if !in.Batch {
			return rpcAnswer(answered[0], d, unavailable)
		}
		replies := make([]rpcReply, len(answered))
		for i, m := range answered {
			replies[i] = rpcAnswer(m, d, unavailable)
		}
		return replies
	})
}

// rpcAnswer answers one message: a denied tool call with an isError result, anything else
// (and any message when no decision could be made) with a JSON-RPC error.
func rpcAnswer(m mapping.MCPMessage, d Denial, unavailable bool) rpcReply {
	reply := rpcReply{JSONRPC: "2.0", ID: m.ID}
	message := "denied: " + d.Reason
	if m.Method == mapping.MethodToolsCall && !unavailable {
		data, err := json.Marshal(d)
		text := message
		if err == nil {
			text += "\n" + string(data)
		}
		reply.Result = &toolResult{
			ResultType:        "complete",
			IsError:           true,
			Content:           []textContent{{Type: "text", Text: text}},
			StructuredContent: d,
			Meta:              map[string]any{DenialMetaKey: d},
		}
		return reply
	}
	code := JSONRPCDenied
	if unavailable {
		code = JSONRPCUnavailable
	}
	reply.Error = &rpcError{Code: code, Message: message, Data: d}
	return reply
}

// marshal encodes the body built from d. A remediation that cannot be encoded (a policy output
// holding NaN, say) is dropped rather than losing the denial; the rest always encodes.
func marshal(d Denial, build func(Denial) any) string {
	b, err := json.Marshal(build(d))
	if err != nil {
		d.Remediation = nil
		b, err = json.Marshal(build(d))
	}
	if err != nil {
		return `{"error":{"type":"permission_denied","message":"denied"}}` // only a hand-built, invalid id gets here
	}
	return string(b)
}

// The gateway's own fail-closed reply, when synapse cannot be reached at all: the gateway
// configs write it (gateway-configs/envoy's local reply mappers, Istio's EnvoyFilter), since
// synapse is not there to; synapse itself never sends this code.
const (
	CodeAuthzUnavailable   = "authz_unavailable"
	ReasonAuthzUnavailable = "the authorization service did not answer: denied by the gateway (fail closed)"
)

// GatewayUnavailableBody is the body of the gateway's own fail-closed 503 on a route of plane
// and dialect: the body synapse's own fail-closed reply has there, with CodeAuthzUnavailable.
// The MCP body answers id null, as synapse does when it has none; on an MCP POST, Envoy and
// Istio put the request's id in its place (gateway-configs/envoy: a json_to_metadata filter
// reads it), since an MCP client refuses an answer with id null.
func GatewayUnavailableBody(plane mapping.Plane, dialect mapping.Dialect) string {
	in := &mapping.Input{Plane: plane, Dialect: dialect}
	_, body := shape(in, Denial{Decision: DecisionDeny, Reason: ReasonAuthzUnavailable, Code: CodeAuthzUnavailable}, true)
	return body
}

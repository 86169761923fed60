package mapping

import (
	"fmt"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/hopguard/hopguard/synapse/jsonrpc"
)

// Methods, actions and limits of the MCP plane.
const (
	MethodInitialize = "initialize"
	MethodDiscover   = "server/discover" // the stateless handshake of protocol 2026-07-28
	MethodToolsCall  = "tools/call"

	ActionInitialize    = "initialize"     // both handshakes
	ActionStream        = "stream"         // GET: the server-to-client event stream
	ActionSessionDelete = "session/delete" // DELETE: the end of a session
	// ActionResponse is a client's answer to a server request (roots/list, sampling,
	// elicitation). JSON-RPC reserves "rpc." method names, so no method can collide with it.
	ActionResponse        = "rpc.response"
	ActionToolsCallPrefix = "tools/call/" // followed by the tool name

	MaxMethodName = 128
	MaxToolName   = 128
)

func mapMCP(in *Input, h *authv3.AttributeContext_HttpRequest, hdrs headers, server string, lim Limits) *Error {
	switch method := h.GetMethod(); method {
	case "POST":
		return mapJSONRPC(in, h, hdrs, server, lim)
	case "GET", "DELETE":
		action := ActionStream
		if method == "DELETE" {
			action = ActionSessionDelete
		}
		in.Messages = []MCPMessage{{}}
		if err := noBody(h); err != nil {
			return err
		}
		if _, n := hdrs.get("last-event-id"); n > 0 && method == "GET" {
			// A resumed stream may replay the answer to an earlier request, a tools/list among
			// them, and an event stream never passes the response path that filters one.
			return deny(CodeStreamResumption, "resuming an event stream (Last-Event-ID) is refused: a replayed tool list would not be filtered")
		}
		in.Checks = []Check{{
			Kind: in.Resource, ID: server, Action: action,
			Attr: map[string]any{"method": action, "server": server},
			MCP:  &in.Messages[0],
		}}
		return nil
	default:
		return deny(CodeMethodNotAllowed, "an MCP route accepts POST, GET and DELETE, not %s", clip(method))
	}
}

func mapJSONRPC(in *Input, h *authv3.AttributeContext_HttpRequest, hdrs headers, server string, lim Limits) *Error {
	if err := checkJSONContent(hdrs); err != nil {
		return err
	}
	body, err := requiredBody(h, hdrs, lim.MaxBodyBytes)
	if err != nil {
		return err
	}
	msgs, batch, derr := jsonrpc.Decode(body, lim.mcpJSONRPC())
	in.Batch = batch
	if derr != nil {
		return bodyError(derr)
	}
	// Every message gets its entry in Messages before any is judged: a denial answers them all.
	in.Messages = make([]MCPMessage, len(msgs))
	for i, m := range msgs {
		in.Messages[i] = MCPMessage{Method: m.Method, ID: m.ID}
		if m.Kind == jsonrpc.KindResponse || string(m.ID) == "null" {
			in.Messages[i].ID = nil // a response is not answered; a null id cannot be
		}
	}
	var first *Error
	checks := make([]Check, 0, len(msgs))
	for i, m := range msgs {
		c, err := mcpCheck(&in.Messages[i], m, in.Resource, server, batch)
		if err == nil {
			// A request may carry the client's answers to what the server asked of it (MCP's
			// multi round-trip requests): each is decided as a reply of its own.
			var replies []Check
			if replies, err = inputResponses(c, m, server); err == nil {
				checks = append(append(checks, c), replies...)
				continue
			}
		}
		if batch {
			err.Reason = fmt.Sprintf("batch message %d: %s", i, err.Reason)
		}
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	in.Checks = checks
	return nil
}

// mcpCheck maps one JSON-RPC message to its check, and records on msg what a denial needs.
func mcpCheck(msg *MCPMessage, m jsonrpc.Message, kind, server string, batch bool) (Check, *Error) {
	if m.Err != nil {
		return Check{}, bodyError(m.Err)
	}
	c := Check{Kind: kind, ID: server, MCP: msg}
	if m.Kind == jsonrpc.KindResponse {
		if err := reply(&c, m, server); err != nil {
			return Check{}, err
		}
		return c, nil
	}
	if err := checkMethod(m); err != nil {
		return Check{}, err
	}
	c.Action = m.Method
	c.Attr = map[string]any{"method": m.Method, "server": server}
	switch m.Method {
	case MethodInitialize, MethodDiscover:
		msg.Handshake = true
		if m.Kind != jsonrpc.KindRequest || batch {
			return Check{}, deny(CodeInvalidJSONRPC, "%s must be a single request, not a notification or part of a batch", m.Method)
		}
		c.Action = ActionInitialize
	case MethodToolsCall:
		if err := toolCall(&c, msg, m.Params, server); err != nil {
			return Check{}, err
		}
	case MethodResourcesRead, MethodResourcesSubscribe, MethodResourcesUnsubscribe:
		if err := resourceRequest(&c, m.Params, server, m.Method); err != nil {
			return Check{}, err
		}
	case MethodPromptsGet:
		if err := promptGet(&c, m.Params, server); err != nil {
			return Check{}, err
		}
	case MethodCompletionComplete:
		if err := completion(&c, m.Params, server); err != nil {
			return Check{}, err
		}
	}
	return c, nil
}

// checkMethod refuses methods no MCP peer sends, and names synapse uses for its own actions:
// a method "tools/call/x" or "stream" must not pass as the action a policy allows for a real
// tool call or for the GET stream.
func checkMethod(m jsonrpc.Message) *Error {
	if m.Kind == jsonrpc.KindRequest && string(m.ID) == "null" {
		return deny(CodeInvalidJSONRPC, "an MCP request id must be a string or a number, not null")
	}
	method := m.Method
	if len(method) > MaxMethodName || !nameChars(method, "_./-") {
		return deny(CodeInvalidJSONRPC, "method %q is not a valid MCP method name", clip(method))
	}
	if strings.HasPrefix(method, ActionToolsCallPrefix) || strings.HasPrefix(method, ActionPromptsGetPrefix) || method == ActionStream || method == ActionSessionDelete {
		return deny(CodeInvalidJSONRPC, "method %q is not an MCP method", clip(method))
	}
	return nil
}

// toolCall completes a tools/call check: the tool's own resource id and action, and its
// arguments as attributes.
func toolCall(c *Check, msg *MCPMessage, params any, server string) *Error {
	p, ok := params.(map[string]any)
	if !ok {
		return deny(CodeInvalidToolCall, "tools/call params must be an object")
	}
	for k := range p {
		if (k != "name" && strings.EqualFold(k, "name")) || (k != "arguments" && strings.EqualFold(k, "arguments")) {
			return deny(CodeCaseVariantKey, "tools/call params has %q; only \"name\" and \"arguments\" are read", clip(k))
		}
	}
	name, ok := p["name"].(string)
	if !ok || len(name) > MaxToolName || !nameChars(name, "_.-") {
		return deny(CodeInvalidToolCall, "tools/call needs a tool name of 1 to %d letters, digits, '_', '.' or '-'", MaxToolName)
	}
	msg.Tool = name
	args, present := p["arguments"]
	switch a := args.(type) {
	case map[string]any:
		if _, err := attrValue(a); err != nil {
			return err
		}
	default:
		if present {
			return deny(CodeInvalidToolCall, "tools/call arguments must be an object")
		}
		args = map[string]any{}
	}
	c.ID = server + "/" + name
	c.Action = ActionToolsCallPrefix + name
	c.Attr["tool"] = name
	c.Attr["arguments"] = args
	return nil
}

// nameChars reports whether s is non-empty and made of ASCII letters, digits and extra.
func nameChars(s, extra string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

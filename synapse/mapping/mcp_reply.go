package mapping

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hopguard/hopguard/synapse/jsonrpc"
)

// A client's reply to a server's request (sampling, elicitation, roots, ping) is decided by what
// it answers, whether it comes as a JSON-RPC response (protocol versions up to 2025-11-25) or in
// the params.inputResponses of a retried request (2026-07-28's multi round-trip requests, which
// replace server-initiated requests). synapse sees the reply alone, not the request it answers, and attributes it by its
// shape: a result is taken as the answer to the one request type whose result it is, with every
// member that type requires and none it does not know. This is sound without the request: the
// server can use a reply only as what it is, so a reply allowed as an elicitation answer carries
// an elicitation answer's data, whatever the server asked. A result that fits no type, or more
// than one, is refused before Cerbos is asked (unattributed_reply). The response path could
// instead learn each request from the server's event streams; that would put every stream of an
// MCP route through synapse, and still leave a reply to a request it did not see unattributed.
const (
	ActionReplyPrefix = ActionResponse + "/" // followed by the request type answered, or "error"

	ReplyError = "error" // a JSON-RPC error in reply: the client declines or fails a request

	CodeUnattributedReply = "unattributed_reply"

	// MaxInputResponses bounds the answers one request carries: each is a check of its own.
	MaxInputResponses = 16
)

// replyShape is the result of one request type a server sends a client (MCP's schema).
type replyShape struct {
	answers  string
	required []string
	optional []string
	// valid checks the members' values beyond their presence.
	valid func(result map[string]any) bool
}

func replyShapes() []replyShape {
	return []replyShape{
		{answers: "sampling/createMessage", required: []string{"role", "content", "model"}, optional: []string{"stopReason"},
			valid: func(r map[string]any) bool {
				_, model := r["model"].(string)
				return (r["role"] == "user" || r["role"] == "assistant") && model && isObjectOrList(r["content"])
			}},
		{answers: "elicitation/create", required: []string{"action"}, optional: []string{"content"},
			valid: func(r map[string]any) bool {
				switch r["action"] {
				case "accept":
					_, isObject := r["content"].(map[string]any)
					_, present := r["content"]
					return isObject || !present
				case "decline", "cancel":
					_, present := r["content"]
					return !present
				}
				return false
			}},
		{answers: "roots/list", required: []string{"roots"},
			valid: func(r map[string]any) bool {
				roots, ok := r["roots"].([]any)
				if !ok {
					return false
				}
				for _, root := range roots {
					obj, ok := root.(map[string]any)
					if _, uri := obj["uri"].(string); !ok || !uri {
						return false
					}
				}
				return true
			}},
		// A server's ping is answered with an empty result.
		{answers: "ping", valid: func(map[string]any) bool { return true }},
	}
}

// inputResponses are the checks of the answers a request carries in params.inputResponses, one
// reply check each, on the same server and message as the request's own check c.
func inputResponses(c Check, m jsonrpc.Message, server string) ([]Check, *Error) {
	p, ok := m.Params.(map[string]any)
	if !ok || m.Kind != jsonrpc.KindRequest {
		return nil, nil
	}
	for k := range p {
		if k != "inputResponses" && strings.EqualFold(k, "inputResponses") {
			return nil, deny(CodeCaseVariantKey, "params has %q; only \"inputResponses\" is read", clip(k))
		}
	}
	raw, present := p["inputResponses"]
	if !present {
		return nil, nil
	}
	answers, ok := raw.(map[string]any)
	if !ok {
		return nil, deny(CodeUnattributedReply, "params.inputResponses must be an object of answers")
	}
	if len(answers) > MaxInputResponses {
		return nil, deny(CodeUnattributedReply, "params.inputResponses holds %d answers, at most %d", len(answers), MaxInputResponses)
	}
	checks := make([]Check, 0, len(answers))
	for _, key := range slices.Sorted(maps.Keys(answers)) {
		r := Check{Kind: c.Kind, ID: server, MCP: c.MCP}
		if err := replyResult(&r, answers[key], server, false); err != nil {
			err.Reason = fmt.Sprintf("params.inputResponses[%q]: %s", clip(key), err.Reason)
			return nil, err
		}
		checks = append(checks, r)
	}
	return checks, nil
}

// reply completes the check of a client's reply: its action names what it answers, and its
// result (or error) is there for a policy to read.
func reply(c *Check, m jsonrpc.Message, server string) *Error {
	if m.Error != nil {
		c.Action = ActionReplyPrefix + ReplyError
		c.Attr = map[string]any{"method": ActionResponse, "server": server, "answers": ReplyError, "error": m.Error}
		return nil
	}
	return replyResult(c, m.Result, server, true)
}

// replyResult attributes one result to what it answers; ping is a JSON-RPC reply's only (no
// input request asks for one).
func replyResult(c *Check, value any, server string, orPing bool) *Error {
	c.Attr = map[string]any{"method": ActionResponse, "server": server}
	result, ok := value.(map[string]any)
	if !ok {
		return deny(CodeUnattributedReply, "a reply's result must be an object: synapse decides a reply by what it answers")
	}
	var fits []string
	for _, shape := range replyShapes() {
		if shape.fits(result) && (orPing || shape.answers != "ping") {
			fits = append(fits, shape.answers)
		}
	}
	if len(fits) != 1 {
		return deny(CodeUnattributedReply, "the reply's result is the answer to no one request type a server sends (sampling/createMessage, elicitation/create, roots/list, ping): it cannot be decided")
	}
	c.Action = ActionReplyPrefix + fits[0]
	c.Attr["answers"], c.Attr["result"] = fits[0], result
	return nil
}

func (s replyShape) fits(result map[string]any) bool {
	for k := range result {
		// An unknown member fails, one spelt in another case too ("Action"). _meta and
		// resultType are every result's.
		if k != "_meta" && k != "resultType" && !slices.Contains(s.required, k) && !slices.Contains(s.optional, k) {
			return false
		}
	}
	for _, k := range s.required {
		if _, ok := result[k]; !ok {
			return false
		}
	}
	return s.valid(result)
}

func isObjectOrList(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

package denial

import (
	"bytes"
	"encoding/json"
)

// maxBodyBytes bounds the response body FromBody reads: a denial, even a batch's, is small.
const maxBodyBytes = 1 << 20

// FromBody reads the policy output in the body of a denied response, whatever the route's
// envelope (CONTRACTS.md, "Denial responses"):
//
//   - OpenAI's error (the model route's OpenAI paths): {"error": {"type", "code", "message",
//     "hopguard": <output>}};
//   - Anthropic's error (/v1/messages): {"type": "error", "error": {"type", "message",
//     "hopguard": <output>}};
//   - a JSON-RPC error (MCP): {"jsonrpc": "2.0", "id", "error": {"code", "message",
//     "data": <output>}};
//   - a denied tools/call result: {"result": {"isError": true, "_meta": {MetaKey: <output>}}};
//   - a JSON-RPC batch of those: the first denial in it.
//
// The gateways' own fail-closed replies (synapse unreachable: code "authz_unavailable") use
// the same envelopes. It reports false when the body holds no policy output that denies.
func FromBody(body []byte) (Denial, bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || len(body) > maxBodyBytes {
		return Denial{}, false
	}
	if body[0] != '[' {
		return fromMessage(body)
	}
	var batch []json.RawMessage
	if json.Unmarshal(body, &batch) != nil {
		return Denial{}, false
	}
	for _, m := range batch {
		if d, ok := fromMessage(m); ok {
			return d, true
		}
	}
	return Denial{}, false
}

// envelope is every place a policy output travels in one message.
type envelope struct {
	Error *struct {
		Hopguard json.RawMessage `json:"hopguard"` // OpenAI's and Anthropic's errors
		Data     json.RawMessage `json:"data"`     // a JSON-RPC error
	} `json:"error"`
	Result *struct {
		Meta map[string]json.RawMessage `json:"_meta"`
	} `json:"result"`
}

func fromMessage(raw []byte) (Denial, bool) {
	var e envelope
	if json.Unmarshal(raw, &e) != nil {
		return Denial{}, false
	}
	var candidates []json.RawMessage
	if e.Error != nil {
		candidates = append(candidates, e.Error.Hopguard, e.Error.Data)
	}
	if e.Result != nil {
		candidates = append(candidates, e.Result.Meta[MetaKey])
	}
	for _, c := range candidates {
		if d, err := Parse(c); err == nil {
			return d, true
		}
	}
	return Denial{}, false
}

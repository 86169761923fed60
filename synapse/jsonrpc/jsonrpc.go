// Package jsonrpc reads the JSON-RPC 2.0 envelope of an MCP request body: a single message or a
// batch, each one a request, a notification or a response. It knows nothing about MCP methods;
// synapse/mapping gives them meaning.
//
// The body is decoded with synapse/strictjson, so it is rejected outright when two JSON parsers
// could read it differently. On top of that the envelope is held to the letter of the
// specification, because whatever synapse tolerates the upstream might read its own way:
//   - "jsonrpc" must be exactly "2.0";
//   - members other than jsonrpc, id, method, params, result and error are refused (a Go
//     upstream would take "Method" for "method");
//   - a method is a non-empty string, and names beginning with "rpc." are refused (the
//     specification reserves them);
//   - params, when present, is an object or an array;
//   - a message with a method must not carry result or error, and one without a method must carry
//     exactly one of them and an id (a response the client sends to a server request);
//   - an id is a string, a number or null.
//
// An invalid message does not hide the others: Decode returns every message of a batch, each
// with its own Err, so that a denial can still answer each request by its id.
package jsonrpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hopguard/hopguard/synapse/strictjson"
)

// Version is the only protocol version accepted.
const Version = "2.0"

// DefaultMaxBatch is the largest batch accepted when Limits.MaxBatch is not set.
const DefaultMaxBatch = 32

// Errors of a whole body; a body that is not JSON fails with a strictjson error instead.
var (
	ErrInvalid       = errors.New("invalid JSON-RPC message")
	ErrEmptyBatch    = errors.New("empty JSON-RPC batch")
	ErrBatchTooLarge = errors.New("JSON-RPC batch too large")
)

// Kind tells what a message asks of the receiver.
type Kind int

// The kinds of message; the zero value is an invalid message.
const (
	KindRequest      Kind = iota + 1 // a method and an id: the sender waits for the answer
	KindNotification                 // a method and no id: no answer
	KindResponse                     // a result or an error for an id: the answer to a request
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResponse:
		return "response"
	default:
		return "invalid"
	}
}

// Message is one JSON-RPC message of a body.
type Message struct {
	Kind Kind
	// ID is the message's id as JSON, ready to echo in an answer: the literal text of a number,
	// a string re-encoded, or null. It is nil when the message has no id, or none that is valid.
	ID     json.RawMessage
	Method string
	Params any // map[string]any or []any; nil when absent. Numbers are json.Number.
	// Result and Error are a response's: its result as decoded (any JSON value), or its error
	// object. Exactly one is set on a valid response.
	Result any
	Error  map[string]any
	Err    error // why the message is invalid (wrapping ErrInvalid); nil when it is valid
}

// Limits bound a body.
type Limits struct {
	JSON     strictjson.Limits
	MaxBatch int // most messages in one batch; DefaultMaxBatch when zero
}

// Decode reads body as one JSON-RPC message or a batch (a JSON array). A body that is not
// strict JSON, not an object or array, an empty batch or one over the limit fails as a whole
// with err. Otherwise every message is returned, the invalid ones with Err set: the caller must
// check each.
func Decode(body []byte, lim Limits) (msgs []Message, batch bool, err error) {
	doc, err := strictjson.Decode(body, lim.JSON)
	if err != nil {
		return nil, false, err
	}
	switch doc := doc.(type) {
	case map[string]any:
		return []Message{parseMessage(doc)}, false, nil
	case []any:
		maxBatch := lim.MaxBatch
		if maxBatch <= 0 {
			maxBatch = DefaultMaxBatch
		}
		if len(doc) == 0 {
			return nil, true, ErrEmptyBatch
		}
		if len(doc) > maxBatch {
			return nil, true, fmt.Errorf("%w: %d messages, limit %d", ErrBatchTooLarge, len(doc), maxBatch)
		}
		msgs = make([]Message, len(doc))
		for i, v := range doc {
			obj, ok := v.(map[string]any)
			if !ok {
				msgs[i] = Message{Err: invalid("batch element %d is not an object", i)}
				continue
			}
			msgs[i] = parseMessage(obj)
		}
		return msgs, true, nil
	default:
		return nil, false, invalid("the body is neither an object nor an array")
	}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func parseMessage(obj map[string]any) Message {
	var m Message
	idValue, hasID := obj["id"]
	if hasID {
		id, err := encodeID(idValue)
		if err != nil {
			m.Err = err
			return m
		}
		m.ID = id
	}
	for k := range obj {
		switch k {
		case "jsonrpc", "id", "method", "params", "result", "error":
		default:
			m.Err = invalid("unknown member %q", short(k))
			return m
		}
	}
	if v, _ := obj["jsonrpc"].(string); v != Version {
		m.Err = invalid(`"jsonrpc" must be %q`, Version)
		return m
	}
	_, hasResult := obj["result"]
	errValue, hasError := obj["error"]
	methodValue, hasMethod := obj["method"]
	if !hasMethod {
		m.Err = checkResponse(hasID, hasResult, hasError, errValue, obj)
		if m.Err == nil {
			m.Kind = KindResponse
			m.Result = obj["result"]
			m.Error, _ = errValue.(map[string]any)
		}
		return m
	}
	method, ok := methodValue.(string)
	switch {
	case !ok || method == "":
		m.Err = invalid(`"method" must be a non-empty string`)
	case strings.HasPrefix(method, "rpc."):
		m.Err = invalid(`method names beginning with "rpc." are reserved`)
	case hasResult || hasError:
		m.Err = invalid(`a message with a method carries no "result" or "error"`)
	}
	if m.Err != nil {
		return m
	}
	m.Method = method
	if params, ok := obj["params"]; ok {
		switch params.(type) {
		case map[string]any, []any:
			m.Params = params
		default:
			m.Err = invalid(`"params" must be an object or an array`)
			return m
		}
	}
	m.Kind = KindNotification
	if hasID {
		m.Kind = KindRequest
	}
	return m
}

func checkResponse(hasID, hasResult, hasError bool, errValue any, obj map[string]any) error {
	if _, hasParams := obj["params"]; hasParams {
		return invalid(`a message without a method carries no "params"`)
	}
	if hasResult == hasError {
		return invalid(`a message needs a "method", or exactly one of "result" and "error"`)
	}
	if !hasID {
		return invalid(`a response needs an "id"`)
	}
	if hasError {
		if _, ok := errValue.(map[string]any); !ok {
			return invalid(`"error" must be an object`)
		}
	}
	return nil
}

// encodeID turns a decoded id back into JSON. Numbers keep their literal text, so the answer
// carries exactly the id the client sent.
func encodeID(v any) (json.RawMessage, error) {
	switch v := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case json.Number:
		return json.RawMessage(v), nil
	case string:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode id: %w", err)
		}
		return b, nil
	default:
		return nil, invalid(`"id" must be a string, a number or null`)
	}
}

func short(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

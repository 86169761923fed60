package mapping

import (
	"errors"
	"fmt"

	"github.com/hopguard/hopguard/synapse/jsonrpc"
	"github.com/hopguard/hopguard/synapse/strictjson"
)

// Error codes of a request synapse refuses before asking Cerbos. Each is a stable snake_case
// name: the "code" of the denial the agent reads, and the reason label of the denial metric.
const (
	// The route.
	CodeMissingHTTP      = "missing_http_attributes" // the CheckRequest carries no HTTP request
	CodeUnknownRoute     = "unknown_route"           // no context_extensions resource and no route table match
	CodeInvalidResource  = "invalid_resource"        // the route's resource is neither llm nor mcp:<server>
	CodeRouteConflict    = "route_conflict"          // context_extensions and the route table name different resources
	CodeInvalidPath      = "invalid_path"            // dot segments, //, percent-encoding, odd bytes in the path
	CodeMethodNotAllowed = "method_not_allowed"      // an HTTP method the plane does not use
	CodeUnknownModelAPI  = "unknown_model_api"       // a model-route path that is not a known API
	// CodeUpgradeNotAllowed: a request asking to switch protocols (WebSocket, h2c). Only the
	// asking request is checked; after a 101 the gateway is a tunnel nothing checks.
	CodeUpgradeNotAllowed = "upgrade_not_allowed"
	// CodeStreamResumption: a GET that resumes an MCP event stream (Last-Event-ID).
	CodeStreamResumption = "stream_resumption_refused"

	// The credential.
	CodeInvalidAuthorization = "invalid_authorization" // Authorization repeated, joined, or not one Bearer token

	// The body.
	CodeUnsupportedContentType     = "unsupported_content_type"     // a POST whose body is not application/json
	CodeUnsupportedContentEncoding = "unsupported_content_encoding" // a compressed (or otherwise encoded) body
	CodeBodyMissing                = "body_missing"                 // a POST without a body (or a gateway not sending it)
	CodeBodyPartial                = "body_partial"                 // the gateway sent only part of the body
	CodeBodySizeMismatch           = "body_size_mismatch"           // the body's length is not the size the gateway reported
	CodeBodyUnexpected             = "body_unexpected"              // a body on a GET or DELETE
	CodeBodyAmbiguous              = "body_ambiguous"               // both body and raw_body are set
	CodeBodyTooLarge               = "body_too_large"
	CodeInvalidJSON                = "invalid_json"        // not one JSON value (syntax, trailing data)
	CodeInvalidUTF8                = "invalid_utf8"        // invalid UTF-8 or a lone surrogate escape
	CodeDuplicateKey               = "duplicate_key"       // a key twice in one object, at any depth, ignoring case
	CodeCaseVariantKey             = "case_variant_key"    // "Model" or "Arguments" where "model" or "arguments" is read
	CodeJSONTooDeep                = "json_too_deep"       // nesting beyond the limit
	CodeNumberOutOfRange           = "number_out_of_range" // a number no double holds exactly (beyond ±2^53-1, or infinite)
	// CodeRequestTooComplex: more JSON values, object members, array elements or string bytes
	// than Limits allow, or checks larger than synapse sends Cerbos. The caller's request, not an
	// outage: it is refused before Cerbos is asked.
	CodeRequestTooComplex = "request_too_complex"

	// The model plane.
	CodeInvalidModel = "invalid_model" // "model" missing, not a string, empty or too long
	CodeInvalidField = "invalid_field" // "stream" or a token limit of the wrong type

	// The MCP plane.
	CodeInvalidJSONRPC  = "invalid_jsonrpc"   // not a valid JSON-RPC 2.0 message for MCP
	CodeEmptyBatch      = "empty_batch"       // a batch with no message
	CodeBatchTooLarge   = "batch_too_large"   // more messages than one check may carry
	CodeInvalidToolCall = "invalid_tool_call" // tools/call without a valid name, or arguments not an object
)

// Error is a request synapse denies without asking Cerbos. Code is one of the Code* constants;
// Reason says what was wrong in words the agent (and its model) can act on.
type Error struct {
	Code   string
	Reason string
	err    error
}

func (e *Error) Error() string { return e.Code + ": " + e.Reason }

// Unwrap returns the parser error behind a body denial, if any.
func (e *Error) Unwrap() error { return e.err }

func deny(code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// bodyError turns a strictjson or jsonrpc failure into a denial with the matching code.
func bodyError(err error) *Error {
	code := CodeInvalidJSON
	switch {
	case errors.Is(err, strictjson.ErrInvalidUTF8):
		code = CodeInvalidUTF8
	case errors.Is(err, strictjson.ErrDuplicateKey):
		code = CodeDuplicateKey
	case errors.Is(err, strictjson.ErrCaseVariant):
		code = CodeCaseVariantKey
	case errors.Is(err, strictjson.ErrTooDeep):
		code = CodeJSONTooDeep
	case errors.Is(err, strictjson.ErrTooLarge):
		code = CodeBodyTooLarge
	case errors.Is(err, strictjson.ErrTooComplex):
		code = CodeRequestTooComplex
	case errors.Is(err, jsonrpc.ErrEmptyBatch):
		code = CodeEmptyBatch
	case errors.Is(err, jsonrpc.ErrBatchTooLarge):
		code = CodeBatchTooLarge
	case errors.Is(err, jsonrpc.ErrInvalid):
		code = CodeInvalidJSONRPC
	}
	return &Error{Code: code, Reason: "request body: " + err.Error(), err: err}
}

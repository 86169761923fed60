package mapping

import (
	"strings"
	"unicode/utf8"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Defaults of Limits on what one request may carry. The gateway's own body limit (Envoy
// max_request_bytes, agentgateway maxRequestBytes) is normally lower and answers 413 first.
const (
	MaxBodyBytes = 4 << 20 // longest body synapse decodes
	MaxJSONDepth = 64      // deepest JSON nesting (chat tool schemas nest, tool arguments rarely)
	MaxBatch     = 32      // most JSON-RPC messages in one batch, each one Cerbos check
)

// partialBodyHeader is set by Envoy on the check request: "true" when it sent only the first
// max_request_bytes of the body (allow_partial_message). Envoy drops the client's own copy.
const partialBodyHeader = "x-envoy-auth-partial-body"

// requiredBody returns the complete request body, or the reason it cannot be trusted to be the
// body the upstream will receive.
//
// Envoy sends raw_body (pack_as_bytes) or body, size = bytes received, and sets
// x-envoy-auth-partial-body. agentgateway sends body (a lossy UTF-8 conversion) or raw_body,
// and size = the body's byte length, or -1 when it was truncated. So the body is complete only
// when no partial flag is set, size is not -1, and a positive size equals the length. A lossy
// conversion of invalid UTF-8 is refused by bodyBytes: it does not always change the length.
func requiredBody(h *authv3.AttributeContext_HttpRequest, hdrs headers, maxBytes int) ([]byte, *Error) {
	data, err := bodyBytes(h)
	if err != nil {
		return nil, err
	}
	if v, n := hdrs.get(partialBodyHeader); n > 1 || (n == 1 && v != "false") {
		return nil, deny(CodeBodyPartial, "the gateway sent only part of the request body; raise its body limit or send less")
	}
	switch size := h.GetSize(); {
	case size == -1:
		return nil, deny(CodeBodyPartial, "the gateway did not send the whole request body (size -1)")
	case size < -1 || (size > 0 && size != int64(len(data))):
		return nil, deny(CodeBodySizeMismatch, "the request body is %d bytes but the gateway reports %d", len(data), size)
	}
	if len(data) == 0 {
		return nil, deny(CodeBodyMissing, "the request has no body; the gateway must send it (include the request body in ext_authz)")
	}
	if len(data) > maxBytes {
		return nil, deny(CodeBodyTooLarge, "the request body is larger than %d bytes", maxBytes)
	}
	return data, nil
}

// noBody refuses a body on a request that should have none (GET, DELETE): the upstream might
// act on bytes no one authorized.
func noBody(h *authv3.AttributeContext_HttpRequest) *Error {
	data, err := bodyBytes(h)
	if err != nil {
		return err
	}
	if len(data) > 0 {
		return deny(CodeBodyUnexpected, "a %s request must not carry a body", clip(h.GetMethod()))
	}
	return nil
}

func bodyBytes(h *authv3.AttributeContext_HttpRequest) ([]byte, *Error) {
	raw, str := h.GetRawBody(), h.GetBody()
	switch {
	case len(raw) > 0 && str != "":
		return nil, deny(CodeBodyAmbiguous, "the gateway sent both body and raw_body")
	case len(raw) > 0:
		return raw, nil
	case strings.ContainsRune(str, utf8.RuneError):
		// The string field is a lossy UTF-8 conversion: U+FFFD may stand for bytes the upstream
		// will receive and synapse never saw. A 3-byte invalid sequence (a truncated 4-byte
		// character) becomes one 3-byte U+FFFD, so the size comparison cannot catch it.
		return nil, deny(CodeInvalidUTF8, "the gateway sent the body as text containing U+FFFD, which may replace bytes the upstream receives; configure it to send raw bytes (pack_as_bytes / packAsBytes)")
	default:
		return []byte(str), nil
	}
}

package mapping

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// headers reads request headers from whichever form the gateway used: the headers map (Envoy
// by default, agentgateway, with repeated headers joined by ", "), or header_map (Envoy with
// encode_raw_headers, one entry per header line, raw_value instead of value).
type headers struct {
	m    map[string]string
	list []*corev3.HeaderValue
}

func headersOf(h *authv3.AttributeContext_HttpRequest) headers {
	if len(h.GetHeaders()) > 0 {
		return headers{m: h.GetHeaders()}
	}
	return headers{list: h.GetHeaderMap().GetHeaders()}
}

// get returns the value of the header name (lower case) and how many times it was sent. Names
// are compared without regard to case: Envoy and agentgateway send them lower-cased, but a
// header that arrived twice under two spellings must still count twice.
func (h headers) get(name string) (value string, n int) {
	for k, v := range h.m {
		if strings.EqualFold(k, name) {
			value, n = v, n+1
		}
	}
	for _, hv := range h.list {
		if strings.EqualFold(hv.GetKey(), name) {
			value, n = hv.GetValue(), n+1
			if raw := hv.GetRawValue(); len(raw) > 0 {
				value = string(raw)
			}
		}
	}
	return value, n
}

// bearerToken returns the token of the one Authorization header, "" when there is none. Two
// Authorization headers, or one holding anything but "Bearer <token68>", are refused rather than
// parsed: a gateway joins repeated headers with ", ", and no single reading of that is safe.
func bearerToken(h headers) (string, *Error) {
	value, n := h.get("authorization")
	switch {
	case n == 0:
		return "", nil
	case n > 1:
		return "", deny(CodeInvalidAuthorization, "the request has more than one Authorization header")
	}
	const scheme = "bearer "
	if len(value) <= len(scheme) || !strings.EqualFold(value[:len(scheme)], scheme) {
		return "", deny(CodeInvalidAuthorization, "the Authorization header must be \"Bearer <token>\"")
	}
	token := value[len(scheme):]
	if !isToken68(token) {
		return "", deny(CodeInvalidAuthorization, "the Authorization header must hold exactly one bearer token")
	}
	return token, nil
}

// isToken68 reports whether s is an RFC 7235 token68, the syntax of a bearer token (a JWT is
// one): no spaces, no commas, padding only at the end.
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// refuseUpgrade refuses a request that asks to switch protocols (Upgrade: websocket, h2c).
// ext_authz sees only the request that asks: once the upstream answers 101, everything after it
// passes the gateway as a tunnel no one checks. Neither MCP's streamable HTTP nor the model APIs
// upgrade, and Istio's routes allow WebSocket upgrades by default, so synapse refuses them all.
func refuseUpgrade(h headers) *Error {
	if _, n := h.get("upgrade"); n > 0 {
		return deny(CodeUpgradeNotAllowed, "protocol upgrades are refused: nothing sent after an upgrade would be checked")
	}
	return nil
}

// checkJSONContent refuses a body the upstream would not read as plain JSON: a content type other
// than application/json (with at most a UTF-8 charset), or any content encoding but identity.
func checkJSONContent(h headers) *Error {
	ct, n := h.get("content-type")
	if n != 1 || !isJSONMediaType(ct) {
		return deny(CodeUnsupportedContentType, "the request body must be sent as application/json")
	}
	if ce, n := h.get("content-encoding"); n > 1 || (n == 1 && !strings.EqualFold(strings.TrimSpace(ce), "identity")) {
		return deny(CodeUnsupportedContentEncoding, "the request body must not be compressed or otherwise encoded")
	}
	return nil
}

func isJSONMediaType(v string) bool {
	media, params, _ := strings.Cut(v, ";")
	if !strings.EqualFold(strings.TrimSpace(media), "application/json") {
		return false
	}
	for params = strings.TrimSpace(params); params != ""; {
		var param string
		param, params, _ = strings.Cut(params, ";")
		name, value, ok := strings.Cut(strings.TrimSpace(param), "=")
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "charset") || !strings.EqualFold(value, "utf-8") {
			return false
		}
		params = strings.TrimSpace(params)
	}
	return true
}

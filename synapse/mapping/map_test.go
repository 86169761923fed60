package mapping

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ping = `{"jsonrpc":"2.0","id":1,"method":"ping"}`

func TestMapRouteResource(t *testing.T) {
	tests := []struct {
		name     string
		gateway  gateway
		req      request
		resource string
	}{
		{"context extension names the route", envoy, mcp("payroll", ping), "mcp:payroll"},
		{"context extension wins over a path the table does not know", agentgateway,
			post("mcp:crm", "/gateway/crm", ping), "mcp:crm"},
		{"route table when the gateway sends no context", istio, mcp("tickets", ping), "mcp:tickets"},
		{"route table prefix for the model route", istio, chat(`{"model":"gpt-4o"}`), "llm"},
		{"route table ignores the query", istio, post("", "/mcp/payments?session=1", ping), "mcp:payments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(tt.req.build(tt.gateway), testRoutes)
			require.NoError(t, err)
			assert.Equal(t, tt.resource, in.Resource)
			for _, c := range in.Checks {
				assert.Equal(t, tt.resource, c.Kind)
			}
		})
	}
}

func TestMapRouteRefusals(t *testing.T) {
	tests := []struct {
		name    string
		gateway gateway
		req     request
		code    string
	}{
		{"no context and no route", istio, post("", "/mcp/hr", ping), CodeUnknownRoute},
		{"context and table disagree", envoy, post("mcp:tickets", "/mcp/payroll", ping), CodeRouteConflict},
		{"resource with an upper-case server", envoy, post("mcp:Payroll", "/x", ping), CodeInvalidResource},
		{"resource with no server", envoy, post("mcp:", "/x", ping), CodeInvalidResource},
		{"resource with a space", envoy, post("mcp:pay roll", "/x", ping), CodeInvalidResource},
		{"resource starting with a digit", envoy, post("mcp:1payroll", "/x", ping), CodeInvalidResource},
		{"resource of another kind", envoy, post("llm2", "/x", ping), CodeInvalidResource},
		{"resource upper-case llm", envoy, post("LLM", "/x", ping), CodeInvalidResource},
		{"dot-dot to another server", istio, post("", "/mcp/payments/../payroll", ping), CodeInvalidPath},
		{"dot-dot under a context route too", envoy, post("mcp:payments", "/mcp/payments/../payroll", ping), CodeInvalidPath},
		{"dot segment", istio, post("", "/mcp/./payroll", ping), CodeInvalidPath},
		{"double slash", istio, post("", "//mcp/payments", ping), CodeInvalidPath},
		{"inner double slash", istio, post("", "/mcp//payroll", ping), CodeInvalidPath},
		{"percent-encoded letter", istio, post("", "/mcp/%70ayroll", ping), CodeInvalidPath},
		{"percent-encoded slash", istio, post("", "/mcp%2Fpayroll", ping), CodeInvalidPath},
		{"backslash", istio, post("", "/mcp/payments\\..\\payroll", ping), CodeInvalidPath},
		{"matrix parameter", istio, post("", "/mcp/payments;x=1", ping), CodeInvalidPath},
		{"upper case", istio, post("", "/MCP/payroll", ping), CodeUnknownRoute},
		{"trailing slash", istio, post("", "/mcp/payroll/", ping), CodeUnknownRoute},
		{"below an exact route", istio, post("", "/mcp/payroll/x", ping), CodeUnknownRoute},
		{"longer name", istio, post("", "/mcp/payrollx", ping), CodeUnknownRoute},
		{"relative path", istio, post("", "mcp/payroll", ping), CodeInvalidPath},
		{"empty path", istio, post("", "", ping), CodeInvalidPath},
		{"absolute URI", istio, post("", "http://evil/mcp/payroll", ping), CodeInvalidPath},
		{"non-ASCII path", istio, post("", "/mcp/pаyroll", ping), CodeInvalidPath},
		{"space in the query", envoy, post("mcp:payroll", "/mcp/payroll?a=b c", ping), CodeInvalidPath},
		{"fragment", envoy, post("mcp:payroll", "/mcp/payroll#x", ping), CodeInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(tt.req.build(tt.gateway), testRoutes)
			assertRefused(t, in, err, tt.code)
		})
	}
}

func TestMapMissingHTTP(t *testing.T) {
	for name, req := range map[string]*authv3.CheckRequest{
		"nil request":        nil,
		"no attributes":      {},
		"no request":         {Attributes: &authv3.AttributeContext{}},
		"no HTTP attributes": {Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}},
	} {
		t.Run(name, func(t *testing.T) {
			in, err := Map(req, testRoutes)
			assertRefused(t, in, err, CodeMissingHTTP)
			assert.Equal(t, PlaneUnknown, in.Plane)
		})
	}
}

func TestMapToken(t *testing.T) {
	tests := []struct {
		name    string
		gateway gateway
		req     *authv3.CheckRequest
		want    string
	}{
		{"bearer token", envoy, mcp("crm", ping).build(envoy), testToken},
		{"scheme in lower case", envoy, mcp("crm", ping, "authorization", "bearer abc.def").build(envoy), "abc.def"},
		{"token68 padding", agentgateway, mcp("crm", ping, "authorization", "Bearer YWJj==").build(agentgateway), "YWJj=="},
		{"no Authorization header", envoy, mcp("crm", ping, "authorization", "-").build(envoy), ""},
		{"raw header map", envoy, withRawHeaders(mcp("crm", ping).build(envoy)), testToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(tt.req, testRoutes)
			require.NoError(t, err)
			assert.Equal(t, tt.want, in.Token)
		})
	}
}

func TestMapTokenRefusals(t *testing.T) {
	twoSpellings := mcp("crm", ping).build(envoy)
	twoSpellings.Attributes.Request.Http.Headers["Authorization"] = "Bearer other"
	tests := []struct {
		name string
		req  *authv3.CheckRequest
	}{
		{"two headers joined by agentgateway", mcp("crm", ping, "authorization", "Bearer a.b.c", "authorization", "Bearer d.e.f").build(agentgateway)},
		{"two headers joined by Envoy", mcp("crm", ping, "authorization", "Bearer a.b.c", "authorization", "Bearer d.e.f").build(envoy)},
		{"two raw header entries", withRawHeaders(mcp("crm", ping).build(envoy), "authorization", "Bearer d.e.f")},
		{"two spellings of the header", twoSpellings},
		{"comma inside", mcp("crm", ping, "authorization", "Bearer a.b.c,d").build(envoy)},
		{"basic scheme", mcp("crm", ping, "authorization", "Basic YWxpY2U6c2VjcmV0").build(envoy)},
		{"bare token", mcp("crm", ping, "authorization", testToken).build(envoy)},
		{"scheme only", mcp("crm", ping, "authorization", "Bearer ").build(envoy)},
		{"two spaces", mcp("crm", ping, "authorization", "Bearer  "+testToken).build(envoy)},
		{"trailing space", mcp("crm", ping, "authorization", "Bearer "+testToken+" ").build(envoy)},
		{"padding only", mcp("crm", ping, "authorization", "Bearer ===").build(envoy)},
		{"padding inside", mcp("crm", ping, "authorization", "Bearer ab=c").build(envoy)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(tt.req, testRoutes)
			assertRefused(t, in, err, CodeInvalidAuthorization)
			assert.Equal(t, "mcp:crm", in.Resource)
			require.Len(t, in.Messages, 1, "a token refusal still knows the message")
			assert.Equal(t, raw("1"), in.Messages[0].ID)
		})
	}
}

func TestMapBodyIntegrity(t *testing.T) {
	body := toolCallBody(1, "refund_issue", `{"amount_cents":4000}`)
	withHTTP := func(g gateway, edit func(h *authv3.AttributeContext_HttpRequest)) *authv3.CheckRequest {
		req := mcp("payments", body).build(g)
		edit(req.Attributes.Request.Http)
		return req
	}
	tests := []struct {
		name string
		req  *authv3.CheckRequest
		code string
	}{
		{"Envoy sent part of the body", withHTTP(envoy, func(h *authv3.AttributeContext_HttpRequest) {
			h.Headers[partialBodyHeader] = "true"
			h.RawBody = h.RawBody[:20]
		}), CodeBodyPartial},
		{"partial-body header repeated", withHTTP(envoy, func(h *authv3.AttributeContext_HttpRequest) {
			h.Headers[partialBodyHeader] = "false,true"
		}), CodeBodyPartial},
		{"Envoy received more than it sent", withHTTP(envoy, func(h *authv3.AttributeContext_HttpRequest) {
			h.Size = int64(len(body) + 100)
		}), CodeBodySizeMismatch},
		{"agentgateway truncated the body", withHTTP(agentgateway, func(h *authv3.AttributeContext_HttpRequest) {
			h.Size = -1
			h.Body = h.Body[:20]
		}), CodeBodyPartial},
		{"agentgateway replaced invalid UTF-8", withHTTP(agentgateway, func(h *authv3.AttributeContext_HttpRequest) {
			// The client sent the byte 0xff in a string; agentgateway's lossy conversion turned it
			// into U+FFFD (3 bytes) and reported the original size.
			h.Body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund_issue","arguments":{"reason":"` + "\ufffd" + `"}}}`
			h.Size = int64(len(h.Body) - 2)
		}), CodeInvalidUTF8},
		{"agentgateway replaced invalid UTF-8 without changing the length", withHTTP(agentgateway, func(h *authv3.AttributeContext_HttpRequest) {
			// The client sent the ticket "T-1001\xf0\x9f\x98" (a truncated 4-byte character): one
			// U+FFFD, also 3 bytes, so the reported size matches what synapse received.
			h.Body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund_issue","arguments":{"ticket_id":"T-1001` + "\ufffd" + `"}}}`
			h.Size = int64(len(h.Body))
		}), CodeInvalidUTF8},
		{"invalid UTF-8 in raw_body", withHTTP(envoy, func(h *authv3.AttributeContext_HttpRequest) {
			h.RawBody = []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund_issue","arguments":{"reason":"` + "\xff" + `"}}}`)
			h.Size = int64(len(h.RawBody))
		}), CodeInvalidUTF8},
		{"size below -1", withHTTP(envoy, func(h *authv3.AttributeContext_HttpRequest) {
			h.Size = -2
		}), CodeBodySizeMismatch},
		{"both body fields", withHTTP(envoy, func(h *authv3.AttributeContext_HttpRequest) {
			h.Body = `{"jsonrpc":"2.0","id":1,"method":"ping"}`
		}), CodeBodyAmbiguous},
		{"gateway not configured to send the body", withHTTP(envoy, func(h *authv3.AttributeContext_HttpRequest) {
			h.RawBody, h.Size = nil, 0 // Envoy checks at the headers: nothing received yet
			delete(h.Headers, partialBodyHeader)
		}), CodeBodyMissing},
		{"body over the limit", withHTTP(envoy, func(h *authv3.AttributeContext_HttpRequest) {
			h.RawBody = make([]byte, MaxBodyBytes+1)
			h.Size = int64(len(h.RawBody))
		}), CodeBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Map(tt.req, testRoutes)
			assertRefused(t, in, err, tt.code)
		})
	}
}

func TestMapBodyIntegrityAccepts(t *testing.T) {
	// Envoy with the partial-body header "false" and size equal to the body is the normal case,
	// already covered; a size of 0 (a gateway that does not report it) is accepted as unknown.
	req := mcp("payments", ping).build(envoy)
	req.Attributes.Request.Http.Size = 0
	_, err := Map(req, testRoutes)
	require.NoError(t, err)
}

func TestRouteTable(t *testing.T) {
	lookups := map[string]string{
		"/v1/chat/completions":        "llm",
		"/v1/":                        "llm",
		"/mcp/payments":               "mcp:payments",
		"/mcp/payments?x=1":           "mcp:payments",
		"/mcp/payments/":              "",
		"/mcp/payments/../payroll":    "",
		"/v1":                         "",
		"/v1/../mcp/payroll":          "",
		"/v1/chat/completions%3Fx=1":  "",
		"/mcp/payroll/../../v1/chat/": "",
	}
	for path, want := range lookups {
		got, ok := testRoutes.Lookup(path)
		assert.Equal(t, want != "", ok, path)
		assert.Equal(t, want, got, path)
	}

	longest := RouteTable{{PathPrefix: "/a/", Resource: "llm"}, {PathPrefix: "/a/b/", Resource: "mcp:b"}}
	got, _ := longest.Lookup("/a/b/c")
	assert.Equal(t, "mcp:b", got, "the longest prefix wins")
	got, _ = longest.Lookup("/a/c")
	assert.Equal(t, "llm", got)

	require.NoError(t, testRoutes.Validate())
	for name, table := range map[string]RouteTable{
		"relative prefix":  {{PathPrefix: "mcp/x", Resource: "mcp:x"}},
		"dot segment":      {{PathPrefix: "/mcp/../x", Resource: "mcp:x"}},
		"percent-encoding": {{PathPrefix: "/mcp/%78", Resource: "mcp:x"}},
		"bad resource":     {{PathPrefix: "/mcp/x", Resource: "mcp:X"}},
		"listed twice":     {{PathPrefix: "/mcp/x", Resource: "mcp:x"}, {PathPrefix: "/mcp/x", Resource: "mcp:y"}},
	} {
		assert.Error(t, table.Validate(), name)
	}
}

func TestParseResource(t *testing.T) {
	plane, server, err := ParseResource("mcp:payments")
	require.NoError(t, err)
	assert.Equal(t, PlaneMCP, plane)
	assert.Equal(t, "payments", server)

	plane, server, err = ParseResource("llm")
	require.NoError(t, err)
	assert.Equal(t, PlaneModel, plane)
	assert.Empty(t, server)

	_, _, err = ParseResource("mcp:pay/roll")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, CodeInvalidResource, e.Code)
}

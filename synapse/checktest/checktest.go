// Package checktest builds ext_authz CheckRequests shaped exactly as each
// gateway sends them, and the request bodies of the demo, for tests.
package checktest

import (
	"encoding/json"
	"strconv"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Gateway builds a CheckRequest the way one gateway sends it. resource is
// what the gateway's route config says (ignored by Istio, which sends none);
// token is the bearer token ("" for none).
type Gateway struct {
	Name  string
	Build func(resource, method, path, token, body string) *authv3.CheckRequest
}

// Gateways are the shapes that carry the route's resource in context
// extensions; Istio (route table only) is separate.
var Gateways = []Gateway{
	{"envoy", Envoy},
	{"agentgateway", Agentgateway},
	{"agentgateway without packAsBytes", AgentgatewayText},
}

// Envoy is what Envoy 1.40's ext_authz filter sends with
// with_request_body{pack_as_bytes: true} and a per-route context extension:
// pseudo-headers in the headers map, the body as raw_body.
func Envoy(resource, method, path, token, body string) *authv3.CheckRequest {
	headers := map[string]string{
		":authority":        "127.0.0.1:10000",
		":method":           method,
		":path":             path,
		":scheme":           "http",
		"user-agent":        "Go-http-client/1.1",
		"x-forwarded-proto": "http",
		"x-request-id":      "8f0c4c1e-7a0b-4a39-9a43-0c8b0d5f3c11",
	}
	addCommon(headers, token, body)
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1234567890", Method: method, Headers: headers, Path: path, Host: "127.0.0.1:10000",
			Scheme: "http", Protocol: "HTTP/1.1", Size: int64(len(body)), RawBody: []byte(body),
		}},
		ContextExtensions: map[string]string{"resource": resource},
	}}
}

// Agentgateway is what agentgateway v1.4.1 sends with hopguard's config
// (includeRequestBody{packAsBytes: true}, protocol.grpc.context), as seen from
// a binary built from its source: pseudo-headers in the headers map, the
// body as raw_body, size its length, the traceparent as id.
func Agentgateway(resource, method, path, token, body string) *authv3.CheckRequest {
	headers := map[string]string{
		":method":     method,
		":scheme":     "http",
		":authority":  "127.0.0.1:3000",
		":path":       path,
		"user-agent":  "mcp-go/1.2.1",
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	addCommon(headers, token, body)
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Method: method, Headers: headers,
			Path: path, Host: "127.0.0.1:3000", Scheme: "http", Protocol: "HTTP/1.1",
			Size: int64(len(body)), RawBody: []byte(body),
		}},
		ContextExtensions: map[string]string{"resource": resource},
	}}
}

// AgentgatewayText is agentgateway without packAsBytes: the body as a lossy
// UTF-8 string in body instead of raw_body.
func AgentgatewayText(resource, method, path, token, body string) *authv3.CheckRequest {
	req := Agentgateway(resource, method, path, token, body)
	h := req.Attributes.Request.Http
	h.Body, h.RawBody = string(h.RawBody), nil
	return req
}

func addCommon(headers map[string]string, token, body string) {
	if token != "" {
		headers["authorization"] = "Bearer " + token
	}
	if body != "" {
		headers["content-type"] = "application/json"
		headers["content-length"] = strconv.Itoa(len(body))
		headers["accept"] = "application/json, text/event-stream"
	}
}

// ChatBody is an OpenAI chat completion request for model.
func ChatBody(model string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
}

// ToolCallBody is an MCP tools/call request.
func ToolCallBody(t testing.TB, id int, tool string, args map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": id, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": args},
	})
	if err != nil {
		t.Fatalf("encode tools/call body: %v", err)
	}
	return string(b)
}

// InitializeBody is an MCP initialize request.
const InitializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"triage","version":"1"}}}`

// Istio is what an Istio ingress gateway's ext_authz filter sends: Envoy's
// shape without context extensions, so synapse's route table must name the
// resource. resource is ignored.
func Istio(_, method, path, token, body string) *authv3.CheckRequest {
	req := Envoy("", method, path, token, body)
	req.Attributes.ContextExtensions = nil
	return req
}

package mapping

import (
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// gateway is the shape in which a gateway sends a CheckRequest.
type gateway string

const (
	// envoy: with_request_body{pack_as_bytes: true}: raw_body, lower-case header keys, repeated
	// headers merged with ",", x-envoy-auth-partial-body set, size = bytes received, the path
	// with its query, context_extensions from ExtAuthzPerRoute.
	envoy gateway = "envoy"
	// agentgateway v1.4.1: body as a UTF-8 string, pseudo-headers in the map, repeated headers
	// joined with ", ", size = the body's length, the path with its query, context_extensions
	// from extAuthz.protocol.grpc.context.
	agentgateway gateway = "agentgateway"
	// istio: Envoy's shape without context_extensions; synapse's route table decides.
	istio gateway = "istio"
)

var gateways = []gateway{envoy, agentgateway, istio}

const testToken = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"

// testRoutes is the route table an Istio deployment of the demo would configure.
var testRoutes = RouteTable{
	{PathPrefix: "/v1/", Resource: "llm"},
	{PathPrefix: "/mcp/tickets", Resource: "mcp:tickets"},
	{PathPrefix: "/mcp/crm", Resource: "mcp:crm"},
	{PathPrefix: "/mcp/payments", Resource: "mcp:payments"},
	{PathPrefix: "/mcp/payroll", Resource: "mcp:payroll"},
}

// request describes a client request; build turns it into a gateway's CheckRequest.
type request struct {
	method, path string
	resource     string   // the route's context extension; ignored for istio
	body         string   // "" for none
	headers      []string // name, value pairs added to (or, with value "-", removed from) the defaults
}

func (r request) build(g gateway) *authv3.CheckRequest {
	hdrs := map[string][]string{
		"authorization": {"Bearer " + testToken},
		"user-agent":    {"hopguard-test"},
	}
	if r.method == "POST" {
		hdrs["content-type"] = []string{"application/json"}
	}
	for i := 0; i+1 < len(r.headers); i += 2 {
		name := strings.ToLower(r.headers[i])
		if r.headers[i+1] == "-" {
			delete(hdrs, name)
			continue
		}
		if _, isDefault := hdrs[name]; isDefault && !repeated(r.headers, name, i) {
			hdrs[name] = nil // the first value given replaces the default, later ones join it
		}
		hdrs[name] = append(hdrs[name], r.headers[i+1])
	}
	h := &authv3.AttributeContext_HttpRequest{
		Id:       "1",
		Method:   r.method,
		Path:     r.path,
		Host:     "gateway.local",
		Scheme:   "http",
		Protocol: "HTTP/1.1",
		Headers:  map[string]string{},
		Size:     int64(len(r.body)),
	}
	sep := ","
	switch g {
	case agentgateway:
		sep = ", "
		h.Body = r.body
		h.Headers[":method"] = r.method
		h.Headers[":path"] = r.path
		h.Headers[":authority"] = "gateway.local"
		h.Headers[":scheme"] = "http"
	default:
		h.RawBody = []byte(r.body)
		if r.body != "" {
			h.Headers[partialBodyHeader] = "false"
		}
	}
	for name, values := range hdrs {
		h.Headers[name] = strings.Join(values, sep)
	}
	attrs := &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: h}}
	if g != istio && r.resource != "" {
		attrs.ContextExtensions = map[string]string{"resource": r.resource}
	}
	return &authv3.CheckRequest{Attributes: attrs}
}

// repeated reports whether name already appeared before index i, so that a second value joins
// the first instead of replacing the default again.
func repeated(pairs []string, name string, i int) bool {
	for j := 0; j < i; j += 2 {
		if strings.EqualFold(pairs[j], name) {
			return true
		}
	}
	return false
}

// withRawHeaders moves the headers of an Envoy CheckRequest into header_map, one entry per
// value, as Envoy does with encode_raw_headers.
func withRawHeaders(req *authv3.CheckRequest, extra ...string) *authv3.CheckRequest {
	h := req.GetAttributes().GetRequest().GetHttp()
	var list []*corev3.HeaderValue
	for k, v := range h.Headers {
		list = append(list, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	for i := 0; i+1 < len(extra); i += 2 {
		list = append(list, &corev3.HeaderValue{Key: extra[i], RawValue: []byte(extra[i+1])})
	}
	h.Headers = nil
	h.HeaderMap = &corev3.HeaderMap{Headers: list}
	return req
}

func post(resource, path, body string, headers ...string) request {
	return request{method: "POST", path: path, resource: resource, body: body, headers: headers}
}

func chat(body string, headers ...string) request {
	return post("llm", "/v1/chat/completions", body, headers...)
}

func mcp(server, body string, headers ...string) request {
	return post("mcp:"+server, "/mcp/"+server, body, headers...)
}

func toolCallBody(id int, tool, args string) string {
	return `{"jsonrpc":"2.0","id":` + strconv.Itoa(id) + `,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
}

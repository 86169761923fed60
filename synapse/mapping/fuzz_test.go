package mapping

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// upstreamBody is how Go upstreams read what synapse checked: encoding/json, keys matched
// without regard to case, duplicates resolved to the last.
type upstreamBody struct {
	Model  string `json:"model"`
	Method string `json:"method"`
	Params struct {
		Name string `json:"name"`
	} `json:"params"`
}

// FuzzMap feeds Map hostile requests in the shapes gateways send. Map must never panic; when it
// refuses, it says why with a code; when it accepts, every check is well formed, Cerbos can
// encode its attributes, and a Go upstream reads the same model, method and tool that the checks
// name (so what synapse authorizes is what the upstream does).
func FuzzMap(f *testing.F) {
	seeds := []struct {
		shape                                    uint8
		method, path, resource, auth, contentTyp string
		body                                     string
		size                                     int64
	}{
		{0, "POST", "/v1/chat/completions", "llm", "Bearer a.b.c", "application/json", `{"model":"gpt-4o-mini","messages":[]}`, -2},
		{1, "POST", "/mcp/payments", "mcp:payments", "Bearer a.b.c", "application/json", toolCallBody(1, "refund_issue", `{"ticket_id":"T-1001","amount_cents":900000}`), -2},
		{2, "POST", "/mcp/payments", "", "Bearer a.b.c", "application/json", `[{"jsonrpc":"2.0","id":1,"method":"ping"},` + toolCallBody(2, "refund_issue", `{"amount_cents":1e400}`) + `]`, -2},
		{0, "POST", "/mcp/payroll", "mcp:payroll", "Bearer a, Bearer b", "application/json", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}`, -2},
		{1, "POST", "/v1/chat/completions", "llm", "", "application/json", `{"model":"gpt-4o-mini","Model":"gpt-4o"}`, -1},
		{2, "GET", "/mcp/payments/../payroll", "", "Bearer x", "", "", 0},
		{0, "DELETE", "/mcp/crm", "mcp:crm", "Bearer x", "", "", 0},
		{1, "POST", "/mcp/tickets", "mcp:tickets", "Bearer x", "application/json", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund\u005fissue","arguments":{"amount_cents":"9000"}}}`, 7},
		{0, "POST", "/v1/messages", "llm", "Bearer x", "application/json; charset=utf-8", `{"model":"claude","max_tokens":9007199254740993}`, -2},
		// A truncated 4-byte character: the lossy string is one U+FFFD of the same length.
		{1, "POST", "/v1/chat/completions", "llm", "Bearer x", "application/json", "{\"model\":\"gpt-4o\xf0\x9f\x98\",\"messages\":[]}", -2},
	}
	for _, s := range seeds {
		f.Add(s.shape, s.method, s.path, s.resource, s.auth, s.contentTyp, []byte(s.body), s.size)
	}
	f.Fuzz(func(t *testing.T, shape uint8, method, path, resource, auth, contentType string, body []byte, size int64) {
		req := fuzzRequest(shape, method, path, resource, auth, contentType, body, size)
		in, err := Map(req, testRoutes)
		if in == nil {
			t.Fatal("Map returned a nil Input")
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" || e.Reason == "" {
				t.Fatalf("refusal without a code and reason: %#v", err)
			}
			if in.Checks != nil {
				t.Fatalf("refusal %v with checks", err)
			}
			return
		}
		checkInput(t, in, body)
	})
}

// fuzzRequest builds a CheckRequest in one of three gateway shapes. size < -1 means "the
// gateway reports the true size", so most inputs get past the integrity checks.
func fuzzRequest(shape uint8, method, path, resource, auth, contentType string, body []byte, size int64) *authv3.CheckRequest {
	h := &authv3.AttributeContext_HttpRequest{Method: method, Path: path, Headers: map[string]string{}, Size: size}
	if size < -1 {
		h.Size = int64(len(body))
	}
	if auth != "" {
		h.Headers["authorization"] = auth
	}
	if contentType != "" {
		h.Headers["content-type"] = contentType
	}
	attrs := &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: h}}
	switch shape % 3 {
	case 0: // Envoy
		h.RawBody = body
		h.Headers[partialBodyHeader] = "false"
		attrs.ContextExtensions = map[string]string{"resource": resource}
	case 1: // agentgateway (or Envoy) without packAsBytes: a lossy UTF-8 string, the original size
		h.Body = strings.ToValidUTF8(string(body), "\ufffd")
		attrs.ContextExtensions = map[string]string{"resource": resource}
	case 2: // Istio: no context extensions
		h.RawBody = body
	}
	return &authv3.CheckRequest{Attributes: attrs}
}

func checkInput(t *testing.T, in *Input, body []byte) {
	t.Helper()
	if len(in.Checks) == 0 {
		t.Fatal("accepted without checks")
	}
	if in.Plane == PlaneMCP && in.Checks[0].Action != ActionStream && in.Checks[0].Action != ActionSessionDelete {
		checkUpstreamAgrees(t, in, body)
	}
	for _, c := range in.Checks {
		if c.Kind != in.Resource || c.ID == "" || c.Action == "" {
			t.Fatalf("malformed check %+v for resource %q", c, in.Resource)
		}
		if c.Kind != ResourceLLM && !strings.HasPrefix(c.Kind, MCPResourcePrefix) {
			t.Fatalf("check kind %q", c.Kind)
		}
		if _, err := structpb.NewStruct(c.Attr); err != nil {
			t.Fatalf("attributes Cerbos cannot encode: %v", err)
		}
		if (c.MCP == nil) != (in.Plane == PlaneModel) {
			t.Fatalf("check %+v on plane %v", c, in.Plane)
		}
		if tool, ok := strings.CutPrefix(c.Action, ActionToolsCallPrefix); ok {
			server := strings.TrimPrefix(in.Resource, MCPResourcePrefix)
			if c.MCP.Tool != tool || c.ID != server+"/"+tool || c.Attr["tool"] != tool {
				t.Fatalf("tool call check %+v names two tools", c)
			}
			if _, ok := c.Attr["arguments"].(map[string]any); !ok {
				t.Fatalf("tool call arguments %T", c.Attr["arguments"])
			}
		}
		if in.Plane == PlaneModel && c.Action != ActionListModels {
			var up upstreamBody
			if err := json.Unmarshal(body, &up); err != nil || up.Model != c.ID {
				t.Fatalf("synapse checks model %q, a Go upstream reads %q (%v)", c.ID, up.Model, err)
			}
		}
	}
}

// checkUpstreamAgrees decodes an accepted MCP body as a Go server would and compares each
// message's method and tool with the checks.
func checkUpstreamAgrees(t *testing.T, in *Input, body []byte) {
	t.Helper()
	var msgs []upstreamBody
	if in.Batch {
		if err := json.Unmarshal(body, &msgs); err != nil {
			t.Fatalf("a Go upstream cannot read an accepted batch: %v", err)
		}
	} else {
		var one upstreamBody
		if err := json.Unmarshal(body, &one); err != nil {
			t.Fatalf("a Go upstream cannot read an accepted message: %v", err)
		}
		msgs = []upstreamBody{one}
	}
	if len(msgs) != len(in.Checks) || len(msgs) != len(in.Messages) {
		t.Fatalf("%d messages upstream, %d checks, %d messages", len(msgs), len(in.Checks), len(in.Messages))
	}
	for i, up := range msgs {
		c := in.Checks[i]
		if up.Method != c.MCP.Method {
			t.Fatalf("message %d: synapse checks method %q, a Go upstream runs %q", i, c.MCP.Method, up.Method)
		}
		if up.Method == MethodToolsCall && up.Params.Name != c.MCP.Tool {
			t.Fatalf("message %d: synapse checks tool %q, a Go upstream runs %q", i, c.MCP.Tool, up.Params.Name)
		}
	}
}

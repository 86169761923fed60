package respond

import (
	"encoding/json"
	"math"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/synapse/mapping"
)

var overCap = Denial{
	Decision:    "deny",
	Reason:      "refund of 900000 cents exceeds the tier-1 cap of 5000",
	Code:        "refund_over_cap",
	Remediation: map[string]any{"action": "escalate", "to": "tier-2-lead"},
}

func mcpInput(batch bool, msgs ...mapping.MCPMessage) *mapping.Input {
	return &mapping.Input{Resource: "mcp:payments", Plane: mapping.PlaneMCP, Batch: batch, Messages: msgs}
}

// denied unpacks a denial: its HTTP status, headers and body.
func denied(t *testing.T, resp *authv3.CheckResponse) (int, map[string]string, string) {
	t.Helper()
	d := resp.GetDeniedResponse()
	require.NotNil(t, d, "a denial carries a DeniedHttpResponse")
	require.NotNil(t, d.GetStatus(), "the HTTP status is always set")
	headers := map[string]string{}
	for _, h := range d.GetHeaders() {
		headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	assert.True(t, json.Valid([]byte(d.GetBody())), "body is JSON: %s", d.GetBody())
	return int(d.GetStatus().GetCode()), headers, d.GetBody()
}

func TestAllowed(t *testing.T) {
	resp := Allowed("dec-1", Provenance{})
	require.NotNil(t, resp.GetStatus(), "status must be set: agentgateway reads a missing one as OK, Envoy does not")
	assert.Equal(t, int32(codes.OK), resp.GetStatus().GetCode())
	ok := resp.GetOkResponse()
	require.NotNil(t, ok)
	assert.Equal(t, []string{"authorization", "proxy-authorization", "x-api-key", "x-hopguard-grant"}, ok.GetHeadersToRemove(),
		"the agent's credentials, and any grant the client sent")
	require.Len(t, ok.GetHeaders(), 1)
	assert.Equal(t, HeaderDecisionID, ok.GetHeaders()[0].GetHeader().GetKey())
	assert.Equal(t, "dec-1", ok.GetHeaders()[0].GetHeader().GetValue())
	got := map[string]string{}
	for _, h := range ok.GetResponseHeadersToAdd() {
		got[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	assert.Equal(t, map[string]string{HeaderDecision: "allow", HeaderDecisionID: "dec-1"}, got)
}

func TestWithGrant(t *testing.T) {
	resp := Allowed("dec-1", Provenance{})
	WithGrant(resp, "sealed")
	ok := resp.GetOkResponse()
	assert.Equal(t, []string{"authorization", "proxy-authorization", "x-api-key"}, ok.GetHeadersToRemove(),
		"the grant is set, not also removed: a gateway may apply its removals after its sets")
	require.Len(t, ok.GetHeaders(), 2)
	grant := ok.GetHeaders()[1]
	assert.Equal(t, HeaderGrant, grant.GetHeader().GetKey())
	assert.Equal(t, "sealed", grant.GetHeader().GetValue())
	assert.Equal(t, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, grant.GetAppendAction(), "over the client's copy")

	denied := Denied(nil, overCap, "dec-2", Provenance{})
	WithGrant(denied, "sealed")
	assert.Nil(t, denied.GetOkResponse(), "a denial carries no grant")
	for _, h := range denied.GetDeniedResponse().GetHeaders() {
		assert.NotEqual(t, HeaderGrant, h.GetHeader().GetKey())
	}
}

func TestDeniedModel(t *testing.T) {
	in := &mapping.Input{Resource: "llm", Plane: mapping.PlaneModel}
	for name, in := range map[string]*mapping.Input{"model plane": in, "no input": nil, "unknown route": {}} {
		t.Run(name, func(t *testing.T) {
			resp := Denied(in, overCap, "dec-2", Provenance{})
			assert.Equal(t, int32(codes.PermissionDenied), resp.GetStatus().GetCode())
			status, headers, body := denied(t, resp)
			assert.Equal(t, 403, status)
			assert.Equal(t, "deny", headers[HeaderDecision])
			assert.Equal(t, "dec-2", headers[HeaderDecisionID])
			assert.Equal(t, "application/json", headers["content-type"])
			assert.Equal(t, "false", headers[HeaderShouldRetry], "a denial is the same denial the next time")
			assert.JSONEq(t, `{"error":{"type":"permission_denied","code":"refund_over_cap",
				"message":"refund of 900000 cents exceeds the tier-1 cap of 5000",
				"hopguard":{"decision":"deny","reason":"refund of 900000 cents exceeds the tier-1 cap of 5000",
					"code":"refund_over_cap","remediation":{"action":"escalate","to":"tier-2-lead"}}}}`, body)
		})
	}
}

// On Anthropic's paths a denial is Anthropic's error: anthropic-sdk-go reads error.type as the
// error's Type() and keeps the body, hopguard's field included, as its raw JSON.
func TestDeniedAnthropic(t *testing.T) {
	anthropic := &mapping.Input{Resource: "llm", Plane: mapping.PlaneModel, Dialect: mapping.DialectAnthropic}
	tests := []struct {
		name string
		d    Denial
		kind string
	}{
		{"a policy denial", overCap, "permission_error"},
		{"no token", Denial{Reason: "no bearer token", Code: "unauthenticated"}, "authentication_error"},
		{"a token synapse rejects", Denial{Reason: "token expired", Code: "invalid_token"}, "authentication_error"},
		{"a malformed Authorization header", Denial{Reason: "not one bearer token", Code: mapping.CodeInvalidAuthorization}, "authentication_error"},
		{"a request the mapper refused", Denial{Reason: "bad JSON", Code: mapping.CodeInvalidJSON}, "permission_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := Denied(anthropic, tt.d, "dec-6", Provenance{})
			assert.Equal(t, int32(codes.PermissionDenied), resp.GetStatus().GetCode())
			status, headers, body := denied(t, resp)
			assert.Equal(t, 403, status, "403 on every route, authentication failures included")
			assert.Equal(t, "deny", headers[HeaderDecision])
			assert.Equal(t, "dec-6", headers[HeaderDecisionID])
			assert.Equal(t, "false", headers[HeaderShouldRetry])
			assert.Equal(t, "application/json", headers["content-type"])
			want := tt.d
			want.Decision = "deny"
			hopguard, err := json.Marshal(want)
			require.NoError(t, err)
			assert.JSONEq(t, `{"type":"error","error":{"type":"`+tt.kind+`","message":`+jsonString(tt.d.Reason)+`,"hopguard":`+string(hopguard)+`}}`, body)
		})
	}
	t.Run("the OpenAI paths keep OpenAI's shape", func(t *testing.T) {
		openai := &mapping.Input{Resource: "llm", Plane: mapping.PlaneModel, Dialect: mapping.DialectOpenAI}
		_, _, body := denied(t, Denied(openai, Denial{Reason: "no bearer token", Code: "unauthenticated"}, "dec-7", Provenance{}))
		assert.JSONEq(t, `{"error":{"type":"permission_denied","code":"unauthenticated","message":"no bearer token",
			"hopguard":{"decision":"deny","reason":"no bearer token","code":"unauthenticated"}}}`, body)
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestDeniedMCP(t *testing.T) {
	payroll := Denial{Decision: "deny", Reason: "payroll requires payroll-admin", Code: "role_required"}
	payrollJSON := `{"decision":"deny","reason":"payroll requires payroll-admin","code":"role_required"}`
	tests := []struct {
		name   string
		in     *mapping.Input
		status int
		body   string
	}{
		{
			name:   "handshake: an error for its id, the whole reason in the message",
			in:     mcpInput(false, mapping.MCPMessage{Method: "initialize", ID: json.RawMessage(`0`), Handshake: true}),
			status: 200,
			body:   `{"jsonrpc":"2.0","id":0,"error":{"code":-32010,"message":"denied: payroll requires payroll-admin","data":` + payrollJSON + `}}`,
		},
		{
			name:   "server/discover handshake with a string id",
			in:     mcpInput(false, mapping.MCPMessage{Method: "server/discover", ID: json.RawMessage(`"d-1"`), Handshake: true}),
			status: 200,
			body:   `{"jsonrpc":"2.0","id":"d-1","error":{"code":-32010,"message":"denied: payroll requires payroll-admin","data":` + payrollJSON + `}}`,
		},
		{
			name:   "tool call: an isError result the model reads",
			in:     mcpInput(false, mapping.MCPMessage{Method: "tools/call", ID: json.RawMessage(`7`), Tool: "payroll_run"}),
			status: 200,
			body: `{"jsonrpc":"2.0","id":7,"result":{"resultType":"complete","isError":true,
				"content":[{"type":"text","text":"denied: payroll requires payroll-admin\n` + jsonInString(payrollJSON) + `"}],
				"structuredContent":` + payrollJSON + `,"_meta":{"io.hopguard/denial":` + payrollJSON + `}}}`,
		},
		{
			name:   "tools/list: an error",
			in:     mcpInput(false, mapping.MCPMessage{Method: "tools/list", ID: json.RawMessage(`2`)}),
			status: 200,
			body:   `{"jsonrpc":"2.0","id":2,"error":{"code":-32010,"message":"denied: payroll requires payroll-admin","data":` + payrollJSON + `}}`,
		},
		{
			name:   "notification: nothing to answer, 403",
			in:     mcpInput(false, mapping.MCPMessage{Method: "notifications/initialized"}),
			status: 403,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32010,"message":"denied: payroll requires payroll-admin","data":` + payrollJSON + `}}`,
		},
		{
			name:   "GET stream: 403",
			in:     mcpInput(false, mapping.MCPMessage{}),
			status: 403,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32010,"message":"denied: payroll requires payroll-admin","data":` + payrollJSON + `}}`,
		},
		{
			name:   "unreadable body: no messages, 403",
			in:     mcpInput(true),
			status: 403,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32010,"message":"denied: payroll requires payroll-admin","data":` + payrollJSON + `}}`,
		},
		{
			name: "batch: one answer per request, in order, none for notifications",
			in: mcpInput(true,
				mapping.MCPMessage{Method: "ping", ID: json.RawMessage(`1`)},
				mapping.MCPMessage{Method: "notifications/progress"},
				mapping.MCPMessage{Method: "tools/call", ID: json.RawMessage(`"b"`), Tool: "payroll_run"},
			),
			status: 200,
			body: `[{"jsonrpc":"2.0","id":1,"error":{"code":-32010,"message":"denied: payroll requires payroll-admin","data":` + payrollJSON + `}},
				{"jsonrpc":"2.0","id":"b","result":{"resultType":"complete","isError":true,
				"content":[{"type":"text","text":"denied: payroll requires payroll-admin\n` + jsonInString(payrollJSON) + `"}],
				"structuredContent":` + payrollJSON + `,"_meta":{"io.hopguard/denial":` + payrollJSON + `}}}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := Denied(tt.in, payroll, "dec-3", Provenance{})
			assert.Equal(t, int32(codes.PermissionDenied), resp.GetStatus().GetCode())
			status, headers, body := denied(t, resp)
			assert.Equal(t, tt.status, status)
			assert.Equal(t, "deny", headers[HeaderDecision])
			assert.Equal(t, "dec-3", headers[HeaderDecisionID])
			assert.Equal(t, "false", headers[HeaderShouldRetry])
			assert.Equal(t, "application/json", headers["content-type"])
			assert.JSONEq(t, tt.body, body)
		})
	}
}

func jsonInString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func TestUnavailable(t *testing.T) {
	down := Denial{Reason: "the policy decision point did not answer", Code: "pdp_unavailable"}
	downJSON := `{"decision":"deny","reason":"the policy decision point did not answer","code":"pdp_unavailable"}`
	tests := []struct {
		name   string
		in     *mapping.Input
		status int
		body   string
	}{
		{
			name:   "model plane",
			in:     &mapping.Input{Resource: "llm", Plane: mapping.PlaneModel},
			status: 503,
			body:   `{"error":{"type":"service_unavailable","code":"pdp_unavailable","message":"the policy decision point did not answer","hopguard":` + downJSON + `}}`,
		},
		{
			name:   "Anthropic's Messages API: api_error",
			in:     &mapping.Input{Resource: "llm", Plane: mapping.PlaneModel, Dialect: mapping.DialectAnthropic},
			status: 503,
			body:   `{"type":"error","error":{"type":"api_error","message":"the policy decision point did not answer","hopguard":` + downJSON + `}}`,
		},
		{
			name:   "tool call: an error, not a result, since nothing was decided; 200, which the MCP Go SDK reads",
			in:     mcpInput(false, mapping.MCPMessage{Method: "tools/call", ID: json.RawMessage(`7`), Tool: "refund_issue"}),
			status: 200,
			body:   `{"jsonrpc":"2.0","id":7,"error":{"code":-32011,"message":"denied: the policy decision point did not answer","data":` + downJSON + `}}`,
		},
		{
			name:   "notification: nothing to answer, 503",
			in:     mcpInput(false, mapping.MCPMessage{Method: "notifications/initialized"}),
			status: 503,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32011,"message":"denied: the policy decision point did not answer","data":` + downJSON + `}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := Unavailable(tt.in, down, "dec-4")
			assert.Equal(t, int32(codes.Unavailable), resp.GetStatus().GetCode())
			status, headers, body := denied(t, resp)
			assert.Equal(t, tt.status, status)
			assert.Equal(t, "false", headers[HeaderShouldRetry])
			assert.Equal(t, "deny", headers[HeaderDecision])
			assert.Equal(t, "dec-4", headers[HeaderDecisionID])
			assert.JSONEq(t, tt.body, body)
		})
	}
}

func TestDeniedKeepsTheDenialWhenRemediationCannotBeEncoded(t *testing.T) {
	d := overCap
	d.Remediation = map[string]any{"limit": math.NaN()}
	_, _, body := denied(t, Denied(nil, d, "dec-5", Provenance{}))
	assert.Contains(t, body, `"code":"refund_over_cap"`)
	assert.NotContains(t, body, "remediation")
}

func TestRefusal(t *testing.T) {
	d := Refusal(&mapping.Error{Code: mapping.CodeDuplicateKey, Reason: "request body: duplicate object key"})
	assert.Equal(t, Denial{Decision: "deny", Code: "duplicate_key", Reason: "request body: duplicate object key"}, d)
}

func TestGatewayUnavailableBody(t *testing.T) {
	output := `{"decision":"deny","reason":"` + ReasonAuthzUnavailable + `","code":"authz_unavailable"}`
	assert.JSONEq(t, `{"error":{"type":"service_unavailable","code":"authz_unavailable","message":"`+ReasonAuthzUnavailable+`","hopguard":`+output+`}}`,
		GatewayUnavailableBody(mapping.PlaneModel, mapping.DialectOpenAI))
	assert.JSONEq(t, `{"type":"error","error":{"type":"api_error","message":"`+ReasonAuthzUnavailable+`","hopguard":`+output+`}}`,
		GatewayUnavailableBody(mapping.PlaneModel, mapping.DialectAnthropic))
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32011,"message":"denied: `+ReasonAuthzUnavailable+`","data":`+output+`}}`,
		GatewayUnavailableBody(mapping.PlaneMCP, ""))
	assert.Equal(t, GatewayUnavailableBody(mapping.PlaneModel, mapping.DialectOpenAI), GatewayUnavailableBody(mapping.PlaneUnknown, ""),
		"a route the gateway cannot place gets OpenAI's, as synapse does")
}

// TestPolicyHeader: the policy that decided and the policy set's version reach the client on
// an allow and on a policy denial, and are absent when no policy decided.
func TestPolicyHeader(t *testing.T) {
	decided := Provenance{Policy: "resource.mcp_payments.vdefault", Version: "sha256:1f2e3d4c5b6a7980"}
	want := "resource.mcp_payments.vdefault sha256:1f2e3d4c5b6a7980"

	toClient := map[string]string{}
	for _, h := range Allowed("dec-1", decided).GetOkResponse().GetResponseHeadersToAdd() {
		toClient[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	assert.Equal(t, want, toClient[HeaderPolicy], "an allow names what allowed it")

	_, headers, _ := denied(t, Denied(nil, overCap, "dec-2", decided))
	assert.Equal(t, want, headers[HeaderPolicy], "a denial names what denied it")

	_, headers, _ = denied(t, Denied(nil, overCap, "dec-3", Provenance{}))
	assert.NotContains(t, headers, HeaderPolicy, "nothing to name when no policy decided")
	_, headers, _ = denied(t, Unavailable(nil, overCap, "dec-4"))
	assert.NotContains(t, headers, HeaderPolicy)

	assert.Equal(t, "sha256:1", Provenance{Version: "sha256:1"}.header())
	assert.Equal(t, "resource.llm.vdefault", Provenance{Policy: "resource.llm.vdefault"}.header())
}

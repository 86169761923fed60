package denial_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
)

// Every envelope synapse/respond denies in, on every route, reads back as the policy output.
func TestFromBodyReadsEverySynapseShape(t *testing.T) {
	output := respond.Denial{Reason: "tier-1-support refund cap exceeded", Code: "refund_cap_exceeded",
		Remediation: map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"}}
	want := denial.Denial{Reason: output.Reason, Code: output.Code, Remediation: map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"}}
	model := func(d mapping.Dialect) *mapping.Input {
		return &mapping.Input{Resource: "llm", Plane: mapping.PlaneModel, Dialect: d}
	}
	mcp := func(batch bool, msgs ...mapping.MCPMessage) *mapping.Input {
		return &mapping.Input{Resource: "mcp:payments", Plane: mapping.PlaneMCP, Batch: batch, Messages: msgs}
	}
	call := mapping.MCPMessage{Method: "tools/call", ID: json.RawMessage(`7`), Tool: "refund_issue"}
	inputs := map[string]*mapping.Input{
		"OpenAI paths":                 model(mapping.DialectOpenAI),
		"Anthropic's Messages API":     model(mapping.DialectAnthropic),
		"a route synapse cannot place": nil,
		"MCP handshake":                mcp(false, mapping.MCPMessage{Method: "initialize", ID: json.RawMessage(`0`), Handshake: true}),
		"MCP tools/call result":        mcp(false, call),
		"MCP notification":             mcp(false, mapping.MCPMessage{Method: "notifications/initialized"}),
		"MCP batch":                    mcp(true, mapping.MCPMessage{Method: "notifications/progress"}, call),
	}
	for name, in := range inputs {
		for _, unavailable := range []bool{false, true} {
			resp := respond.Denied(in, output, "dec-1", respond.Provenance{})
			if unavailable {
				resp = respond.Unavailable(in, output, "dec-1")
			}
			body := resp.GetDeniedResponse().GetBody()
			got, ok := denial.FromBody([]byte(body))
			require.True(t, ok, "%s (unavailable %t): %s", name, unavailable, body)
			assert.Equal(t, want, got, "%s (unavailable %t)", name, unavailable)
		}
	}
}

// The gateways' own fail-closed replies (synapse unreachable), as gateway-configs/envoy and
// Istio's EnvoyFilter write them.
func TestFromBodyReadsTheGatewaysFailClosedReplies(t *testing.T) {
	const reason = "the authorization service did not answer: denied by the gateway (fail closed)"
	output := `{"decision":"deny","reason":"` + reason + `","code":"authz_unavailable"}`
	for name, body := range map[string]string{
		"OpenAI":    `{"error":{"type":"service_unavailable","code":"authz_unavailable","message":"` + reason + `","hopguard":` + output + `}}`,
		"Anthropic": `{"type":"error","error":{"type":"api_error","message":"` + reason + `","hopguard":` + output + `}}`,
		"JSON-RPC":  `{"jsonrpc":"2.0","id":null,"error":{"code":-32011,"message":"denied: ` + reason + `","data":` + output + `}}`,
	} {
		got, ok := denial.FromBody([]byte(body))
		require.True(t, ok, name)
		assert.Equal(t, denial.Denial{Reason: reason, Code: "authz_unavailable"}, got, name)
	}
}

func TestFromBodyWithoutAPolicyOutput(t *testing.T) {
	for name, body := range map[string]string{
		"empty":                                 ``,
		"plain text":                            `Authorization service unavailable`,
		"the provider's own error":              `{"error":{"type":"invalid_request_error","code":"model_not_found","message":"no such model"}}`,
		"Anthropic's own error":                 `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
		"a JSON-RPC error without data":         `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}`,
		"a tool's own error result":             `{"jsonrpc":"2.0","id":1,"result":{"isError":true,"content":[{"type":"text","text":"boom"}]}}`,
		"an output that allows":                 `{"error":{"hopguard":{"decision":"allow","reason":"fine"}}}`,
		"a batch without a denial":              `[{"jsonrpc":"2.0","id":1,"result":{}}]`,
		"an array that is not a batch":          `[1,2]`,
		"a hopguard field that is not a denial": `{"error":{"hopguard":"denied"}}`,
	} {
		_, ok := denial.FromBody([]byte(body))
		assert.False(t, ok, name)
	}
}

package clients

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/mockservers/journal"
)

func specOf(c client, hop string) spec {
	for _, s := range specs(c.plane) {
		if s.hop == hop {
			return s
		}
	}
	panic("no spec " + hop)
}

func clientNamed(name string) client {
	for _, c := range clientList() {
		if c.name == name {
			return c
		}
	}
	panic("no client " + name)
}

func TestJudge(t *testing.T) {
	env := scenarios.Env{Gateway: "envoy"}
	openai, stateless := clientNamed(openaiGo), clientNamed(mcpStateless)
	chat := sent{method: "POST", path: "/v1/chat/completions", status: 403, decision: "deny"}
	discover := sent{method: "POST", path: "/mcp/payroll", rpcMethod: "server/discover", status: 200, decision: "deny"}
	initialize := sent{method: "POST", path: "/mcp/payroll", rpcMethod: "initialize", status: 200, decision: "deny"}
	denied := observation{errType: "*openai.Error", typed: true, code: codeModelNotAllowed}
	tests := []struct {
		name      string
		client    client
		hop       string
		obs       observation
		calls     []sent
		upstream  []journal.Entry
		outcome   report.Outcome
		failed    []string
		reasonHas string
	}{
		{"a denial read with its code, once", openai, hopDeniedCall, denied, []sent{chat}, nil, report.Pass, nil, ""},
		{"a denial retried", openai, hopDeniedCall, denied, []sent{chat, chat}, nil, report.Fail, []string{checkOnce}, "sent again"},
		{"a denial without the code", openai, hopDeniedCall, observation{errType: "*openai.Error", typed: true}, []sent{chat}, nil, report.Fail, []string{checkCode}, `the code read is ""`},
		{"a denial not read through the SDK's type", clientNamed(anthropicGo), hopDeniedCall, observation{errType: "*anthropic.Error", code: codeModelNotAllowed}, []sent{{method: "POST", path: "/v1/messages", status: 403}}, nil, report.Fail, []string{checkTyped}, "SDK's own type"},
		{"a hop that must be denied went through", openai, hopDeniedCall, observation{ok: true}, []sent{chat}, nil, report.Fail, []string{checkDenied}, "it went through"},
		{"discover then initialize is no retry", stateless, hopDeniedAtConnect, observation{errType: "*jsonrpc.Error", typed: true, code: codeServerNotAllowed}, []sent{discover, initialize}, nil, report.Pass, nil, "falls back to initialize"},
		{"an allowed call that reached its upstream", openai, hopAllowed, observation{ok: true}, []sent{{method: "POST", path: "/v1/chat/completions", status: 200}},
			[]journal.Entry{{HTTPMethod: "POST", Path: "/v1/chat/completions", Model: allowedModel}}, report.Pass, nil, ""},
		{"an allowed call its upstream never saw", openai, hopAllowed, observation{ok: true}, nil, nil, report.Fail, []string{checkWorks}, "journal has no POST /v1/chat/completions"},
		{"a session on the wrong protocol", stateless, hopAllowed, observation{wrongProtocol: true}, nil, nil, report.Fail, []string{checkProtocol}, "does not speak 2026-07-28"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cell{client: tt.client, spec: specOf(tt.client, tt.hop), env: env, upstream: tt.upstream}
			c.judge(tt.obs, tt.calls, tt.calls, len(tt.calls))
			assert.Equal(t, tt.outcome, c.result.Outcome, c.result.Reason)
			assert.Equal(t, tt.failed, c.result.Failed)
			assert.Contains(t, c.result.Reason, tt.reasonHas)
			assert.Equal(t, len(tt.calls), c.result.Sent)
		})
	}
}

func TestSpecActions(t *testing.T) {
	mcp := clientNamed(mcpSessions)
	assert.Equal(t, []string{"initialize", "tools/call/get_ticket"}, specOf(mcp, hopAllowed).actions())
	assert.Equal(t, []string{"server/discover", "initialize", "tools/call"}, specOf(mcp, hopAllowed).rpcMethods())
	assert.Equal(t, []string{"initialize"}, specOf(mcp, hopDeniedAtConnect).actions())
	assert.Equal(t, []string{"tools/call/refund_issue"}, specOf(mcp, hopDeniedCall).actions())
	assert.Equal(t, []string{"tools/call"}, specOf(mcp, hopRevoked).rpcMethods())
	assert.Equal(t, []string{"completion"}, specOf(clientNamed(openaiGo), hopRevoked).actions())
	assert.Equal(t, "mcp:payments", specOf(mcp, hopDeniedCall).resource())
}

func TestExplainQuotesTheGatewaysNote(t *testing.T) {
	cells := []report.ClientCell{
		{Client: openaiGo, Gateway: "agentgateway", Hop: hopSynapseDown, Outcome: report.Fail, Reason: "the code read is \"\""},
		{Client: openaiGo, Gateway: "envoy", Hop: hopSynapseDown, Outcome: report.Fail, Reason: "r"},
		{Client: mcpSessions, Gateway: "envoy", Hop: hopCerbosDown, Outcome: report.Fail, Reason: "r"},
		{Client: mcpSessions, Gateway: "envoy", Hop: hopSynapseDown, Outcome: report.Pass},
	}
	explain(cells, nil)
	assert.Contains(t, cells[0].Reason, "Why: agentgateway's own reply")
	assert.Equal(t, "r", cells[1].Reason, "nothing explains a failure behind envoy")
	assert.Contains(t, cells[2].Reason, "never reads its body")
	assert.Equal(t, report.Fail, cells[2].Outcome, "behind Envoy an MCP client must read the code")
	assert.Empty(t, cells[3].Reason, "a pass needs no explanation")
}

// Only the MCP clients behind agentgateway with synapse down may end as cannot, and only with
// agentgateway's note to quote and a failure that is the unreadable code alone.
func TestCannotOnlyWhereTheGatewaysNotesSaySo(t *testing.T) {
	unreadable := []string{checkTyped, checkCode}
	cells := []report.ClientCell{
		{Client: mcpSessions, Gateway: "agentgateway", Hop: hopSynapseDown, Outcome: report.Fail, Failed: unreadable, Reason: "r"},
		{Client: mcpStateless, Gateway: "agentgateway", Hop: hopSynapseDown, Outcome: report.Fail, Failed: []string{checkTyped, checkCode, checkOnce}, Reason: "r"},
		{Client: mcpSessions, Gateway: "agentgateway", Hop: hopCerbosDown, Outcome: report.Fail, Failed: unreadable, Reason: "r"},
		{Client: mcpSessions, Gateway: "envoy", Hop: hopSynapseDown, Outcome: report.Fail, Failed: unreadable, Reason: "r"},
		{Client: openaiGo, Gateway: "agentgateway", Hop: hopSynapseDown, Outcome: report.Fail, Failed: unreadable, Reason: "r"},
	}
	explain(cells, []gateways.Gateway{&gateways.AgentGateway{}})
	assert.Equal(t, report.Cannot, cells[0].Outcome, cells[0].Reason)
	assert.True(t, strings.HasPrefix(cells[0].Reason, "cannot: agentgateway's notes: \"synapse unreachable"), cells[0].Reason)
	for _, c := range cells[1:] {
		assert.Equal(t, report.Fail, c.Outcome, "%s / %s / %s", c.Gateway, c.Client, c.Hop)
	}

	withoutNotes := []report.ClientCell{{Client: mcpSessions, Gateway: "agentgateway", Hop: hopSynapseDown, Outcome: report.Fail, Failed: unreadable, Reason: "r"}}
	explain(withoutNotes, nil)
	assert.Equal(t, report.Fail, withoutNotes[0].Outcome, "no note quoted, no exception")
}

package parity_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/parity"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/mockservers/journal"
)

func post(path string, fields map[string]string, digest string) journal.Entry {
	return journal.Entry{HTTPMethod: "POST", Path: path, Fields: fields, BodySHA256: digest}
}

func TestAlikeRequestsPass(t *testing.T) {
	chat := post("/v1/chat/completions", map[string]string{"model": `"gpt-4o-mini"`, "max_tokens": "64"}, "d1")
	got := parity.Compare("openai-go: allowed call", []parity.Received{
		{Gateway: "envoy", Entries: []journal.Entry{chat, {HTTPMethod: "GET", Path: "/v1/models"}}},
		{Gateway: "istio", Entries: []journal.Entry{chat}},
	})
	assert.Equal(t, report.Pass, got.Outcome)
	assert.Equal(t, []string{"envoy", "istio"}, got.Gateways)
	assert.Empty(t, got.Differences, "requests without a body are not compared")
}

func TestChatTokenLimitRenamedKeepsMeaning(t *testing.T) {
	got := parity.Compare("openai-go: allowed call", []parity.Received{
		{Gateway: "envoy", Entries: []journal.Entry{post("/v1/chat/completions", map[string]string{"model": `"gpt-4o-mini"`, "max_tokens": "64"}, "d1")}},
		{Gateway: "agentgateway", Entries: []journal.Entry{post("/v1/chat/completions", map[string]string{"model": `"gpt-4o-mini"`, "max_completion_tokens": "64"}, "d2")}},
	})
	assert.Equal(t, report.Pass, got.Outcome, got.Reason)
	require.Len(t, got.Differences, 2)
	for _, d := range got.Differences {
		assert.False(t, d.MeaningChanging, d.Field)
		assert.Contains(t, d.Why, "deprecated name")
	}
	assert.Equal(t, "max_completion_tokens", got.Differences[0].Field)
	assert.Equal(t, map[string]string{"envoy": "", "agentgateway": "64"}, got.Differences[0].Values)
	assert.Equal(t, []string{"agentgateway"}, got.Differences[0].Deviating(got.Gateways))
}

func TestChatTokenLimitChangedFails(t *testing.T) {
	got := parity.Compare("openai-go: allowed call", []parity.Received{
		{Gateway: "envoy", Entries: []journal.Entry{post("/v1/chat/completions", map[string]string{"max_tokens": "64"}, "d1")}},
		{Gateway: "agentgateway", Entries: []journal.Entry{post("/v1/chat/completions", map[string]string{"max_completion_tokens": "4096"}, "d2")}},
	})
	assert.Equal(t, report.Fail, got.Outcome)
}

func TestAnthropicMaxTokensRenamedFails(t *testing.T) {
	got := parity.Compare("anthropic-sdk-go: allowed call", []parity.Received{
		{Gateway: "envoy", Entries: []journal.Entry{post("/v1/messages", map[string]string{"model": `"gpt-4o-mini"`, "max_tokens": "64"}, "d1")}},
		{Gateway: "agentgateway", Entries: []journal.Entry{post("/v1/messages", map[string]string{"model": `"gpt-4o-mini"`, "max_completion_tokens": "64"}, "d2")}},
	})
	assert.Equal(t, report.Fail, got.Outcome)
	assert.Contains(t, got.Reason, "POST /v1/messages reached the upstream with a different max_completion_tokens behind agentgateway")
}

func TestToolArgumentsChangedFailsAndOtherFieldsAreShown(t *testing.T) {
	call := func(args, id string) journal.Entry {
		e := post("/mcp", map[string]string{"method": `"tools/call"`, "params.name": `"refund_issue"`, "params.arguments": args, "id": id}, "d"+id)
		e.MCPMethod, e.Tool = "tools/call", "refund_issue"
		return e
	}
	got := parity.Compare("MCP: denied call", []parity.Received{
		{Gateway: "envoy", Entries: []journal.Entry{call(`{"amount_cents":4000}`, "1")}},
		{Gateway: "istio", Entries: []journal.Entry{call(`{"amount_cents":4000}`, "2")}},
		{Gateway: "agentgateway", Entries: []journal.Entry{call(`{"amount_cents":400000}`, "1")}},
	})
	assert.Equal(t, report.Fail, got.Outcome)
	require.Len(t, got.Differences, 2)
	assert.Equal(t, "id", got.Differences[0].Field)
	assert.False(t, got.Differences[0].MeaningChanging, "a renumbered JSON-RPC id is shown, not failed")
	assert.Equal(t, "params.arguments", got.Differences[1].Field)
	assert.True(t, got.Differences[1].MeaningChanging)
	assert.Equal(t, "POST /mcp tools/call refund_issue", got.Differences[1].Request)
}

func TestRequestMissingOrElsewhereFails(t *testing.T) {
	got := parity.Compare("anthropic-sdk-go: allowed call", []parity.Received{
		{Gateway: "envoy", Entries: []journal.Entry{post("/v1/messages", nil, "d1")}},
		{Gateway: "agentgateway", Entries: []journal.Entry{post("/v1/chat/completions", nil, "d1")}},
	})
	assert.Equal(t, report.Fail, got.Outcome)
	require.Len(t, got.Differences, 2)
	assert.Equal(t, "(the request)", got.Differences[0].Field)
	assert.Contains(t, got.Differences[0].Why, "behind agentgateway")
}

func TestReencodedBodyIsShownNotFailed(t *testing.T) {
	fields := map[string]string{"model": `"gpt-4o"`}
	got := parity.Compare("openai-go: allowed call", []parity.Received{
		{Gateway: "envoy", Entries: []journal.Entry{post("/v1/chat/completions", fields, "d1")}},
		{Gateway: "istio", Entries: []journal.Entry{post("/v1/chat/completions", fields, "d2")}},
	})
	assert.Equal(t, report.Pass, got.Outcome)
	require.Len(t, got.Differences, 1)
	assert.Equal(t, "(body bytes, sha256)", got.Differences[0].Field)
}

func TestOneGatewayHasNothingToCompare(t *testing.T) {
	got := parity.Compare("openai-go: allowed call", []parity.Received{{Gateway: "envoy"}})
	assert.Equal(t, report.Pass, got.Outcome)
	assert.Contains(t, got.Reason, "nothing to compare")
}

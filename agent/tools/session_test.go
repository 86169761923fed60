package tools_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/tools"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
)

func staticToken(tok string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return tok, nil }
}

func open(t *testing.T, name, url string) (*tools.Session, error) {
	t.Helper()
	s, err := tools.Open(context.Background(), tools.ServerConfig{Name: name, URL: url, Token: staticToken("tok-" + name)},
		tools.Options{ClientName: "test", ClientVersion: "0"})
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

func TestDiscoversToolsWithItsOwnToken(t *testing.T) {
	_, gw, url := startMCP(t, mcpserver.Tickets, nil)
	s, err := open(t, "tickets", url)
	require.NoError(t, err)

	listed, err := s.ListTools(context.Background())
	require.NoError(t, err)
	var names []string
	for _, tl := range listed {
		names = append(names, tl.Name)
	}
	assert.ElementsMatch(t, []string{"get_ticket", "list_tickets", "update_ticket", "add_comment"}, names)

	tokens := gw.Tokens()
	require.NotEmpty(t, tokens)
	for _, tok := range tokens {
		assert.Equal(t, "Bearer tok-tickets", tok, "every MCP request carries this server's token")
	}
}

func TestHandshakeDenial(t *testing.T) {
	wantPayroll := denial.Denial{Reason: "payroll requires payroll-admin", Code: "server_not_allowed", DecisionID: "dec-handshake"}
	tests := []struct {
		name   string
		decide decide
		want   denial.Denial
	}{
		{
			name: "synapse's JSON-RPC error with the policy output as data",
			decide: func(req rpc) *deniedResponse {
				if isHandshake(req) {
					return synapseDenial(req, payrollOutput, "dec-handshake", false)
				}
				return nil
			},
			want: wantPayroll,
		},
		{
			name: "synapse fails closed: 200 with the JSON-RPC error -32011, x-should-retry false",
			decide: func(req rpc) *deniedResponse {
				return synapseDenial(req, pdpDown, "dec-handshake", true)
			},
			want: denial.Denial{Reason: "authorization service unavailable", Code: "pdp_unavailable", DecisionID: "dec-handshake"},
		},
		{
			// Envoy's local reply mapper and Istio's EnvoyFilter on a POST: 200 with a JSON-RPC
			// error with id null (the gateway reads no body), code -32011, the output as data, no
			// decision id, the code in x-hopguard-code too.
			name: "the gateway's own fail-closed reply on an MCP POST: 200, synapse unreachable",
			decide: func(req rpc) *deniedResponse {
				return &deniedResponse{status: http.StatusOK,
					header: map[string]string{"Content-Type": "application/json", "X-Hopguard-Decision": "deny", "X-Should-Retry": "false", "X-Hopguard-Code": respond.CodeAuthzUnavailable},
					body:   []byte(respond.GatewayUnavailableBody(mapping.PlaneMCP, ""))}
			},
			want: denial.Denial{Reason: respond.ReasonAuthzUnavailable, Code: respond.CodeAuthzUnavailable},
		},
		{
			// The same reply with 503, as on an MCP GET or DELETE, or from an older config.
			name: "the gateway's own fail-closed 503, synapse unreachable",
			decide: func(req rpc) *deniedResponse {
				return &deniedResponse{status: http.StatusServiceUnavailable,
					header: map[string]string{"Content-Type": "application/json", "X-Hopguard-Decision": "deny", "X-Should-Retry": "false"},
					body:   []byte(respond.GatewayUnavailableBody(mapping.PlaneMCP, ""))}
			},
			want: denial.Denial{Reason: respond.ReasonAuthzUnavailable, Code: respond.CodeAuthzUnavailable},
		},
		{
			// A gateway that cannot write a body (agentgateway's plain text): the marks alone.
			name: "the gateway's own fail-closed 503 without a JSON body",
			decide: func(req rpc) *deniedResponse {
				return &deniedResponse{status: http.StatusServiceUnavailable,
					header: map[string]string{"Content-Type": "text/plain", "X-Hopguard-Decision": "deny", "X-Should-Retry": "false"},
					body:   []byte("Authorization service unavailable")}
			},
			want: denial.Denial{Reason: "denied by the gateway"},
		},
		{
			// agentgateway v1.4.1: plain text, the code in x-hopguard-code.
			name: "the gateway's own fail-closed 503, plain text, the code in a header",
			decide: func(req rpc) *deniedResponse {
				return &deniedResponse{status: http.StatusServiceUnavailable,
					header: map[string]string{"Content-Type": "text/plain", "X-Hopguard-Decision": "deny", "X-Should-Retry": "false", denial.CodeHeader: respond.CodeAuthzUnavailable},
					body:   []byte("Authorization service unavailable")}
			},
			want: denial.Denial{Reason: "denied by the gateway", Code: respond.CodeAuthzUnavailable},
		},
		{
			// mcp-go maps -32603 to its own ErrInternalError and drops the
			// message; the denial is still read from the response.
			name: "a JSON-RPC error code mcp-go rewrites",
			decide: func(req rpc) *deniedResponse {
				if !isHandshake(req) {
					return nil
				}
				return handEncoded(http.StatusOK, map[string]string{"X-Hopguard-Decision": "deny", "X-Hopguard-Decision-Id": "dec-handshake"},
					map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": -32603, "message": "denied: x", "data": payrollOutput}})
			},
			want: wantPayroll,
		},
		{
			name: "only the message, no denial header or data",
			decide: func(req rpc) *deniedResponse {
				if !isHandshake(req) {
					return nil
				}
				return handEncoded(http.StatusOK, nil, map[string]any{"jsonrpc": "2.0", "id": req.ID,
					"error": map[string]any{"code": -32010, "message": "denied: payroll requires payroll-admin"}})
			},
			want: denial.Denial{Reason: "payroll requires payroll-admin"},
		},
		{
			// mcp-go calls a 4xx on initialize "likely a legacy SSE server"
			// and never reads the body; the denial header still tells.
			name: "403 with the denial header",
			decide: func(req rpc) *deniedResponse {
				if !isHandshake(req) {
					return nil
				}
				d := synapseDenial(req, payrollOutput, "dec-handshake", false)
				d.status = http.StatusForbidden
				return d
			},
			want: wantPayroll,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, url := startMCP(t, mcpserver.Payroll, tt.decide)
			_, err := open(t, "payroll", url)
			require.Error(t, err)
			got, ok := denial.From(err)
			require.True(t, ok, "want a denial, got %v", err)
			assert.Equal(t, tt.want, got)
			for _, e := range srv.Journal().Entries() {
				assert.NotEqual(t, "tools/list", e.MCPMethod, "the payroll tool list must never be fetched")
			}
		})
	}
}

func TestHandshakeUpstreamErrorIsNotADenial(t *testing.T) {
	_, _, url := startMCP(t, mcpserver.Tickets, func(req rpc) *deniedResponse {
		return &deniedResponse{status: http.StatusBadGateway, header: map[string]string{"Content-Type": "text/plain"}, body: []byte("upstream connect error")}
	})
	_, err := open(t, "tickets", url)
	require.Error(t, err)
	_, denied := denial.From(err)
	assert.False(t, denied)
	assert.ErrorContains(t, err, "mcp tickets: initialize")
}

func TestToolCallDenial(t *testing.T) {
	srv, _, url := startMCP(t, mcpserver.Payments, func(req rpc) *deniedResponse {
		if req.Method == "tools/call" && req.Params.Name == "refund_issue" {
			return synapseDenial(req, refundCapOutput, "dec-tool", false)
		}
		return nil
	})
	s, err := open(t, "payments", url)
	require.NoError(t, err)

	res, err := s.Call(context.Background(), "refund_issue",
		json.RawMessage(`{"ticket_id":"T-1001","amount_cents":900000,"currency":"usd","reason":"r"}`))
	require.NoError(t, err, "a denied tool call is a result, not an error")
	require.NotNil(t, res.Denial)
	assert.Equal(t, denial.Denial{
		Reason: "tier-1-support refund cap exceeded", Code: "refund_cap_exceeded",
		Remediation: map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"},
		DecisionID:  "dec-tool",
	}, *res.Denial)
	assert.True(t, res.IsError)
	assert.Contains(t, res.Text, "tier-1-support refund cap exceeded", "the model reads the reason")
	assert.Contains(t, res.Text, `"approvers_role":"tier-2-lead"`, "and the remediation")
	assert.Empty(t, srv.Store().Refunds(), "payments never saw the call")

	// The session survives the denial.
	res, err = s.Call(context.Background(), "get_charge", json.RawMessage(`{"charge_id":"ch_1002"}`))
	require.NoError(t, err)
	assert.Nil(t, res.Denial)
	assert.False(t, res.IsError)
	assert.Contains(t, res.Text, "ch_1002")
}

func TestToolCallsThatAreNotDenials(t *testing.T) {
	ctx := context.Background()
	t.Run("the tool's own error", func(t *testing.T) {
		_, _, url := startMCP(t, mcpserver.Payments, nil)
		s, err := open(t, "payments", url)
		require.NoError(t, err)
		res, err := s.Call(ctx, "get_charge", json.RawMessage(`{"charge_id":"ch_nope"}`))
		require.NoError(t, err)
		assert.True(t, res.IsError)
		assert.Nil(t, res.Denial)
	})
	t.Run("a tool result that only looks like a denial", func(t *testing.T) {
		// Without isError the _meta is the tool's business, not the gateway's.
		_, _, url := startMCP(t, mcpserver.Payments, func(req rpc) *deniedResponse {
			if req.Method != "tools/call" {
				return nil
			}
			return handEncoded(http.StatusOK, nil, map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": map[string]any{
				"content": []any{map[string]any{"type": "text", "text": "ok"}},
				"_meta":   map[string]any{"io.hopguard/denial": refundCapOutput},
			}})
		})
		s, err := open(t, "payments", url)
		require.NoError(t, err)
		res, err := s.Call(ctx, "get_charge", json.RawMessage(`{"charge_id":"ch_1001"}`))
		require.NoError(t, err)
		assert.Nil(t, res.Denial)
		assert.False(t, res.IsError)
	})
	t.Run("a fail-closed tools/call is a JSON-RPC error denial", func(t *testing.T) {
		_, _, url := startMCP(t, mcpserver.Payments, func(req rpc) *deniedResponse {
			if req.Method == "tools/call" {
				return synapseDenial(req, respond.Denial{Reason: "task revoked", Code: "task_revoked"}, "dec-x", true)
			}
			return nil
		})
		s, err := open(t, "payments", url)
		require.NoError(t, err)
		_, err = s.Call(ctx, "get_charge", json.RawMessage(`{"charge_id":"ch_1001"}`))
		d, ok := denial.From(err)
		require.True(t, ok, "got %v", err)
		assert.Equal(t, "task_revoked", d.Code)
	})
	t.Run("upstream failure", func(t *testing.T) {
		_, _, url := startMCP(t, mcpserver.Payments, func(req rpc) *deniedResponse {
			if req.Method == "tools/call" {
				return &deniedResponse{status: http.StatusInternalServerError, header: map[string]string{"Content-Type": "text/plain"}, body: []byte("boom")}
			}
			return nil
		})
		s, err := open(t, "payments", url)
		require.NoError(t, err)
		_, err = s.Call(ctx, "get_charge", json.RawMessage(`{"charge_id":"ch_1001"}`))
		require.Error(t, err)
		_, denied := denial.From(err)
		assert.False(t, denied)
		assert.ErrorContains(t, err, "500")
	})
	t.Run("arguments that are not an object are not sent", func(t *testing.T) {
		srv, _, url := startMCP(t, mcpserver.Payments, nil)
		s, err := open(t, "payments", url)
		require.NoError(t, err)
		before := len(srv.Journal().Entries())
		for _, args := range []string{`[1]`, `"x"`, `null`, `{`, ``} {
			_, err = s.Call(ctx, "get_charge", json.RawMessage(args))
			require.Error(t, err, args)
		}
		assert.Len(t, srv.Journal().Entries(), before)
	})
}

package clients

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/llm"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

// These tests pin what each SDK surfaces, against the mock upstreams and hand-made denials:
// the matrix's readings (and the explanations in explained.go) depend on it.

func testConn(t *testing.T, h http.Handler, token string) (conn, *recorder) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	rec := &recorder{next: srv.Client().Transport}
	return conn{gatewayURL: srv.URL, token: token, http: &http.Client{Transport: rec}}, rec
}

func TestModelSDKsGoThroughTheMockLLM(t *testing.T) {
	mock, err := llm.New(llm.Config{ProviderKey: "sk-test", Models: llm.DefaultModels()})
	require.NoError(t, err)
	for _, sdk := range []modelSDK{openaiSDK{}, anthropicSDK{}} {
		for _, stream := range []bool{false, true} {
			c, rec := testConn(t, mock, "sk-test")
			obs := sdk.open(c).complete(t.Context(), allowedModel, stream)
			assert.True(t, obs.ok, "%T stream=%t: %s", sdk, stream, obs.surfaced)
			sent := rec.take()
			require.Len(t, sent, 1)
			assert.Equal(t, sdk.path(), sent[0].path)
		}
	}
	entries := mock.Journal().Entries()
	require.Len(t, entries, 4)
	assert.Equal(t, "64", entries[0].Fields["max_tokens"], "openai-go sends the limit as max_tokens")
	assert.Equal(t, "true", entries[1].Fields["stream"])
	assert.Equal(t, "64", entries[2].Fields["max_tokens"])
}

// deny answers every request with status, body and the marks of a denial.
func deny(status int, contentType, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Hopguard-Decision", "deny")
		w.Header().Set("X-Should-Retry", "false")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func TestModelSDKsReadDenials(t *testing.T) {
	const (
		openaiBody    = `{"error":{"type":"permission_denied","code":"model_not_allowed","message":"no","hopguard":{"decision":"deny","reason":"no","code":"model_not_allowed"}}}`
		anthropicBody = `{"type":"error","error":{"type":"permission_error","message":"no","hopguard":{"decision":"deny","reason":"no","code":"model_not_allowed"}}}`
	)
	tests := []struct {
		name      string
		sdk       modelSDK
		status    int
		ctype     string
		body      string
		typed     bool
		code      string
		errorType string
	}{
		{"openai-go, its own shape", openaiSDK{}, 403, "application/json", openaiBody, true, "model_not_allowed", "*openai.Error"},
		{"openai-go, a plain-text 503", openaiSDK{}, 503, "text/plain", "Authorization service unavailable", true, "", "*openai.Error"},
		{"anthropic-sdk-go, its own shape", anthropicSDK{}, 403, "application/json", anthropicBody, true, "model_not_allowed", "*anthropic.Error"},
		{"anthropic-sdk-go, OpenAI's shape: Type() is not one it knows", anthropicSDK{}, 403, "application/json", openaiBody, false, "model_not_allowed", "*anthropic.Error"},
		{"anthropic-sdk-go, a plain-text 503", anthropicSDK{}, 503, "text/plain", "Authorization service unavailable", false, "", "*anthropic.Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, stream := range []bool{false, true} {
				c, rec := testConn(t, deny(tt.status, tt.ctype, tt.body), "tok")
				obs := tt.sdk.open(c).complete(t.Context(), deniedModel, stream)
				assert.False(t, obs.ok)
				assert.Equal(t, tt.errorType, obs.errType, obs.surfaced)
				assert.Equal(t, tt.typed, obs.typed, obs.surfaced)
				assert.Equal(t, tt.code, obs.code, obs.surfaced)
				assert.Len(t, rec.take(), 1, "x-should-retry: false: the SDK does not retry")
			}
		})
	}
}

func TestModelSDKsRetryA503WithoutXShouldRetry(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	for _, sdk := range []modelSDK{openaiSDK{}, anthropicSDK{}} {
		c, rec := testConn(t, h, "tok")
		ctx, cancel := context.WithTimeout(t.Context(), hopTimeout)
		obs := sdk.open(c).complete(ctx, allowedModel, false)
		cancel()
		assert.False(t, obs.ok)
		calls := rec.take()
		assert.Greater(t, len(calls), 1, "%T retries a 503 by default: the matrix would see it", sdk)
	}
}

func mcpMock(t *testing.T) http.Handler {
	t.Helper()
	mock, err := mcpserver.New(mcpserver.Config{Name: mcpserver.Tickets})
	require.NoError(t, err)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = mcpserver.EndpointPath // the gateway's /mcp/tickets is the mock's /mcp
		mock.ServeHTTP(w, r)
	})
}

func TestMCPSDKSpeaksBothProtocols(t *testing.T) {
	for _, cl := range clientList()[:2] {
		c, rec := testConn(t, mcpMock(t), "")
		session, obs := connectMCP(t.Context(), c, "tickets", cl.protocol, cl.wantProtocol)
		require.NotNil(t, session, obs.surfaced)
		assert.True(t, obs.ok, obs.surfaced)
		call := callTool(t.Context(), session, "get_ticket", getTicket())
		assert.True(t, call.ok, call.surfaced)
		require.NoError(t, session.Close())
		var methods []string
		for _, s := range rec.take() {
			if s.rpcMethod != "" {
				methods = append(methods, s.rpcMethod)
			}
		}
		if cl.protocol == sessionProtocol {
			assert.Equal(t, []string{"initialize", "notifications/initialized", "tools/call"}, methods)
		} else {
			assert.Equal(t, []string{"server/discover", "tools/call"}, methods)
		}
	}
}

func TestMCPSDKReadsDenials(t *testing.T) {
	// answer answers each request with a JSON-RPC error for its id, with status.
	answer := func(status, code int, denial string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				ID json.RawMessage `json:"id"`
			}
			_ = json.NewDecoder(r.Body).Decode(&req)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":%d,"message":"denied: no","data":{"decision":"deny","reason":"no","code":%q}}}`, req.ID, code, denial)
		})
	}
	for _, cl := range clientList()[:2] {
		t.Run(cl.name, func(t *testing.T) {
			c, rec := testConn(t, answer(200, -32010, "server_not_allowed"), "tok")
			session, obs := connectMCP(t.Context(), c, "payroll", cl.protocol, cl.wantProtocol)
			assert.Nil(t, session)
			assert.True(t, obs.typed, obs.surfaced)
			assert.Equal(t, "*jsonrpc.Error", obs.errType)
			assert.Equal(t, "server_not_allowed", obs.code, obs.surfaced)
			if cl.protocol == sessionProtocol {
				assert.Len(t, rec.take(), 1)
			} else {
				assert.Len(t, rec.take(), 2, "server/discover denied, then initialize: the SDK's fallback")
			}

			// A 4xx's JSON-RPC error reaches the caller too.
			c, _ = testConn(t, answer(403, -32011, "pdp_unavailable"), "tok")
			session, obs = connectMCP(t.Context(), c, "tickets", cl.protocol, cl.wantProtocol)
			assert.Nil(t, session)
			assert.True(t, obs.typed, obs.surfaced)
			assert.Equal(t, "pdp_unavailable", obs.code, obs.surfaced)

			// A 503 is transient to the SDK: it never reads the body.
			c, _ = testConn(t, answer(503, -32011, "pdp_unavailable"), "tok")
			session, obs = connectMCP(t.Context(), c, "tickets", cl.protocol, cl.wantProtocol)
			assert.Nil(t, session)
			assert.Equal(t, "*jsonrpc.Error", obs.errType, obs.surfaced)
			assert.False(t, obs.typed, "the transport's own rejection carries no answer: %s", obs.surfaced)
			assert.Empty(t, obs.code, obs.surfaced)
		})
	}
}

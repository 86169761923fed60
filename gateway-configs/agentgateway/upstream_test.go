package agentgateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/gateway-configs/agentgateway"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
	"github.com/hopguard/hopguard/internal/syncbuf"
	"github.com/hopguard/hopguard/mockservers/llm"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

// The tests below run the real agentgateway on the default rendering (the one the suites use)
// in front of the mocks, served in-process so that the test sees every request exactly as it
// reached them, and a stand-in for synapse that allows every call with synapse's own answer.

// upstreamAgentToken stands for the agent's credential: ext_authz sees it, no upstream does.
const upstreamAgentToken = "agent-token-not-for-the-upstream"

// bindsEveryInterface is why agentgateway's tests run only inside a loopback-only network
// namespace (providertest.RunHereIsolated).
const bindsEveryInterface = "agentgateway binds every interface"

// TestModelAPIsReachTheMockUnchanged: each model API goes to a backend of its own format and
// its body reaches the mock LLM byte for byte as the client sent it, streaming or not: an
// Anthropic Messages call goes to /v1/messages as a message (not translated into a chat
// completion), an OpenAI chat call keeps max_tokens (not renamed max_completion_tokens) and gets
// no stream_options added. Every call was asked of synapse (resource llm) first, and the mock saw
// the provider key where its API wants it, never the agent's token.
func TestModelAPIsReachTheMockUnchanged(t *testing.T) {
	bin := agentgatewayBinary(t)
	if !providertest.RunHereIsolated(t, bindsEveryInterface) {
		return
	}
	mock, err := llm.New(llm.Config{ProviderKey: llm.DefaultProviderKey, Models: llm.DefaultModels()})
	require.NoError(t, err)
	upstream := recordUpstream(t, mock)
	authz := providertest.StartAllowingAuthz(t)
	p := gatewayParams(t, authz.Addr.String())
	p.LLMAddr = upstream.addr
	gateway := runAgentgateway(t, bin, p)

	openAIHeaders := map[string]string{"Authorization": "Bearer " + upstreamAgentToken}
	// As Anthropic's SDKs send them: the key in x-api-key, the API version named.
	anthropicHeaders := map[string]string{"X-Api-Key": upstreamAgentToken, "Anthropic-Version": "2023-06-01"}

	tests := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		answer                   []string // what the client's answer holds
		keyHeader                string   // where the mock found the provider key
	}{
		{
			name: "OpenAI chat completion with max_tokens", method: http.MethodPost, path: "/v1/chat/completions",
			body:    `{"model": "gpt-4o",  "max_tokens": 64, "messages": [{"role": "user", "content": "Work ticket T-1001"}]}`,
			headers: openAIHeaders, status: http.StatusOK, answer: []string{`"chat.completion"`}, keyHeader: "Authorization",
		},
		{
			name: "OpenAI chat completion, streaming", method: http.MethodPost, path: "/v1/chat/completions",
			body:    `{"model": "gpt-4o", "stream": true, "max_tokens": 64, "messages": [{"role": "user", "content": "Work ticket T-1001"}]}`,
			headers: openAIHeaders, status: http.StatusOK, answer: []string{"chat.completion.chunk", "data: [DONE]"}, keyHeader: "Authorization",
		},
		{
			name: "OpenAI response", method: http.MethodPost, path: "/v1/responses",
			body:    `{"model": "gpt-4o", "max_output_tokens": 64, "input": "Work ticket T-1001"}`,
			headers: openAIHeaders, status: http.StatusOK, answer: []string{`"response"`}, keyHeader: "Authorization",
		},
		{
			name: "OpenAI models", method: http.MethodGet, path: "/v1/models",
			headers: openAIHeaders, status: http.StatusOK, answer: []string{`"gpt-4o"`}, keyHeader: "Authorization",
		},
		{
			// The mock serves no embeddings: its own 404 shows the call reached it as sent.
			name: "OpenAI embeddings", method: http.MethodPost, path: "/v1/embeddings",
			body:    `{"model": "text-embedding-3-small", "input": "Work ticket T-1001"}`,
			headers: openAIHeaders, status: http.StatusNotFound, answer: []string{"unknown_url"}, keyHeader: "Authorization",
		},
		{
			name: "Anthropic message", method: http.MethodPost, path: "/v1/messages",
			body:    `{"model": "gpt-4o", "max_tokens": 64, "messages": [{"role": "user", "content": "Work ticket T-1001"}]}`,
			headers: anthropicHeaders, status: http.StatusOK, answer: []string{`"type":"message"`}, keyHeader: "X-Api-Key",
		},
		{
			name: "Anthropic message, streaming", method: http.MethodPost, path: "/v1/messages",
			body:    `{"model": "gpt-4o", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "Work ticket T-1001"}]}`,
			headers: anthropicHeaders, status: http.StatusOK, answer: []string{"event: message_start", "event: message_stop"}, keyHeader: "X-Api-Key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream.reset()
			checksBefore := len(authz.Checks())

			status, answer := send(t, tt.method, gateway+tt.path, tt.body, tt.headers)

			assert.Equal(t, tt.status, status, "answer: %s", answer)
			for _, want := range tt.answer {
				assert.Contains(t, answer, want)
			}
			seen := upstream.requests()
			require.Len(t, seen, 1, "one request reached the mock")
			got := seen[0]
			assert.Equal(t, tt.method, got.method)
			assert.Equal(t, tt.path, got.path, "the path as sent")
			assert.Equal(t, tt.body, string(got.body), "the body as sent, byte for byte")
			assert.Equal(t, llm.DefaultProviderKey, strings.TrimPrefix(got.header.Get(tt.keyHeader), "Bearer "), "the provider key in %s", tt.keyHeader)
			for name, values := range got.header {
				for _, v := range values {
					assert.NotContains(t, v, upstreamAgentToken, "the agent's token reached the mock in %s", name)
				}
			}
			if tt.keyHeader == "X-Api-Key" {
				assert.Empty(t, got.header.Get("Authorization"), "Anthropic's key goes in x-api-key only")
				assert.Equal(t, "2023-06-01", got.header.Get("Anthropic-Version"))
			}

			checks := authz.Checks()[checksBefore:]
			require.Len(t, checks, 1, "synapse was asked once")
			assert.Equal(t, "llm", checks[0].Resource)
			assert.Equal(t, tt.path, checks[0].Path)
		})
	}
}

// TestAnthropicProviderPassesMessagesThrough: rendered for a real Anthropic endpoint
// (Provider kind anthropic, here the mock LLM over TLS by the name localhost), a native
// Messages call reaches /v1/messages unchanged, with the key from agentgateway's environment in
// x-api-key; the agent's OpenAI chat completion is the one body agentgateway changes there: it
// reaches /v1/messages translated into a message, and its answer comes back as a completion.
func TestAnthropicProviderPassesMessagesThrough(t *testing.T) {
	bin := agentgatewayBinary(t)
	if !providertest.RunHereIsolated(t, bindsEveryInterface) {
		return
	}
	const key, keyVar = "sk-ant-test-provider-key", "HOPGUARD_TEST_ANTHROPIC_KEY"
	pki, err := llm.NewTestPKI(t.TempDir(), "localhost")
	require.NoError(t, err)
	cert, err := tls.LoadX509KeyPair(pki.CertFile, pki.KeyFile)
	require.NoError(t, err)
	mock, err := llm.New(llm.Config{ProviderKey: key, Models: llm.DefaultModels()})
	require.NoError(t, err)
	upstream := recordUpstreamTLS(t, mock, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	_, port, err := net.SplitHostPort(upstream.addr)
	require.NoError(t, err)
	authz := providertest.StartAllowingAuthz(t)
	p := gatewayParams(t, authz.Addr.String())
	p.Provider = &agentgateway.Provider{Kind: agentgateway.ProviderAnthropic, Host: "localhost", CAFile: pki.CAFile, KeyEnv: keyVar}
	_, err = fmt.Sscan(port, &p.Provider.Port)
	require.NoError(t, err)
	gateway := runAgentgateway(t, bin, p, keyVar+"="+key)

	t.Run("a message passes through", func(t *testing.T) {
		upstream.reset()
		body := `{"model": "gpt-4o", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "Work ticket T-1001"}]}`
		status, answer := send(t, http.MethodPost, gateway+"/v1/messages", body,
			map[string]string{"X-Api-Key": upstreamAgentToken, "Anthropic-Version": "2023-06-01"})
		assert.Equal(t, http.StatusOK, status, "answer: %s", answer)
		assert.Contains(t, answer, "event: message_stop")
		seen := upstream.requests()
		require.Len(t, seen, 1)
		assert.Equal(t, "/v1/messages", seen[0].path)
		assert.Equal(t, body, string(seen[0].body), "the body as sent")
		assert.Equal(t, key, seen[0].header.Get("X-Api-Key"))
		assert.Empty(t, seen[0].header.Get("Authorization"))
	})
	t.Run("the agent's chat completion is translated", func(t *testing.T) {
		upstream.reset()
		status, answer := send(t, http.MethodPost, gateway+"/v1/chat/completions",
			`{"model": "gpt-4o", "max_tokens": 64, "messages": [{"role": "user", "content": "Work ticket T-1001"}]}`,
			map[string]string{"Authorization": "Bearer " + upstreamAgentToken})
		assert.Equal(t, http.StatusOK, status, "answer: %s", answer)
		assert.Contains(t, answer, `"chat.completion"`)
		seen := upstream.requests()
		require.Len(t, seen, 1)
		assert.Equal(t, "/v1/messages", seen[0].path)
		assert.Contains(t, string(seen[0].body), `"max_tokens":64`)
		assert.Equal(t, key, seen[0].header.Get("X-Api-Key"))
	})
}

// TestMCPSessionLifecycleMatchesTheUpstream: an MCP session's initialize, initialized
// notification, GET stream and DELETE answer with the statuses the upstream itself gives (what
// Envoy and Istio pass on), DELETE included: agentgateway's own 202 is answered as 200. What
// still differs is what the gateway's notes say: agentgateway answers requests as an event
// stream and holds a session of its own with the upstream.
func TestMCPSessionLifecycleMatchesTheUpstream(t *testing.T) {
	bin := agentgatewayBinary(t)
	if !providertest.RunHereIsolated(t, bindsEveryInterface) {
		return
	}
	server, err := mcpserver.New(mcpserver.Config{Name: mcpserver.Tickets})
	require.NoError(t, err)
	t.Cleanup(func() { server.Close(context.Background()) })
	upstream := recordUpstream(t, server)
	authz := providertest.StartAllowingAuthz(t)
	p := gatewayParams(t, authz.Addr.String())
	p.MCPServers = []agentgateway.MCPServer{{Name: "tickets", Addr: upstream.addr}}
	gateway := runAgentgateway(t, bin, p)

	direct, _ := mcpLifecycle(t, "http://"+upstream.addr+mcpserver.EndpointPath)
	upstream.reset()
	behind, session := mcpLifecycle(t, gateway+"/mcp/tickets")

	for i, step := range behind {
		assert.Equal(t, direct[i].status, step.status, "%s: the upstream's status", step.name)
	}
	assert.Equal(t, []int{http.StatusOK, http.StatusAccepted, http.StatusOK, http.StatusOK, http.StatusOK}, statuses(behind))
	assert.Equal(t, "application/json", direct[0].contentType)
	assert.Equal(t, "text/event-stream", behind[0].contentType, "agentgateway answers a request as an event stream")

	var deletes int
	for _, r := range upstream.requests() {
		assert.NotEqual(t, session, r.header.Get("Mcp-Session-Id"), "agentgateway holds a session of its own with the upstream")
		if r.method == http.MethodDelete {
			deletes++
		}
	}
	assert.Equal(t, 1, deletes, "the first DELETE ended the upstream's session too; the second did not reach it")
	for _, c := range authz.Checks() {
		assert.Equal(t, "mcp:tickets", c.Resource)
	}
}

type lifecycleStep struct {
	name        string
	status      int
	contentType string // its media type
}

func statuses(steps []lifecycleStep) []int {
	var out []int
	for _, s := range steps {
		out = append(out, s.status)
	}
	return out
}

// mcpLifecycle plays an MCP session at url as an SDK does (protocol 2025-06-18: initialize,
// notifications/initialized, the GET stream, DELETE), then DELETEs it again, and returns each
// step and the session's id.
func mcpLifecycle(t *testing.T, url string) ([]lifecycleStep, string) {
	t.Helper()
	headers := map[string]string{
		"Authorization": "Bearer " + upstreamAgentToken,
		"Accept":        "application/json, text/event-stream",
		"Content-Type":  "application/json",
	}
	var steps []lifecycleStep
	record := func(name string, resp *http.Response) {
		mediaType, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
		steps = append(steps, lifecycleStep{name: name, status: resp.StatusCode, contentType: mediaType})
	}

	resp := do(t, http.MethodPost, url, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"hopguard-test","version":"0"}}}`, headers)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	record("initialize", resp)
	require.Contains(t, string(body), `"protocolVersion"`, "initialize answered: %s", body)
	session := resp.Header.Get("Mcp-Session-Id")
	require.NotEmpty(t, session, "a session")
	headers["Mcp-Session-Id"] = session
	headers["Mcp-Protocol-Version"] = "2025-06-18"

	resp = do(t, http.MethodPost, url, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, headers)
	_ = resp.Body.Close()
	record("notifications/initialized", resp)

	get := map[string]string{"Accept": "text/event-stream"}
	for k, v := range headers {
		if k != "Accept" && k != "Content-Type" {
			get[k] = v
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	resp = doContext(t, ctx, http.MethodGet, url, "", get)
	record("GET stream", resp)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"), "GET opens a stream: %s", resp.Header.Get("Content-Type"))
	cancel()
	_ = resp.Body.Close()

	for _, name := range []string{"DELETE", "DELETE again"} {
		resp = do(t, http.MethodDelete, url, "", get)
		_ = resp.Body.Close()
		record(name, resp)
	}
	return steps, session
}

func send(t *testing.T, method, url, body string, headers map[string]string) (int, string) {
	t.Helper()
	resp := do(t, method, url, body, headers)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(answer)
}

func do(t *testing.T, method, url, body string, headers map[string]string) *http.Response {
	t.Helper()
	return doContext(t, t.Context(), method, url, body, headers)
}

func doContext(t *testing.T, ctx context.Context, method, url, body string, headers map[string]string) *http.Response {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, reader)
	require.NoError(t, err)
	if body != "" && headers["Content-Type"] == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	require.NoError(t, err)
	return resp
}

// upstream is a mock served in-process on 127.0.0.1 that records every request as it arrived.
type upstream struct {
	addr string

	mu   sync.Mutex
	seen []upstreamRequest
}

type upstreamRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

func recordUpstream(t *testing.T, next http.Handler) *upstream {
	t.Helper()
	return recordUpstreamTLS(t, next, nil)
}

// recordUpstreamTLS is recordUpstream, served over TLS with config when it is not nil.
func recordUpstreamTLS(t *testing.T, next http.Handler, config *tls.Config) *upstream {
	t.Helper()
	u := &upstream{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u.mu.Lock()
		u.seen = append(u.seen, upstreamRequest{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body})
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	}))
	if config != nil {
		srv.TLS = config
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	u.addr = srv.Listener.Addr().String()
	return u
}

func (u *upstream) requests() []upstreamRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upstreamRequest(nil), u.seen...)
}

func (u *upstream) reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seen = nil
}

// gatewayParams are the default rendering on free ports, asking the stand-in at synapse, with
// no MCP server.
func gatewayParams(t *testing.T, synapse string) agentgateway.Params {
	t.Helper()
	p := agentgateway.DefaultParams()
	p.GatewayPort, p.AdminPort, p.StatsPort, p.ReadinessPort = unusedPort(t), unusedPort(t), unusedPort(t), unusedPort(t)
	p.SynapseAddr = synapse
	p.MCPServers = nil
	return p
}

func unusedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func agentgatewayBinary(t *testing.T) string {
	t.Helper()
	bin, err := binaries.Tool("agentgateway")
	if err != nil {
		t.Skipf("not run: agentgateway not available: %v", err)
	}
	return bin
}

// runAgentgateway runs agentgateway on the rendering of p until the test ends and returns its
// base URL once it is ready; env is added to its environment. Only inside a loopback-only network namespace.
func runAgentgateway(t *testing.T, bin string, p agentgateway.Params, env ...string) string {
	t.Helper()
	config, err := agentgateway.Render(p)
	require.NoError(t, err)
	return runAgentgatewayOn(t, bin, p, config, env...)
}

// runAgentgatewayOn is runAgentgateway on config, a file with p's ports.
func runAgentgatewayOn(t *testing.T, bin string, p agentgateway.Params, config []byte, env ...string) string {
	t.Helper()
	require.True(t, netns.Current().Isolated, "agentgateway runs only in a loopback-only network namespace")
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, config, 0o600))
	var log syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-f", path)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("agentgateway log:\n%s", log.String())
		}
	})
	ready := fmt.Sprintf("http://127.0.0.1:%d/healthz/ready", p.ReadinessPort)
	deadline := time.After(30 * time.Second)
	for {
		if resp, err := http.Get(ready); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return fmt.Sprintf("http://127.0.0.1:%d", p.GatewayPort)
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("agentgateway exited (%v) before it was ready:\n%s", err, log.String())
		case <-deadline:
			t.Fatalf("agentgateway was not ready within 30s:\n%s", log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

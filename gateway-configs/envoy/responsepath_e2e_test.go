package envoy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
)

// TestResponsePathRunsOnListsOnly runs the real Envoy on the rendered config, in front of a
// stand-in synapse that seals a grant into an allowed list alone, as synapse does. A tool call
// or a handshake opens no ext_proc stream, even with a grant the client made up (ext_authz
// removes it); a tools/list opens one, and its answer comes back filtered. No request reaches
// the upstream with a grant header.
func TestResponsePathRunsOnListsOnly(t *testing.T) {
	envoyBin, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("not run: real Envoy not available: %v", err)
	}
	if !providertest.RunHereIsolatedIfPossible(t) {
		return
	}
	var (
		mu          sync.Mutex
		grantsSeen  int
		upstreamHit int
	)
	mcp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		upstreamHit++
		if r.Header.Get("X-Hopguard-Grant") != "" {
			grantsSeen++
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(string(body), `"tools/list"`) {
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"get_ticket"},{"name":"`+providertest.HiddenTool+`"}]}}`)
			return
		}
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	t.Cleanup(mcp.Close)
	authz := providertest.StartAllowingAuthz(t)
	p := envoy.Params{
		Listen: providertest.FreeAddr(t), Admin: providertest.FreeAddr(t),
		Synapse:    []netip.AddrPort{authz.Addr},
		LLM:        providertest.FreeAddr(t),
		MCPServers: []envoy.MCPServer{{Name: "tickets", Addr: netip.MustParseAddrPort(strings.TrimPrefix(mcp.URL, "http://"))}},
	}
	rendered, err := envoy.Render(p)
	require.NoError(t, err)
	gw := providertest.StartEnvoy(t, envoyBin, rendered, p.Listen, p.Admin).URL

	post := func(t *testing.T, body, clientGrant string) string {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, gw+"/mcp/tickets", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+providertest.AgentToken)
		if clientGrant != "" {
			req.Header.Set("X-Hopguard-Grant", clientGrant)
		}
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(got))
		return string(got)
	}

	post(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`, "")
	post(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_ticket"}}`, "a-grant-the-client-made")
	assert.Zero(t, authz.ResponsePathStreams(), "no list, no stream to synapse's response path")

	answer := post(t, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, "a-grant-the-client-made")
	assert.EqualValues(t, 1, authz.ResponsePathStreams(), "a list opens one stream")
	var list struct {
		Result struct {
			Tools []struct{ Name string } `json:"tools"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(answer), &list), answer)
	require.Len(t, list.Result.Tools, 1, "the list is filtered: %s", answer)
	assert.Equal(t, "get_ticket", list.Result.Tools[0].Name)

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 3, upstreamHit)
	assert.Zero(t, grantsSeen, "the upstream never sees a grant, the client's or synapse's")
}

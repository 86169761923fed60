package envoy_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/app"
	"github.com/hopguard/hopguard/synapse/config"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/pdp/cerbostest"
	"github.com/hopguard/hopguard/synapse/tasks"
	"github.com/hopguard/hopguard/synapse/tracing/tracingtest"
)

// TestOneHopIsOneTraceThroughEnvoy: a model call through the real Envoy, the real synapse and
// the real Cerbos, each sending its spans to one collector, is one trace: Envoy's span the root,
// synapse's check beneath Envoy's ext_authz call, Cerbos's beneath synapse's.
func TestOneHopIsOneTraceThroughEnvoy(t *testing.T) {
	envoyBin, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("not run: real Envoy not available: %v", err)
	}
	if !providertest.RunHereIsolatedIfPossible(t) {
		return
	}
	col := tracingtest.Start(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100") // synapse's batches leave every 100 ms
	cerbos := cerbostest.Start(t, cerbostest.Options{Env: col.CerbosEnv()})
	iss := identitytest.NewIssuer(t)
	syn := startSynapse(t, cerbos.GRPCAddr, iss.JWKSURL(), col.Addr)
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"c1","object":"chat.completion","model":"gpt-4o-mini","choices":[]}`))
	}))
	t.Cleanup(llm.Close)

	p := envoy.Params{
		Listen: providertest.FreeAddr(t), Admin: providertest.FreeAddr(t), Synapse: []netip.AddrPort{netip.MustParseAddrPort(syn.Addrs().GRPC)},
		LLM: netip.MustParseAddrPort(strings.TrimPrefix(llm.URL, "http://")), OTLPCollector: netip.MustParseAddrPort(col.Addr),
	}
	rendered, err := envoy.Render(p)
	require.NoError(t, err)
	gateway := providertest.StartEnvoy(t, envoyBin, rendered, p.Listen, p.Admin).URL

	ctx := context.Background()
	client := &admin.Client{BaseURL: "http://" + syn.Addrs().Admin, Token: adminToken}
	_, err = client.Create(ctx, tasks.NewTask{ID: "task-traced", Principal: "alice", AgentID: "support-agent", TicketID: "T-1001"})
	require.NoError(t, err)
	token := iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm", Roles: []string{"tier-1-support"},
		AgentID: "support-agent", HarnessVersion: "test-1", TaskID: "task-traced"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gateway+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// One trace holding the spans of all three: Envoy flushes its spans every 5 s.
	var trace []tracingtest.Span
	require.Eventually(t, func() bool {
		for _, s := range col.Spans() {
			if s.Service == "cerbos" {
				trace = col.InTrace(s.GetTraceId())
				if slices.ContainsFunc(trace, func(s tracingtest.Span) bool { return s.Service == "hopguard-gateway" }) &&
					slices.ContainsFunc(trace, func(s tracingtest.Span) bool { return s.GetName() == "synapse.check" }) {
					return true
				}
			}
		}
		return false
	}, 20*time.Second, 100*time.Millisecond, "Envoy's, synapse's and Cerbos's spans in one trace")

	spans := map[string]tracingtest.Span{}
	for _, s := range trace {
		spans[s.GetName()] = s
	}
	check := spans["synapse.check"]
	parent := slices.IndexFunc(trace, func(s tracingtest.Span) bool { return slices.Equal(s.GetSpanId(), check.GetParentSpanId()) })
	require.GreaterOrEqual(t, parent, 0, "synapse's check has its parent in the trace")
	assert.Equal(t, "hopguard-gateway", trace[parent].Service, "the check's parent is Envoy's (its ext_authz call)")
}

const adminToken = "a-token-of-thirty-two-characters"

func startSynapse(t *testing.T, cerbosAddr, jwksURL, collector string) *app.App {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.GRPC.ListenAddr, cfg.HTTP.ListenAddr, cfg.Admin.ListenAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Admin.Token = adminToken
	cfg.Cerbos.Addr, cfg.Cerbos.Timeout = cerbosAddr, 5*time.Second
	cfg.Identity.JWKSURL, cfg.Identity.Issuer = jwksURL, identitytest.DefaultIssuer
	cfg.Routes = []config.Route{{PathPrefix: "/v1/", Resource: "llm"}}
	cfg.Tasks.DBPath = filepath.Join(dir, "tasks.db")
	cfg.Audit.Sink = filepath.Join(dir, "audit.log")
	cfg.Tracing.OTLPEndpoint, cfg.Tracing.Insecure = collector, true
	require.NoError(t, cfg.Validate())
	var stdout strings.Builder
	a, err := app.Start(context.Background(), cfg, &stdout, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return a
}

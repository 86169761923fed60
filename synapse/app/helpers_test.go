package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/app"
	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/config"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
)

const adminToken = "integration-admin-token-0123456789"

// synapse is one in-process synapse with clients for its three listeners.
type synapse struct {
	app       *app.App
	authz     authv3.AuthorizationClient
	extproc   extprocv3.ExternalProcessorClient
	admin     *admin.Client
	httpBase  string
	auditPath string
	readyLine string
}

func testConfig(t *testing.T, cerbosAddr, jwksURL string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.GRPC.ListenAddr = "127.0.0.1:0"
	cfg.HTTP.ListenAddr = "127.0.0.1:0"
	cfg.Admin.ListenAddr = "127.0.0.1:0"
	cfg.Admin.Token = adminToken
	cfg.Cerbos.Addr = cerbosAddr
	// Generous: a loaded CI machine must not turn slow answers into denials.
	cfg.Cerbos.Timeout = 5 * time.Second
	cfg.Identity.JWKSURL = jwksURL
	cfg.Identity.Issuer = identitytest.DefaultIssuer
	cfg.Routes = []config.Route{
		{PathPrefix: "/v1/", Resource: "llm"},
		{PathPrefix: "/mcp/tickets", Resource: "mcp:tickets"},
		{PathPrefix: "/mcp/crm", Resource: "mcp:crm"},
		{PathPrefix: "/mcp/payments", Resource: "mcp:payments"},
		{PathPrefix: "/mcp/payroll", Resource: "mcp:payroll"},
	}
	cfg.Tasks.DBPath = filepath.Join(dir, "tasks.db")
	cfg.Audit.Sink = filepath.Join(dir, "audit.log")
	require.NoError(t, cfg.Validate())
	return cfg
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func adminClient(a *app.App) *admin.Client {
	return &admin.Client{BaseURL: "http://" + a.Addrs().Admin, Token: adminToken}
}

func startSynapse(t *testing.T, cfg *config.Config) *synapse {
	t.Helper()
	var stdout strings.Builder
	a, err := app.Start(context.Background(), cfg, &stdout, discardLogger())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Stop(context.Background())) })

	conn, err := grpc.NewClient(a.Addrs().GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &synapse{
		app:       a,
		authz:     authv3.NewAuthorizationClient(conn),
		extproc:   extprocv3.NewExternalProcessorClient(conn),
		admin:     adminClient(a),
		httpBase:  "http://" + a.Addrs().HTTP,
		auditPath: cfg.Audit.Sink,
		readyLine: stdout.String(),
	}
}

func (s *synapse) check(t *testing.T, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	resp, err := s.authz.Check(context.Background(), req)
	require.NoError(t, err)
	require.NotNil(t, resp.GetStatus(), "status is always set")
	return resp
}

func (s *synapse) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(s.httpBase + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// auditRecord returns the audit record of a decision id.
func (s *synapse) auditRecord(t *testing.T, decisionID string) audit.Record {
	t.Helper()
	f, err := os.Open(s.auditPath)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r audit.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		if r.DecisionID == decisionID {
			return r
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no audit record for decision %s", decisionID)
	return audit.Record{}
}

func headerValue(hs []*corev3.HeaderValueOption, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.GetHeader().GetKey(), name) {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

// decisionID reads the decision id from any response.
func decisionID(resp *authv3.CheckResponse) string {
	if ok := resp.GetOkResponse(); ok != nil {
		return headerValue(ok.GetResponseHeadersToAdd(), "x-hopguard-decision-id")
	}
	return headerValue(resp.GetDeniedResponse().GetHeaders(), "x-hopguard-decision-id")
}

// deniedOutput is the policy output in a denial body, wherever the plane's
// shape puts it: MCP tools/call structuredContent, JSON-RPC error.data, or
// the OpenAI-style error's "hopguard" member.
func deniedOutput(t *testing.T, resp *authv3.CheckResponse) map[string]any {
	t.Helper()
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.GetDeniedResponse().GetBody()), &body), resp.GetDeniedResponse().GetBody())
	if r, ok := body["result"].(map[string]any); ok {
		if sc, ok := r["structuredContent"].(map[string]any); ok {
			return sc
		}
	}
	if e, ok := body["error"].(map[string]any); ok {
		if d, ok := e["data"].(map[string]any); ok {
			return d
		}
		if h, ok := e["hopguard"].(map[string]any); ok {
			return h
		}
	}
	t.Fatalf("no policy output in denial body %s", resp.GetDeniedResponse().GetBody())
	return nil
}

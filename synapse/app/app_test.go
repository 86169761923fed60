package app_test

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/app"
	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/config"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// closedAddr is a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// Without Cerbos synapse still starts, is live but not ready, and denies.
func TestStartWithoutCerbos(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	syn := startSynapse(t, testConfig(t, closedAddr(t), iss.JWKSURL()))

	assert.Regexp(t, regexp.MustCompile(`^synapse listening grpc=127\.0\.0\.1:\d+ http=127\.0\.0\.1:\d+ admin=127\.0\.0\.1:\d+\n$`), syn.readyLine)
	code, _ := syn.get(t, "/healthz")
	assert.Equal(t, 200, code)
	code, body := syn.get(t, "/readyz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "cerbos")

	_, err := syn.admin.Create(context.Background(), tasks.NewTask{ID: "t1", Principal: "alice", AgentID: "a", TicketID: "T-1001"})
	require.NoError(t, err)
	tok := iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm", Roles: []string{"tier-1-support"}, AgentID: "a", TaskID: "t1"})
	resp := syn.check(t, checktest.Envoy("llm", "POST", "/v1/chat/completions", tok, checktest.ChatBody("gpt-4o")))
	require.NotNil(t, resp.GetDeniedResponse())
	assert.EqualValues(t, 503, resp.GetDeniedResponse().GetStatus().GetCode())
}

// Tasks survive a restart of synapse on the same database.
func TestTasksSurviveRestart(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	cfg := testConfig(t, closedAddr(t), iss.JWKSURL())
	ctx := context.Background()

	first, err := app.Start(ctx, cfg, &bytes.Buffer{}, discardLogger())
	require.NoError(t, err)
	c := adminClient(first)
	_, err = c.Create(ctx, tasks.NewTask{ID: "t-keep", Principal: "alice", AgentID: "a"})
	require.NoError(t, err)
	_, err = c.Revoke(ctx, "t-keep")
	require.NoError(t, err)
	require.NoError(t, first.Stop(ctx))

	second, err := app.Start(ctx, cfg, &bytes.Buffer{}, discardLogger())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, second.Stop(ctx)) })
	got, err := adminClient(second).Get(ctx, "t-keep")
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusRevoked, got.Status)
}

func TestStartRejectsABadRouteTable(t *testing.T) {
	cfg := testConfig(t, closedAddr(t), "http://127.0.0.1:1/jwks")
	cfg.Routes = append(cfg.Routes, config.Route{PathPrefix: "/files/", Resource: "files"})
	_, err := app.Start(context.Background(), cfg, &bytes.Buffer{}, discardLogger())
	require.ErrorContains(t, err, "routes")
}

func TestStartFailsOnATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	cfg := testConfig(t, closedAddr(t), "http://127.0.0.1:1/jwks")
	cfg.HTTP.ListenAddr = l.Addr().String()
	_, err = app.Start(context.Background(), cfg, &bytes.Buffer{}, discardLogger())
	require.ErrorContains(t, err, "listen http")

	// Everything opened before the failure was released: the task database
	// can be opened again at once.
	s, err := tasks.Open(cfg.Tasks.DBPath, tasks.WithLockTimeout(100*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

func TestMainCommand(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(logPath)
	require.NoError(t, err)
	require.NoError(t, l.Write(audit.Record{Time: time.Now(), DecisionID: "d1", Effect: "deny", Task: "t1"}))
	require.NoError(t, l.Write(audit.Record{Time: time.Now(), DecisionID: "d2", Effect: "allow", Task: "t2"}))
	require.NoError(t, l.Close())

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		wantStdout string
		wantStderr string
	}{
		{"help", []string{"--help"}, nil, 0, "", "Usage: synapse [flags]"},
		{"help names --version", []string{"--help"}, nil, 0, "", "-version"},
		{"version", []string{"--version"}, nil, 0, "synapse ", ""},
		{"missing admin token file", []string{"--admin-token-file", filepath.Join(t.TempDir(), "absent"), "--jwks-url", "http://127.0.0.1:1/jwks", "--issuer", "i"},
			nil, 2, "", "admin.tokenFile: open"},
		{"bad config", []string{"--grpc-addr", "nowhere"}, nil, 2, "", "invalid configuration"},
		{"missing required settings", nil, nil, 2, "", "admin.token: required"},
		{"audit subcommand", []string{"audit", "--task", "t1", logPath}, nil, 0, `"decision_id":"d1"`, ""},
		{"audit help", []string{"audit", "--help"}, nil, 0, "", "Usage: synapse audit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := app.Main(tt.args, strings.NewReader(""), &stdout, &stderr, func(k string) string { return tt.env[k] })
			assert.Equal(t, tt.code, code, stderr.String())
			assert.Contains(t, stdout.String(), tt.wantStdout)
			assert.Contains(t, stderr.String(), tt.wantStderr)
			if tt.name == "audit subcommand" {
				assert.NotContains(t, stdout.String(), `"d2"`)
			}
			if tt.name == "version" {
				assert.Regexp(t, `^synapse \S+( \S+)* go\S+\n$`, stdout.String())
			}
		})
	}
}

// The shipped example starts as shipped: the command's config step on
// synapse/config/example.yaml (run from the repository root, as its header
// says), then Start, which reads the example's admin token file. Only what
// belongs to this machine is moved aside: free ports, and the task database
// and decision log in a temporary directory.
func TestShippedExampleStarts(t *testing.T) {
	dir := t.TempDir()
	t.Chdir("../..")
	cfg, err := config.Load([]string{
		"--config", "synapse/config/example.yaml",
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--task-db", filepath.Join(dir, "tasks.db"), "--audit", filepath.Join(dir, "audit.log"),
	}, func(string) string { return "" }, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "synapse/config/example-admin-token", cfg.Admin.TokenFile, "the example's own token file")

	var stdout strings.Builder
	a, err := app.Start(context.Background(), cfg, &stdout, discardLogger())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Stop(context.Background())) })
	assert.Contains(t, stdout.String(), "synapse listening grpc=")

	client := &admin.Client{BaseURL: "http://" + a.Addrs().Admin, Token: config.ExampleAdminToken}
	_, err = client.List(context.Background())
	require.NoError(t, err, "the admin API takes the example's token")
}

package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/tasks"
)

const token = "test-admin-token-0123456789"

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	store, err := tasks.Open(filepath.Join(t.TempDir(), "tasks.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	h, err := admin.NewHandler(store, token, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestClientRoundTrip(t *testing.T) {
	srv := newServer(t)
	c := &admin.Client{BaseURL: srv.URL, Token: token}
	ctx := context.Background()

	created, err := c.Create(ctx, tasks.NewTask{ID: "task-1", Principal: "alice", AgentID: "triage", TicketID: "T-1001"})
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusActive, created.Status)
	assert.Equal(t, "T-1001", created.TicketID)

	got, err := c.Get(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, created.ID, got.ID)

	revoked, err := c.Revoke(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusRevoked, revoked.Status)

	all, err := c.List(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, tasks.StatusRevoked, all[0].Status)

	_, err = c.Get(ctx, "nope")
	require.ErrorIs(t, err, tasks.ErrNotFound)
	_, err = c.Create(ctx, tasks.NewTask{ID: "task-1", Principal: "alice", AgentID: "triage"})
	require.ErrorIs(t, err, tasks.ErrExists)
	_, err = c.Create(ctx, tasks.NewTask{Principal: "alice"})
	require.ErrorIs(t, err, tasks.ErrInvalid)

	bad := &admin.Client{BaseURL: srv.URL, Token: "wrong"}
	_, err = bad.List(ctx)
	var apiErr *admin.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.Status)
}

func TestHandlerHTTP(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name        string
		method      string
		path        string
		auth        string
		contentType string
		body        string
		status      int
		bodyHas     string
	}{
		{"no token", "GET", "/v1/tasks", "", "", "", 401, "bearer token"},
		{"wrong token", "GET", "/v1/tasks", "Bearer nope", "", "", 401, "bearer token"},
		{"token without scheme", "GET", "/v1/tasks", token, "", "", 401, "bearer token"},
		{"unknown path needs auth too", "GET", "/secret", "", "", "", 401, "bearer token"},
		{"empty list", "GET", "/v1/tasks", "Bearer " + token, "", "", 200, `{"tasks":[]}`},
		{"create", "POST", "/v1/tasks", "Bearer " + token, "application/json", `{"id":"t-1","principal":"alice","agent_id":"triage","ticket_id":"T-1001"}`, 201, `"status":"active"`},
		{"create generates id", "POST", "/v1/tasks", "Bearer " + token, "", `{"principal":"bob","agent_id":"triage"}`, 201, `"id":"task-`},
		{"duplicate", "POST", "/v1/tasks", "Bearer " + token, "", `{"id":"t-1","principal":"alice","agent_id":"triage"}`, 409, "already exists"},
		{"unknown field", "POST", "/v1/tasks", "Bearer " + token, "", `{"principal":"a","agent_id":"b","status":"revoked"}`, 400, "unknown field"},
		{"two values", "POST", "/v1/tasks", "Bearer " + token, "", `{"principal":"a","agent_id":"b"} {}`, 400, "more than one value"},
		{"not json", "POST", "/v1/tasks", "Bearer " + token, "", `principal=a`, 400, "invalid JSON"},
		{"wrong content type", "POST", "/v1/tasks", "Bearer " + token, "text/plain", `{}`, 400, "content type"},
		{"too large", "POST", "/v1/tasks", "Bearer " + token, "", `{"principal":"` + strings.Repeat("a", 70<<10) + `"}`, 400, "too large"},
		{"invalid task", "POST", "/v1/tasks", "Bearer " + token, "", `{"principal":"a"}`, 400, "agent_id is required"},
		{"get", "GET", "/v1/tasks/t-1", "Bearer " + token, "", "", 200, `"principal":"alice"`},
		{"get missing", "GET", "/v1/tasks/missing", "Bearer " + token, "", "", 404, "task not found"},
		{"revoke", "POST", "/v1/tasks/t-1/revoke", "Bearer " + token, "", "", 200, `"status":"revoked"`},
		{"revoke missing", "POST", "/v1/tasks/missing/revoke", "Bearer " + token, "", "", 404, "task not found"},
		{"wrong method", "DELETE", "/v1/tasks/t-1", "Bearer " + token, "", "", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode, string(body))
			assert.Contains(t, string(body), tt.bodyHas)
			if resp.StatusCode != 405 {
				assert.True(t, json.Valid(body), string(body))
			}
			if resp.StatusCode == 401 {
				assert.Equal(t, `Bearer realm="synapse-admin"`, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestNewHandlerRefusesEmptyToken(t *testing.T) {
	_, err := admin.NewHandler(nil, "", slog.New(slog.DiscardHandler))
	require.Error(t, err)
}

// A registry that fails (PostgreSQL away, a closed file) is an outage, not a bug of the caller:
// 503 with Retry-After, so a revocation the caller believes made is never one that was not.
func TestRegistryFailureIsUnavailable(t *testing.T) {
	store, err := tasks.Open(filepath.Join(t.TempDir(), "tasks.db"))
	require.NoError(t, err)
	h, err := admin.NewHandler(store, token, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	require.NoError(t, store.Close())

	c := &admin.Client{BaseURL: srv.URL, Token: token}
	_, err = c.Revoke(t.Context(), "task-1")
	var apiErr *admin.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusServiceUnavailable, apiErr.Status)
	assert.Contains(t, apiErr.Error(), "not done, retry")
}

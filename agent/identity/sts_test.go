package identity_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/identity"
)

// fakeSTS answers the token endpoint from a function and keeps every form it got.
type fakeSTS struct {
	mu     sync.Mutex
	forms  []url.Values
	answer func(form url.Values) (int, any)
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/oauth2/token" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.forms = append(f.forms, r.PostForm)
	f.mu.Unlock()
	status, body := f.answer(r.PostForm)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeSTS) Forms() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.forms...)
}

// issue answers every grant with a token naming what it was issued for.
func issue(ttl int) func(url.Values) (int, any) {
	return func(form url.Values) (int, any) {
		value := "boot:" + form.Get("client_id")
		if form.Get("grant_type") == identity.GrantTokenExchange {
			value = "res:" + form.Get("resource") + ":" + form.Get("subject_token") + ":" + form.Get("actor_token")
		}
		return http.StatusOK, map[string]any{
			"access_token": value, "token_type": "Bearer", "expires_in": ttl,
			"issued_token_type": identity.TokenTypeJWT,
		}
	}
}

func newSTS(t *testing.T, answer func(url.Values) (int, any)) (*fakeSTS, *identity.STSClient) {
	t.Helper()
	f := &fakeSTS{answer: answer}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &identity.STSClient{TokenURL: srv.URL + "/oauth2/token", HTTPClient: srv.Client()}
}

func TestBootstrapSendsCredentialAndAttestation(t *testing.T) {
	f, sts := newSTS(t, issue(300))
	tok, err := sts.Bootstrap(context.Background(),
		identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"},
		identity.Attestation{AgentID: "triage", HarnessVersion: "1.2.3", TaskID: "task-1"})
	require.NoError(t, err)
	assert.Equal(t, "boot:alice", tok.Value)
	assert.NotContains(t, tok.String(), "boot:alice", "String must not leak the token")

	forms := f.Forms()
	require.Len(t, forms, 1)
	assert.Equal(t, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"alice"}, "client_secret": {"alice-secret"},
		"agent_id": {"triage"}, "harness_version": {"1.2.3"}, "task_id": {"task-1"},
	}, forms[0])
}

func TestExchangeSendsRFC8693Form(t *testing.T) {
	f, sts := newSTS(t, issue(300))
	_, err := sts.Exchange(context.Background(), identity.ExchangeRequest{
		SubjectToken: "subj", Resource: "mcp:payments", ActorToken: "act",
	})
	require.NoError(t, err)
	forms := f.Forms()
	require.Len(t, forms, 1)
	assert.Equal(t, url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {"subj"},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"},
		"resource":           {"mcp:payments"},
		"actor_token":        {"act"},
		"actor_token_type":   {"urn:ietf:params:oauth:token-type:jwt"},
	}, forms[0])
}

func TestSTSErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    any
		wantErr string
		oauth   *identity.OAuthError
	}{
		{
			name: "invalid client", status: http.StatusUnauthorized,
			body:  map[string]string{"error": "invalid_client", "error_description": "bad secret"},
			oauth: &identity.OAuthError{StatusCode: 401, Code: "invalid_client", Description: "bad secret"},
		},
		{
			name: "invalid target", status: http.StatusBadRequest,
			body:  map[string]string{"error": "invalid_target"},
			oauth: &identity.OAuthError{StatusCode: 400, Code: "invalid_target"},
		},
		{
			name: "server error without OAuth body", status: http.StatusInternalServerError, body: "boom",
			oauth: &identity.OAuthError{StatusCode: 500, Code: "Internal Server Error"},
		},
		{name: "no access token", status: http.StatusOK, body: map[string]any{"expires_in": 60}, wantErr: "no access_token"},
		{
			name: "wrong token type", status: http.StatusOK,
			body: map[string]any{"access_token": "x", "token_type": "mac", "expires_in": 60}, wantErr: `token type "mac"`,
		},
		{
			name: "no lifetime", status: http.StatusOK,
			body: map[string]any{"access_token": "x", "token_type": "Bearer"}, wantErr: "expires_in 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sts := newSTS(t, func(url.Values) (int, any) { return tt.status, tt.body })
			_, err := sts.Exchange(context.Background(), identity.ExchangeRequest{SubjectToken: "s", Resource: "llm"})
			require.Error(t, err)
			if tt.oauth != nil {
				var oe *identity.OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, tt.oauth, oe)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestSourceCachesPerResourceAndActsForUser(t *testing.T) {
	f, sts := newSTS(t, issue(300))
	src, err := identity.NewSource(identity.SourceConfig{
		STS:     sts,
		Subject: identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"},
		Actor:   &identity.ClientCredentials{ClientID: "spiffe://hopguard.local/ns/agents/sa/triage", ClientSecret: "triage-secret"},
	})
	require.NoError(t, err)
	ctx := context.Background()

	llm, err := src.Token(ctx, "llm")
	require.NoError(t, err)
	assert.Equal(t, "res:llm:boot:alice:boot:spiffe://hopguard.local/ns/agents/sa/triage", llm)
	again, err := src.Token(ctx, "llm")
	require.NoError(t, err)
	assert.Equal(t, llm, again)
	pay, err := src.Token(ctx, "mcp:payments")
	require.NoError(t, err)
	assert.NotEqual(t, llm, pay)

	// Two bootstraps (subject, actor) and two exchanges: the second llm token came from the cache.
	assert.Len(t, f.Forms(), 4)
}

func TestSourceRefreshesNearExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f, sts := newSTS(t, issue(60))
	sts.Now = func() time.Time { return now }
	src, err := identity.NewSource(identity.SourceConfig{
		STS:           sts,
		Subject:       identity.ClientCredentials{ClientID: "spiffe://x", ClientSecret: "s"},
		RefreshBefore: 10 * time.Second,
	})
	require.NoError(t, err)
	ctx := context.Background()

	_, err = src.Token(ctx, "llm")
	require.NoError(t, err)
	require.Len(t, f.Forms(), 2)

	now = now.Add(45 * time.Second) // 15 s left: still fresh
	_, err = src.Token(ctx, "llm")
	require.NoError(t, err)
	require.Len(t, f.Forms(), 2)

	now = now.Add(10 * time.Second) // 5 s left: both bootstrap and resource token are replaced
	_, err = src.Token(ctx, "llm")
	require.NoError(t, err)
	forms := f.Forms()
	require.Len(t, forms, 4)
	assert.Equal(t, "client_credentials", forms[2].Get("grant_type"))
	assert.Equal(t, identity.GrantTokenExchange, forms[3].Get("grant_type"))
}

func TestNewSourceValidates(t *testing.T) {
	sts := &identity.STSClient{TokenURL: "http://127.0.0.1:1/oauth2/token"}
	tests := []struct {
		name string
		cfg  identity.SourceConfig
	}{
		{name: "no STS", cfg: identity.SourceConfig{Subject: identity.ClientCredentials{ClientID: "a", ClientSecret: "b"}}},
		{name: "no secret", cfg: identity.SourceConfig{STS: sts, Subject: identity.ClientCredentials{ClientID: "a"}}},
		{name: "half an actor", cfg: identity.SourceConfig{
			STS: sts, Subject: identity.ClientCredentials{ClientID: "a", ClientSecret: "b"},
			Actor: &identity.ClientCredentials{ClientID: "x"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := identity.NewSource(tt.cfg)
			require.Error(t, err)
		})
	}
}

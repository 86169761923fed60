package stsclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExchangeSendsRFC8693Form(t *testing.T) {
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
		raw, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		got, err = url.ParseQuery(string(raw))
		require.NoError(t, err)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","issued_token_type":"urn:ietf:params:oauth:token-type:jwt","expires_in":300}`)
	}))
	t.Cleanup(srv.Close)

	c := New(srv.URL, srv.Client())
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return start }
	tok, err := c.Exchange(context.Background(), "subject", "mcp:crm", "actor")
	require.NoError(t, err)
	assert.Equal(t, url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {"subject"},
		"subject_token_type": {TokenTypeJWT},
		"resource":           {"mcp:crm"},
		"actor_token":        {"actor"},
		"actor_token_type":   {TokenTypeJWT},
	}, got)
	assert.Equal(t, Token{AccessToken: "tok", TokenType: "Bearer", IssuedTokenType: TokenTypeJWT, Expiry: start.Add(5 * time.Minute)}, tok)
}

func TestErrorsAreTyped(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		body   string
		want   Error
	}{
		"oauth error":  {400, `{"error":"invalid_target","error_description":"unknown resource"}`, Error{400, "invalid_target", "unknown resource"}},
		"not oauth":    {502, `upstream down`, Error{502, "http_error", "upstream down"}},
		"no token":     {200, `{"token_type":"Bearer"}`, Error{}},
		"invalid json": {200, `{`, Error{}},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			_, err := New(srv.URL, srv.Client()).Bootstrap(context.Background(), "alice", "pw", Attestation{})
			require.Error(t, err)
			var oe *Error
			if tc.want.Code == "" {
				assert.False(t, errors.As(err, &oe), "a malformed success is not an OAuth error")
				return
			}
			require.True(t, errors.As(err, &oe))
			assert.Equal(t, tc.want, *oe)
		})
	}
}

package journal

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func describeModel(_ *http.Request, body []byte, e *Entry) {
	var req struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(body, &req) == nil {
		e.Model = req.Model
	}
}

func TestWrapRecordsAndPassesBodyThrough(t *testing.T) {
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	resets := 0
	j := New(Config{
		Describe:     describeModel,
		ProviderKeys: []string{"sk-key"},
		OnReset:      func() { resets++ },
		Now:          func() time.Time { return fixed },
	})
	var seen string
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		seen = string(b)
		w.WriteHeader(http.StatusTeapot)
	})
	srv := httptest.NewServer(j.Wrap(upstream))
	t.Cleanup(srv.Close)

	body := `{"model":"gpt-4o","messages":[]}`
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions?x=1", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer sk-key")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	assert.Equal(t, body, seen, "the mock must read the whole body the journal peeked at")

	client := NewClient(srv.URL, srv.Client())
	entries, err := client.Entries(context.Background())
	require.NoError(t, err)
	require.Equal(t, []Entry{{
		Time:       fixed,
		HTTPMethod: http.MethodPost,
		Path:       "/v1/chat/completions",
		Model:      "gpt-4o",
		Credential: CredentialProviderKey,
		Fields:     map[string]string{"model": `"gpt-4o"`, "messages": `[]`},
		BodySHA256: "677fdcc165a68aa04fdc62b7b3f69597e23b4706bb4dcb75b9c54c8b2ba947f6",
	}}, entries, "journal reads are not recorded")

	require.NoError(t, client.Reset(context.Background()))
	assert.Equal(t, 1, resets)
	entries, err = client.Entries(context.Background())
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestJournalEndpointsRejectOtherMethods(t *testing.T) {
	j := New(Config{})
	srv := httptest.NewServer(j.Wrap(http.NotFoundHandler()))
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, EntriesPath},
		{http.MethodGet, ResetPath},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "%s %s", tc.method, tc.path)
	}
	assert.Empty(t, j.Entries())
}

func TestEmptyJournalIsAnEmptyList(t *testing.T) {
	srv := httptest.NewServer(New(Config{}).Wrap(http.NotFoundHandler()))
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + EntriesPath)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.JSONEq(t, `{"entries":[]}`, string(b))
}

func TestClientReportsHTTPErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	_, err := NewClient(srv.URL, nil).Entries(context.Background())
	require.ErrorContains(t, err, "status 404")
}

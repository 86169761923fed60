package loop

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
)

func TestPolicyObserverKeepsTheLastPOSTsPolicy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(denial.PolicyHeader, r.Method+" "+r.URL.Path)
	}))
	defer srv.Close()
	client, observer := observePolicies(&http.Client{})
	do := func(method, path string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}

	assert.Empty(t, observer.take(), "nothing seen yet")
	do(http.MethodPost, "/mcp/tickets")
	do(http.MethodGet, "/mcp/tickets") // an event stream beside the hops
	assert.Equal(t, "POST /mcp/tickets", observer.take(), "the hop's own policy, not the stream's")
	assert.Empty(t, observer.take(), "taken once")
}

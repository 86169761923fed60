package bypass

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/rawhttp"
)

func TestCorpusIsWellFormed(t *testing.T) {
	corpus := Corpus()
	require.GreaterOrEqual(t, len(corpus), 40, "issue 10 asks for at least 40 cases")
	id := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, c := range append(corpus, Controls()...) {
		assert.Regexp(t, id, c.ID)
		assert.False(t, seen[c.ID], "case %s is listed twice", c.ID)
		seen[c.ID] = true
		assert.NotEmpty(t, c.Category, c.ID)
		assert.NotEmpty(t, c.Attack, c.ID)
		assert.NotNil(t, c.Build, c.ID)
	}
	for _, c := range corpus {
		assert.False(t, c.Allow, "%s: the corpus holds denials only; controls are separate", c.ID)
		assert.NotEmpty(t, c.Expect, "%s: say which denial is right, or a wrong one passes unseen", c.ID)
	}
}

func TestClassifyTellsTheLayers(t *testing.T) {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name       string
		resp       *rawhttp.Response
		denied     bool
		layer      string
		code, id   string
		wantStatus int
	}{
		{"no response", nil, true, LayerGateway, "", "", 0},
		{"gateway 404", &rawhttp.Response{Status: 404, Header: hdr()}, true, LayerGateway, "", "", 404},
		{"authz unavailable", &rawhttp.Response{Status: 503, Header: hdr("X-Hopguard-Decision", "deny", "X-Hopguard-Code", "authz_unavailable")}, true, LayerAuthzFailure, "", "", 503},
		{"the gateway's own refusal, marked", &rawhttp.Response{Status: 426, Header: hdr("X-Hopguard-Decision", "deny")}, true, LayerGateway, "", "", 426},
		{"synapse tool denial at 200", &rawhttp.Response{Status: 200,
			Header: hdr("X-Hopguard-Decision", "deny", "X-Hopguard-Decision-Id", "d1"),
			Body:   []byte(`{"jsonrpc":"2.0","id":3,"result":{"isError":true,"structuredContent":{"decision":"deny","code":"refund_cap_exceeded"}}}`)},
			true, LayerSynapse, "refund_cap_exceeded", "d1", 200},
		{"synapse model denial", &rawhttp.Response{Status: 403,
			Header: hdr("X-Hopguard-Decision", "deny", "X-Hopguard-Decision-Id", "d2"),
			Body:   []byte(`{"error":{"type":"permission_denied","code":"model_not_allowed","hopguard":{"decision":"deny","code":"model_not_allowed"}}}`)},
			true, LayerSynapse, "model_not_allowed", "d2", 403},
		{"synapse batch denial", &rawhttp.Response{Status: 200,
			Header: hdr("X-Hopguard-Decision", "deny", "X-Hopguard-Decision-Id", "d3"),
			Body:   []byte(`[{"jsonrpc":"2.0","id":1,"error":{"code":-32010,"data":{"decision":"deny","code":"duplicate_key"}}}]`)},
			true, LayerSynapse, "duplicate_key", "d3", 200},
		{"allowed by synapse, refused upstream", &rawhttp.Response{Status: 400, Header: hdr("X-Hopguard-Decision", "allow", "X-Hopguard-Decision-Id", "d4")},
			false, LayerNone, "", "d4", 400},
		{"allowed", &rawhttp.Response{Status: 200, Header: hdr()}, false, LayerNone, "", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Result{Layer: LayerNone}
			classify(&res, tt.resp)
			assert.Equal(t, tt.denied, res.Denied)
			assert.Equal(t, tt.layer, res.Layer)
			assert.Equal(t, tt.code, res.Code)
			assert.Equal(t, tt.id, res.DecisionID)
			assert.Equal(t, tt.wantStatus, res.Status)
		})
	}
}

func TestExpectsMatchesCodeOrGateway(t *testing.T) {
	c := Case{Expect: []string{"refund_cap_exceeded", LayerGateway}}
	assert.True(t, c.expects(LayerSynapse, "refund_cap_exceeded"))
	assert.False(t, c.expects(LayerSynapse, "invalid_token"), "a denial for another reason is not the one tested")
	assert.True(t, c.expects(LayerGateway, ""))
	assert.False(t, Case{Expect: capDenied}.expects(LayerGateway, ""))
	assert.False(t, Case{Expect: capDenied}.expects(LayerAuthzFailure, ""), "a failed authz call is not the policy's denial")
	assert.True(t, Case{}.expects(LayerAuthzFailure, ""))
}

package extproc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/metrics"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/visibility"
)

// triagePlans are Cerbos's plans for the triage agent on tickets: delete_ticket never.
func triagePlans(_ context.Context, req pdp.PlanRequest) (pdp.Plan, error) {
	if slices.Contains(req.Actions, "tools/call/delete_ticket") {
		return pdp.PlanAlwaysDenied, nil // as Cerbos plans several actions: pdp.AllOf
	}
	return pdp.PlanConditional, nil
}

const toolsAnswer = `{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"get_ticket"},{"name":"delete_ticket"}]}}`

func headers(kv ...string) *extprocv3.HttpHeaders {
	m := &corev3.HeaderMap{}
	for i := 0; i < len(kv); i += 2 {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return &extprocv3.HttpHeaders{Headers: m}
}

func requestHeaders(kv ...string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: headers(kv...)}}
}

func requestBody(body string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: true}}}
}

func responseHeaders(contentType string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: headers(":status", "200", "content-type", contentType, "content-length", "99")}}
}

func responseBody(body string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: true}}}
}

var (
	grantKey   = []byte("0123456789abcdef0123456789abcdef")
	otherKey   = []byte("fedcba9876543210fedcba9876543210")
	checkedAt  = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	triageList = visibility.Grant{Principal: pdp.Principal{ID: "triage", Roles: []string{"triage-agent"}}, Kind: "mcp:tickets",
		Metadata: pdp.Metadata{DecisionID: "dec-1", AgentID: "triage"}}
)

const grantTTL = 2 * time.Minute

func newSealer(t *testing.T, key []byte) *visibility.Sealer {
	t.Helper()
	s, err := visibility.NewSealer(key, grantTTL)
	require.NoError(t, err)
	return s
}

// sealed is triageList's grant as ext_authz seals it for the request of decisionID, under key.
func sealed(t *testing.T, key []byte, decisionID string) string {
	t.Helper()
	v, err := newSealer(t, key).Seal(decisionID, triageList, checkedAt)
	require.NoError(t, err)
	return v
}

// newServer opens grants sealed with grantKey, a second after the check.
func newServer(t *testing.T, planner visibility.Planner) *Server {
	t.Helper()
	return &Server{Sealer: newSealer(t, grantKey), Planner: planner, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return checkedAt.Add(time.Second) }}
}

// listHeaders are the headers of a list request ext_authz allowed as decisionID, with its grant.
func listHeaders(t *testing.T, decisionID string) *extprocv3.ProcessingRequest {
	t.Helper()
	return requestHeaders(":method", "POST", ":path", "/mcp/tickets", "x-hopguard-decision-id", decisionID, "x-hopguard-grant", sealed(t, grantKey, decisionID))
}

// play sends each request through one exchange and returns the answers.
func play(s *Server, reqs ...*extprocv3.ProcessingRequest) []*extprocv3.ProcessingResponse {
	var ex exchange
	var out []*extprocv3.ProcessingResponse
	for _, r := range reqs {
		out = append(out, s.handle(context.Background(), &ex, r))
	}
	return out
}

func withheldIDs(t *testing.T, resp *extprocv3.ProcessingResponse) string {
	t.Helper()
	imm := resp.GetImmediateResponse()
	require.NotNil(t, imm, "withheld: answered in the gateway's place")
	assert.EqualValues(t, 200, imm.GetStatus().GetCode())
	var answer struct {
		ID    json.RawMessage `json:"id"`
		Error struct {
			Code int `json:"code"`
			Data struct {
				Code string `json:"code"`
			} `json:"data"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(imm.GetBody(), &answer), string(imm.GetBody()))
	assert.Equal(t, -32011, answer.Error.Code)
	assert.Equal(t, "list_withheld", answer.Error.Data.Code)
	return string(answer.ID)
}

func TestToolsListIsFilteredOnTheWayBack(t *testing.T) {
	var (
		mu    sync.Mutex // the tools are planned concurrently
		asked []pdp.PlanRequest
	)
	planner := visibility.PlannerFunc(func(ctx context.Context, req pdp.PlanRequest) (pdp.Plan, error) {
		mu.Lock()
		asked = append(asked, req)
		mu.Unlock()
		return triagePlans(ctx, req)
	})
	out := play(newServer(t, planner),
		listHeaders(t, "dec-1"),
		requestBody(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`),
		responseHeaders("application/json"),
		responseBody(toolsAnswer),
	)
	assert.Equal(t, filterv3.ProcessingMode_BUFFERED, out[0].GetModeOverride().GetRequestBodyMode(), "a POST's body is read")
	assert.Equal(t, filterv3.ProcessingMode_SEND, out[0].GetModeOverride().GetResponseHeaderMode(), "and its answer's headers")
	assert.Nil(t, out[1].GetModeOverride(), "a gateway ignores a mode override sent with a body")
	assert.Equal(t, filterv3.ProcessingMode_BUFFERED, out[2].GetModeOverride().GetResponseBodyMode(), "a tools/list's answer is buffered")
	assert.Equal(t, []string{"content-length"}, out[2].GetResponseHeaders().GetResponse().GetHeaderMutation().GetRemoveHeaders())
	body := out[3].GetResponseBody().GetResponse().GetBodyMutation().GetBody()
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"get_ticket"}]}}`, string(body))
	require.Len(t, asked, 3, "the tools together, and, since one is hidden, each alone")
	for _, req := range asked {
		assert.Equal(t, triageList.Principal, req.Principal, "planned for the principal of the sealed grant")
		assert.Equal(t, triageList.Kind, req.Kind)
		assert.Equal(t, triageList.Metadata, req.Metadata)
	}
}

// namingLists is triageList's grant naming the body's list requests, as synapse's ext_authz
// seals it, sealed for decisionID, with its headers.
func namingLists(t *testing.T, decisionID string, lists ...visibility.ListRequest) *extprocv3.ProcessingRequest {
	t.Helper()
	g := triageList
	g.Lists = lists
	v, err := newSealer(t, grantKey).Seal(decisionID, g, checkedAt)
	require.NoError(t, err)
	return requestHeaders(":method", "POST", ":path", "/mcp/tickets", "x-hopguard-decision-id", decisionID, "x-hopguard-grant", v)
}

// TestAGrantNamingItsListsSparesTheBody: a grant that opens and names the body's lists is all
// the response path needs of the request: it asks for the answer alone, filters it, and, when
// it cannot, answers each list request named in the grant.
func TestAGrantNamingItsListsSparesTheBody(t *testing.T) {
	lists := []visibility.ListRequest{{Method: "tools/list", ID: json.RawMessage(`"list-7"`)}}
	out := play(newServer(t, visibility.PlannerFunc(triagePlans)),
		namingLists(t, "dec-1", lists...),
		responseHeaders("application/json"),
		responseBody(strings.Replace(toolsAnswer, `"id":3`, `"id":"list-7"`, 1)),
	)
	assert.Equal(t, filterv3.ProcessingMode_NONE, out[0].GetModeOverride().GetRequestBodyMode(), "the body is not read")
	assert.Equal(t, filterv3.ProcessingMode_SEND, out[0].GetModeOverride().GetResponseHeaderMode(), "the answer's headers are")
	assert.Equal(t, []string{"x-hopguard-grant"}, out[0].GetRequestHeaders().GetResponse().GetHeaderMutation().GetRemoveHeaders())
	assert.Equal(t, filterv3.ProcessingMode_BUFFERED, out[1].GetModeOverride().GetResponseBodyMode(), "the list's answer is buffered")
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":"list-7","result":{"tools":[{"name":"get_ticket"}]}}`,
		string(out[2].GetResponseBody().GetResponse().GetBodyMutation().GetBody()))

	failing := visibility.PlannerFunc(func(context.Context, pdp.PlanRequest) (pdp.Plan, error) { return "", errors.New("cerbos is down") })
	withheld := play(newServer(t, failing), namingLists(t, "dec-1", lists...), responseHeaders("application/json"), responseBody(toolsAnswer))
	assert.Equal(t, `"list-7"`, withheldIDs(t, withheld[2]), "answered for the request the grant names")

	// A gateway that sends the body all the same changes nothing.
	again := play(newServer(t, visibility.PlannerFunc(triagePlans)),
		namingLists(t, "dec-1", lists...),
		requestBody(`{"jsonrpc":"2.0","id":"list-7","method":"tools/list"}`),
		responseHeaders("application/json"),
		responseBody(toolsAnswer),
	)
	assert.Nil(t, again[1].GetImmediateResponse())
	assert.NotNil(t, again[3].GetResponseBody().GetResponse().GetBodyMutation(), "filtered")
}

// TestAGrantThatDoesNotOpenStillReadsTheBody: a grant that names lists but is not this request's
// (or forged, or expired) spares nothing: the body is read, and the list withheld for its ids.
func TestAGrantThatDoesNotOpenStillReadsTheBody(t *testing.T) {
	lists := []visibility.ListRequest{{Method: "tools/list", ID: json.RawMessage(`9`)}}
	h := namingLists(t, "dec-other", lists...)
	// The same grant on a request with another decision id.
	for _, hv := range h.GetRequestHeaders().GetHeaders().GetHeaders() {
		if hv.GetKey() == "x-hopguard-decision-id" {
			hv.RawValue = []byte("dec-1")
		}
	}
	out := play(newServer(t, visibility.PlannerFunc(triagePlans)), h,
		requestBody(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`), responseHeaders("application/json"), responseBody(toolsAnswer))
	assert.Equal(t, filterv3.ProcessingMode_BUFFERED, out[0].GetModeOverride().GetRequestBodyMode(), "the body is read")
	assert.Equal(t, "3", withheldIDs(t, out[3]), "withheld for the ids the body holds, not the grant's")
}

// TestTheGrantNeverReachesTheUpstream: whatever the request, its grant header is taken off it
// at its headers, before the gateway forwards it.
func TestTheGrantNeverReachesTheUpstream(t *testing.T) {
	s := newServer(t, visibility.PlannerFunc(triagePlans))
	for _, method := range []string{"POST", "GET", "DELETE"} {
		out := play(s, requestHeaders(":method", method, "x-hopguard-decision-id", "dec-1", "x-hopguard-grant", "whatever"))
		assert.Equal(t, []string{"x-hopguard-grant"}, out[0].GetRequestHeaders().GetResponse().GetHeaderMutation().GetRemoveHeaders(), method)
	}
}

func TestOtherRequestsPassUntouched(t *testing.T) {
	s := newServer(t, visibility.PlannerFunc(triagePlans))
	out := play(s,
		requestHeaders(":method", "POST", "x-hopguard-decision-id", "dec-2"),
		requestBody(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_ticket","arguments":{}}}`),
		responseHeaders("text/event-stream"),
		responseBody(`{"jsonrpc":"2.0","id":4,"result":{"content":[]}}`),
	)
	assert.Nil(t, out[2].GetModeOverride(), "the answer of a tools/call is not asked for")
	assert.Nil(t, out[2].GetResponseHeaders().GetResponse(), "its headers pass as they are")
	assert.Nil(t, out[3].GetResponseBody().GetResponse(), "and so would its body")

	get := play(s, requestHeaders(":method", "GET", "x-hopguard-decision-id", "dec-3"))
	assert.Nil(t, get[0].GetModeOverride(), "a GET's event stream is not buffered")
	assert.Nil(t, get[0].GetImmediateResponse())
}

func TestToolsListIsWithheldWhenItCannotBeFiltered(t *testing.T) {
	failing := visibility.PlannerFunc(func(context.Context, pdp.PlanRequest) (pdp.Plan, error) { return "", errors.New("cerbos is down") })
	tests := []struct {
		name    string
		planner visibility.Planner
		reqs    []*extprocv3.ProcessingRequest
		wantID  string
	}{
		{name: "no grant for the decision", planner: visibility.PlannerFunc(triagePlans), reqs: []*extprocv3.ProcessingRequest{
			requestHeaders(":method", "POST", "x-hopguard-decision-id", "dec-unknown"),
			requestBody(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`), responseHeaders("application/json"), responseBody(toolsAnswer),
		}, wantID: "3"},
		{name: "Cerbos does not plan", planner: failing, reqs: []*extprocv3.ProcessingRequest{
			listHeaders(t, "dec-1"),
			requestBody(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`), responseHeaders("application/json"), responseBody(toolsAnswer),
		}, wantID: "3"},
		{name: "an answer that cannot be read", planner: visibility.PlannerFunc(triagePlans), reqs: []*extprocv3.ProcessingRequest{
			listHeaders(t, "dec-1"),
			requestBody(`{"jsonrpc":"2.0","id":"a","method":"tools/list"}`), responseHeaders("text/html"), responseBody("<html>"),
		}, wantID: `"a"`},
		{name: "a request that cannot be read", planner: visibility.PlannerFunc(triagePlans), reqs: []*extprocv3.ProcessingRequest{
			listHeaders(t, "dec-1"), requestBody(`{"jsonrpc":`),
		}, wantID: "null"},
		{name: "a resumed event stream", planner: visibility.PlannerFunc(triagePlans), reqs: []*extprocv3.ProcessingRequest{
			requestHeaders(":method", "GET", "x-hopguard-decision-id", "dec-1", "last-event-id", "7"),
		}, wantID: "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := play(newServer(t, tt.planner), tt.reqs...)
			assert.Equal(t, tt.wantID, withheldIDs(t, out[len(out)-1]))
		})
	}
}

// TestAGrantThatDoesNotOpenWithholds: a list whose request carries no grant this replica can
// use is withheld, and counted by why.
func TestAGrantThatDoesNotOpenWithholds(t *testing.T) {
	good := sealed(t, grantKey, "dec-1")
	tests := []struct {
		name       string
		headers    []string
		at         time.Time
		wantReason string
	}{
		{name: "missing", headers: []string{"x-hopguard-decision-id", "dec-1"}, wantReason: "missing"},
		{name: "sealed with another replica's key", headers: []string{"x-hopguard-decision-id", "dec-1", "x-hopguard-grant", sealed(t, otherKey, "dec-1")}, wantReason: "forged"},
		{name: "made up by the client", headers: []string{"x-hopguard-decision-id", "dec-1", "x-hopguard-grant", tampered(good)}, wantReason: "forged"},
		{name: "another request's", headers: []string{"x-hopguard-decision-id", "dec-2", "x-hopguard-grant", good}, wantReason: "mismatched"},
		{name: "no decision id", headers: []string{"x-hopguard-grant", good}, wantReason: "mismatched"},
		{name: "expired", headers: []string{"x-hopguard-decision-id", "dec-1", "x-hopguard-grant", good}, at: checkedAt.Add(grantTTL), wantReason: "expired"},
		{name: "truncated", headers: []string{"x-hopguard-decision-id", "dec-1", "x-hopguard-grant", good[:30]}, wantReason: "malformed"},
		{name: "twice", headers: []string{"x-hopguard-decision-id", "dec-1", "x-hopguard-grant", good, "x-hopguard-grant", good}, wantReason: "malformed"},
		{name: "oversized", headers: []string{"x-hopguard-decision-id", "dec-1", "x-hopguard-grant", good + strings.Repeat("A", visibility.MaxSealedGrantBytes)}, wantReason: "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, visibility.PlannerFunc(triagePlans))
			if !tt.at.IsZero() {
				s.Now = func() time.Time { return tt.at }
			}
			m := metrics.New()
			s.Metrics = m
			logs := &strings.Builder{}
			s.Log = slog.New(slog.NewTextHandler(logs, nil))
			out := play(s, requestHeaders(append([]string{":method", "POST"}, tt.headers...)...),
				requestBody(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`), responseHeaders("application/json"), responseBody(toolsAnswer))
			assert.Equal(t, "3", withheldIDs(t, out[3]))
			assert.Equal(t, 1.0, grantsRefused(t, m, tt.wantReason), "counted as %s", tt.wantReason)
			assert.Contains(t, logs.String(), "reason="+tt.wantReason)
		})
	}
}

// grantsRefused is synapse_list_grants_refused_total{reason}.
func grantsRefused(t *testing.T, m *metrics.Metrics, reason string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "synapse_list_grants_refused_total" {
			continue
		}
		for _, metric := range f.GetMetric() {
			if metric.GetLabel()[0].GetValue() == reason {
				return metric.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// tampered is v with one character changed.
func tampered(v string) string {
	c := byte('A')
	if v[40] == c {
		c = 'B'
	}
	return v[:40] + string(c) + v[41:]
}

type auditRecorder struct{ recs []audit.Record }

func (a *auditRecorder) Write(r audit.Record) error { a.recs = append(a.recs, r); return nil }

// TestAWithheldListIsADecisionOfItsOwn: the audit log has it, under the id the agent is told.
func TestAWithheldListIsADecisionOfItsOwn(t *testing.T) {
	s := newServer(t, visibility.PlannerFunc(func(context.Context, pdp.PlanRequest) (pdp.Plan, error) { return "", errors.New("cerbos is down") }))
	rec := &auditRecorder{}
	m := metrics.New()
	s.Audit, s.NewID, s.Metrics = rec, func() string { return "dec-withheld" }, m
	out := play(s, listHeaders(t, "dec-1"),
		requestBody(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`), responseHeaders("application/json"), responseBody(toolsAnswer))
	withheldIDs(t, out[3])
	require.Len(t, rec.recs, 1)
	got := rec.recs[0]
	assert.Equal(t, "dec-withheld", got.DecisionID)
	assert.Equal(t, audit.EffectDeny, got.Effect)
	assert.Equal(t, "list_withheld", got.Code)
	assert.Equal(t, "response_path", got.Failure)
	assert.Equal(t, "mcp:tickets", got.Kind)
	assert.Equal(t, "triage", got.Principal)
	var id string
	for _, h := range out[3].GetImmediateResponse().GetHeaders().GetSetHeaders() {
		if h.GetHeader().GetKey() == "x-hopguard-decision-id" {
			id = string(h.GetHeader().GetRawValue())
		}
	}
	assert.Equal(t, "dec-withheld", id, "the agent is told the withheld list's own decision")
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP synapse_lists_total tools/list, resources/list and prompts/list answers on the response path, by list and outcome: filtered (sent on with what the principal may not use taken out) or withheld (synapse could not decide: fail closed).
# TYPE synapse_lists_total counter
synapse_lists_total{list="tools/list",outcome="withheld"} 1
`), "synapse_lists_total"), "counted")
}

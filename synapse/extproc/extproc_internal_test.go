package extproc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
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
	if req.Action == "tools/call/delete_ticket" {
		return pdp.PlanAlwaysDenied, nil
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

func newServer(planner visibility.Planner) *Server {
	grants := visibility.NewGrants(10, time.Minute)
	grants.Put("dec-1", visibility.Grant{Principal: pdp.Principal{ID: "triage", Roles: []string{"triage-agent"}}, Kind: "mcp:tickets"})
	return &Server{Grants: grants, Planner: planner, Log: slog.New(slog.DiscardHandler)}
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
	out := play(newServer(visibility.PlannerFunc(triagePlans)),
		requestHeaders(":method", "POST", ":path", "/mcp/tickets", "x-hopguard-decision-id", "dec-1"),
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
}

func TestOtherRequestsPassUntouched(t *testing.T) {
	s := newServer(visibility.PlannerFunc(triagePlans))
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
			requestHeaders(":method", "POST", "x-hopguard-decision-id", "dec-1"),
			requestBody(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`), responseHeaders("application/json"), responseBody(toolsAnswer),
		}, wantID: "3"},
		{name: "an answer that cannot be read", planner: visibility.PlannerFunc(triagePlans), reqs: []*extprocv3.ProcessingRequest{
			requestHeaders(":method", "POST", "x-hopguard-decision-id", "dec-1"),
			requestBody(`{"jsonrpc":"2.0","id":"a","method":"tools/list"}`), responseHeaders("text/html"), responseBody("<html>"),
		}, wantID: `"a"`},
		{name: "a request that cannot be read", planner: visibility.PlannerFunc(triagePlans), reqs: []*extprocv3.ProcessingRequest{
			requestHeaders(":method", "POST", "x-hopguard-decision-id", "dec-1"), requestBody(`{"jsonrpc":`),
		}, wantID: "null"},
		{name: "a resumed event stream", planner: visibility.PlannerFunc(triagePlans), reqs: []*extprocv3.ProcessingRequest{
			requestHeaders(":method", "GET", "x-hopguard-decision-id", "dec-1", "last-event-id", "7"),
		}, wantID: "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := play(newServer(tt.planner), tt.reqs...)
			assert.Equal(t, tt.wantID, withheldIDs(t, out[len(out)-1]))
		})
	}
}

func TestAGrantIsTakenOnce(t *testing.T) {
	s := newServer(visibility.PlannerFunc(triagePlans))
	list := func() []*extprocv3.ProcessingResponse {
		return play(s, requestHeaders(":method", "POST", "x-hopguard-decision-id", "dec-1"),
			requestBody(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`), responseHeaders("application/json"), responseBody(toolsAnswer))
	}
	require.NotNil(t, list()[3].GetResponseBody(), "the first answer is filtered")
	withheldIDs(t, list()[3])
}

type auditRecorder struct{ recs []audit.Record }

func (a *auditRecorder) Write(r audit.Record) error { a.recs = append(a.recs, r); return nil }

// TestAWithheldListIsADecisionOfItsOwn: the audit log has it, under the id the agent is told.
func TestAWithheldListIsADecisionOfItsOwn(t *testing.T) {
	s := newServer(visibility.PlannerFunc(func(context.Context, pdp.PlanRequest) (pdp.Plan, error) { return "", errors.New("cerbos is down") }))
	rec := &auditRecorder{}
	m := metrics.New()
	s.Audit, s.NewID, s.Metrics = rec, func() string { return "dec-withheld" }, m
	out := play(s, requestHeaders(":method", "POST", "x-hopguard-decision-id", "dec-1"),
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

package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	effectv1 "github.com/cerbos/cerbos/api/genpb/cerbos/effect/v1"
	enginev1 "github.com/cerbos/cerbos/api/genpb/cerbos/engine/v1"
	requestv1 "github.com/cerbos/cerbos/api/genpb/cerbos/request/v1"
	responsev1 "github.com/cerbos/cerbos/api/genpb/cerbos/response/v1"
	svcv1 "github.com/cerbos/cerbos/api/genpb/cerbos/svc/v1"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/synapse/tasks"
)

func testCaller() Caller {
	return Caller{
		Name:    benchCaller,
		Subject: benchSubject, Roles: []string{benchRole}, AgentID: benchAgentID, HarnessVersion: benchHarnessVersion,
		Task:     tasks.Task{ID: "task-1", Principal: benchSubject, AgentID: benchAgentID, TicketID: benchTicket, Status: tasks.StatusActive},
		Tokens:   map[string]string{"llm": "tok-llm", "mcp:payments": "tok-pay", "mcp:tickets": "tok-tix"},
		Sessions: map[string]string{"payments": "s-pay", "tickets": "s-tix"},
	}
}

func testCallers() Callers { return Callers{benchCaller: testCaller()} }

func TestGatewayMixExpectsEachGatewaysOutcome(t *testing.T) {
	var decision string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The hop's token and session travel as the agent sends them.
		if r.URL.Path == "/mcp/payments" && (r.Header.Get("Mcp-Session-Id") != "s-pay" || r.Header.Get("Authorization") != "Bearer tok-pay") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if decision != "" {
			w.Header().Set("x-hopguard-decision", decision)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	hops := Hops(benchTicket)
	ctx := context.Background()

	ungoverned := GatewayMix(srv.Client(), srv.URL, false, hops, testCallers())
	for _, r := range ungoverned {
		assert.NoError(t, r.Do(ctx), "%s through the baseline: upstream answered", r.Kind)
	}
	decision = "allow"
	for _, r := range ungoverned {
		assert.ErrorContains(t, r.Do(ctx), `decision "allow", want ""`, "a decision at the baseline means it is governed")
	}
	governed := GatewayMix(srv.Client(), srv.URL, true, hops, testCallers())
	require.Equal(t, KindRefundDenied, governed[1].Kind)
	assert.NoError(t, governed[0].Do(ctx))
	assert.ErrorContains(t, governed[1].Do(ctx), `decision "allow", want "deny"`, "an allowed refund is a failure")
	decision = "deny"
	assert.NoError(t, governed[1].Do(ctx))
	assert.ErrorContains(t, governed[2].Do(ctx), `decision "deny", want "allow"`)
}

type fakeAuthz struct {
	authv3.AuthorizationClient
	code codes.Code
}

func (f fakeAuthz) Check(_ context.Context, req *authv3.CheckRequest, _ ...grpc.CallOption) (*authv3.CheckResponse, error) {
	resp := &authv3.CheckResponse{Status: &status.Status{Code: int32(f.code)}}
	if f.code == codes.OK {
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}
	} else {
		resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{}}
	}
	return resp, nil
}

func TestSynapseMixExpectsThePoliciesDecision(t *testing.T) {
	ctx := context.Background()
	allowAll := SynapseMix(fakeAuthz{code: codes.OK}, Hops(benchTicket), testCallers())
	assert.NoError(t, allowAll[0].Do(ctx))
	assert.ErrorContains(t, allowAll[1].Do(ctx), "allowed true, want false")
	denyAll := SynapseMix(fakeAuthz{code: codes.PermissionDenied}, Hops(benchTicket), testCallers())
	assert.NoError(t, denyAll[1].Do(ctx))
	assert.ErrorContains(t, denyAll[2].Do(ctx), "allowed false, want true")
}

func TestCheckRequestIsWhatEnvoySends(t *testing.T) {
	req := CheckRequest(Hops(benchTicket)[1], testCaller())
	http := req.GetAttributes().GetRequest().GetHttp()
	assert.Equal(t, "Bearer tok-pay", http.GetHeaders()["authorization"])
	assert.Equal(t, "s-pay", http.GetHeaders()["mcp-session-id"])
	assert.Contains(t, string(http.GetRawBody()), `"refund_issue"`)
	assert.Equal(t, "mcp:payments", req.GetAttributes().GetContextExtensions()["resource"])
}

func TestCerbosRequestIsWhatSynapseAsks(t *testing.T) {
	for _, tc := range []struct {
		hop              Hop
		kind, id, action string
	}{
		{Hops(benchTicket)[0], "llm", "gpt-4o-mini", "completion"},
		{Hops(benchTicket)[1], "mcp:payments", "payments/refund_issue", "tools/call/refund_issue"},
		{Hops(benchTicket)[2], "mcp:tickets", "tickets", "tools/list"},
	} {
		req, err := CerbosRequest(tc.hop, testCaller())
		require.NoError(t, err, tc.hop.Kind)
		require.Len(t, req.GetResources(), 1)
		r := req.GetResources()[0]
		assert.Equal(t, tc.kind, r.GetResource().GetKind())
		assert.Equal(t, tc.id, r.GetResource().GetId())
		assert.Equal(t, []string{tc.action}, r.GetActions())
		p := req.GetPrincipal()
		assert.Equal(t, benchSubject, p.GetId())
		assert.Equal(t, "T-1001", p.GetAttr()["task"].GetStructValue().GetFields()["ticket_id"].GetStringValue())
	}
	refund, err := CerbosRequest(Hops(benchTicket)[1], testCaller())
	require.NoError(t, err)
	args := refund.GetResources()[0].GetResource().GetAttr()["arguments"].GetStructValue().GetFields()
	assert.Equal(t, 900000.0, args["amount_cents"].GetNumberValue(), "the amount over the tier-1 cap")
}

type fakeCerbos struct {
	svcv1.CerbosServiceClient
	effect  effectv1.Effect
	outputs int
}

func (f fakeCerbos) CheckResources(_ context.Context, req *requestv1.CheckResourcesRequest, _ ...grpc.CallOption) (*responsev1.CheckResourcesResponse, error) {
	resp := &responsev1.CheckResourcesResponse{}
	for _, r := range req.GetResources() {
		entry := &responsev1.CheckResourcesResponse_ResultEntry{Actions: map[string]effectv1.Effect{}}
		for _, a := range r.GetActions() {
			entry.Actions[a] = f.effect
		}
		for range f.outputs {
			entry.Outputs = append(entry.Outputs, &enginev1.OutputEntry{Src: "rule"})
		}
		resp.Results = append(resp.Results, entry)
	}
	return resp, nil
}

func TestCerbosMixExpectsTheDenialWithItsOutput(t *testing.T) {
	ctx := context.Background()
	mix, err := CerbosMix(fakeCerbos{effect: effectv1.Effect_EFFECT_DENY}, Hops(benchTicket), testCallers())
	require.NoError(t, err)
	assert.ErrorContains(t, mix[1].Do(ctx), "denied without the rule's output")
	assert.ErrorContains(t, mix[0].Do(ctx), "allowed false, want true")

	mix, err = CerbosMix(fakeCerbos{effect: effectv1.Effect_EFFECT_DENY, outputs: 1}, Hops(benchTicket), testCallers())
	require.NoError(t, err)
	assert.NoError(t, mix[1].Do(ctx))

	mix, err = CerbosMix(fakeCerbos{effect: effectv1.Effect_EFFECT_ALLOW}, Hops(benchTicket), testCallers())
	require.NoError(t, err)
	assert.NoError(t, mix[2].Do(ctx))
}

// TestSessionsAreOpenedThroughTheGatewayMeasured: a gateway that keeps its own MCP sessions
// (agentgateway's MCP proxy) knows only the ids it issued.
func TestSessionsAreOpenedThroughTheGatewayMeasured(t *testing.T) {
	var issued []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Header.Get("Mcp-Session-Id") == "" {
			id := "gw-" + r.URL.Path
			issued = append(issued, id)
			w.Header().Set("Mcp-Session-Id", id)
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)

	before := testCaller()
	after, err := before.WithSessionsThrough(context.Background(), srv.Client(), srv.URL, Hops(benchTicket))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"payments": "gw-/mcp/payments", "tickets": "gw-/mcp/tickets"}, after.Sessions)
	assert.Equal(t, before.Tokens, after.Tokens)
	assert.Equal(t, "s-pay", before.Sessions["payments"], "the caller it came from keeps its own sessions")
	assert.Len(t, issued, 2, "one session per server")

	broken := testCaller()
	broken.Tokens = map[string]string{}
	_, err = broken.WithSessionsThrough(context.Background(), srv.Client(), srv.URL, Hops(benchTicket))
	assert.ErrorContains(t, err, "status 401")
}

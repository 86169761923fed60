package pdp_test

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	effectv1 "github.com/cerbos/cerbos/api/genpb/cerbos/effect/v1"
	requestv1 "github.com/cerbos/cerbos/api/genpb/cerbos/request/v1"
	responsev1 "github.com/cerbos/cerbos/api/genpb/cerbos/response/v1"
	svcv1 "github.com/cerbos/cerbos/api/genpb/cerbos/svc/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/hopguard/hopguard/synapse/pdp"
)

// fakeCerbos answers CheckResources with whatever the test sets.
type fakeCerbos struct {
	svcv1.UnimplementedCerbosServiceServer
	delay  time.Duration
	answer func(*requestv1.CheckResourcesRequest) *responsev1.CheckResourcesResponse
	gotReq *requestv1.CheckResourcesRequest
	gotMD  metadata.MD
}

func (f *fakeCerbos) CheckResources(ctx context.Context, req *requestv1.CheckResourcesRequest) (*responsev1.CheckResourcesResponse, error) {
	f.gotReq = req
	f.gotMD, _ = metadata.FromIncomingContext(ctx)
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return f.answer(req), nil
}

func serveFake(t *testing.T, f *fakeCerbos) *pdp.Client {
	t.Helper()
	return serveFakeWithin(t, f, 100*time.Millisecond)
}

// serveFakeWithin is serveFake with the client's timeout on each call.
func serveFakeWithin(t *testing.T, f *fakeCerbos, timeout time.Duration) *pdp.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	svcv1.RegisterCerbosServiceServer(srv, f)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	client, err := pdp.Dial(l.Addr().String(), timeout)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func echoAllow(req *requestv1.CheckResourcesRequest) *responsev1.CheckResourcesResponse {
	resp := &responsev1.CheckResourcesResponse{RequestId: req.GetRequestId(), CerbosCallId: "call-1"}
	for _, r := range req.GetResources() {
		actions := map[string]effectv1.Effect{}
		for _, a := range r.GetActions() {
			actions[a] = effectv1.Effect_EFFECT_ALLOW
		}
		resp.Results = append(resp.Results, &responsev1.CheckResourcesResponse_ResultEntry{
			Resource: &responsev1.CheckResourcesResponse_ResultEntry_Resource{Kind: r.GetResource().GetKind(), Id: r.GetResource().GetId()},
			Actions:  actions,
		})
	}
	return resp
}

func TestClientEncodesRequestAndMetadata(t *testing.T) {
	f := &fakeCerbos{answer: echoAllow}
	client := serveFake(t, f)
	req := pdp.Request{
		RequestID: "d-1",
		Principal: pdp.Principal{ID: "alice", Roles: []string{"tier-1-support"}, Attr: map[string]any{
			"roles_copy": []string{"a", "b"},
			"task":       map[string]string{"id": "t-1", "status": "active"},
		}},
		Resources: []pdp.Resource{{
			Kind: "mcp:payments", ID: "payments/refund_issue", Actions: []string{"tools/call/refund_issue"},
			Attr: map[string]any{"arguments": json.RawMessage(`{"amount_cents":900000,"ticket_id":"T-1001"}`)},
		}},
		Metadata: pdp.Metadata{DecisionID: "d-1", AgentID: "agent\n\u00e9vil", TaskID: "t-1"},
	}
	resp, err := client.Check(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "call-1", resp.CallID)
	assert.Equal(t, pdp.EffectAllow, resp.Results[0].Actions["tools/call/refund_issue"])

	got := f.gotReq
	assert.Equal(t, "d-1", got.GetRequestId())
	assert.Equal(t, []string{"tier-1-support"}, got.GetPrincipal().GetRoles())
	assert.Equal(t, []any{"a", "b"}, got.GetPrincipal().GetAttr()["roles_copy"].AsInterface())
	assert.Equal(t, map[string]any{"id": "t-1", "status": "active"}, got.GetPrincipal().GetAttr()["task"].AsInterface())
	assert.Equal(t, map[string]any{"amount_cents": float64(900000), "ticket_id": "T-1001"},
		got.GetResources()[0].GetResource().GetAttr()["arguments"].AsInterface())

	assert.Equal(t, []string{"d-1"}, f.gotMD.Get(pdp.HeaderDecisionID))
	assert.Equal(t, []string{"agent??vil"}, f.gotMD.Get(pdp.HeaderAgentID), "header values are made printable ASCII")
	assert.Equal(t, []string{"t-1"}, f.gotMD.Get(pdp.HeaderTaskID))
	assert.Empty(t, f.gotMD.Get(pdp.HeaderHarnessVersion), "empty values are not sent")
}

func TestClientFailures(t *testing.T) {
	tests := []struct {
		name   string
		fake   *fakeCerbos
		reason string
	}{
		{"timeout", &fakeCerbos{delay: time.Hour, answer: echoAllow}, "timeout"},
		{"too few results", &fakeCerbos{answer: func(*requestv1.CheckResourcesRequest) *responsev1.CheckResourcesResponse {
			return &responsev1.CheckResourcesResponse{}
		}}, "invalid_response"},
		{"result for another resource", &fakeCerbos{answer: func(req *requestv1.CheckResourcesRequest) *responsev1.CheckResourcesResponse {
			resp := echoAllow(req)
			resp.Results[0].Resource.Id = "someone-else"
			return resp
		}}, "invalid_response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := serveFake(t, tt.fake)
			resp, err := client.Check(context.Background(), invoiceRequest(1, "read"))
			require.Error(t, err)
			assert.Nil(t, resp)
			assert.Equal(t, tt.reason, pdp.ErrorReason(err))
		})
	}
}

func TestClientRefusesUnencodableAttributes(t *testing.T) {
	client := serveFake(t, &fakeCerbos{answer: echoAllow})
	req := invoiceRequest(1, "read")
	req.Resources[0].Attr = map[string]any{"bad": make(chan int)}
	_, err := client.Check(context.Background(), req)
	require.ErrorIs(t, err, pdp.ErrInvalidRequest)
	assert.Equal(t, "invalid_request", pdp.ErrorReason(err))
}

func TestDeniesEveryEffectButAllow(t *testing.T) {
	client := serveFake(t, &fakeCerbos{answer: func(req *requestv1.CheckResourcesRequest) *responsev1.CheckResourcesResponse {
		resp := echoAllow(req)
		resp.Results[0].Actions = map[string]effectv1.Effect{
			"read": effectv1.Effect_EFFECT_NO_MATCH, "pay": effectv1.Effect_EFFECT_UNSPECIFIED, "list": effectv1.Effect_EFFECT_DENY,
		}
		return resp
	}})
	resp, err := client.Check(context.Background(), invoiceRequest(1, "read", "pay", "list"))
	require.NoError(t, err)
	assert.Equal(t, map[string]pdp.Effect{"read": pdp.EffectDeny, "pay": pdp.EffectDeny, "list": pdp.EffectDeny}, resp.Results[0].Actions)
}

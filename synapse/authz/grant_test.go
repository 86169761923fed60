package authz_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/synapse/authz"
	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/respond"
	"github.com/hopguard/hopguard/synapse/visibility"
)

// clientGrant is what a client puts in the grant header, hoping to be shown a list as another.
const clientGrant = "a-grant-the-client-made"

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func newSealer(t *testing.T) *visibility.Sealer {
	t.Helper()
	s, err := visibility.NewSealer([]byte(strings.Repeat("k", 16)+strings.Repeat("e", 16)), 2*time.Minute)
	require.NoError(t, err)
	return s
}

// withClientGrant is req as a client that sent its own grant header would have it checked.
func withClientGrant(req *authv3.CheckRequest) *authv3.CheckRequest {
	req.GetAttributes().GetRequest().GetHttp().GetHeaders()[respond.HeaderGrant] = clientGrant
	return req
}

// grantHeader is the grant header an allowed response sets on the forwarded request, if any.
func grantHeader(t *testing.T, ok *authv3.OkHttpResponse) (string, bool) {
	t.Helper()
	var values []*corev3.HeaderValueOption
	for _, h := range ok.GetHeaders() {
		if h.GetHeader().GetKey() == respond.HeaderGrant {
			values = append(values, h)
		}
	}
	if len(values) == 0 {
		return "", false
	}
	require.Len(t, values, 1, "one grant at most")
	assert.Equal(t, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, values[0].GetAppendAction(), "set over the client's copy")
	return values[0].GetHeader().GetValue(), true
}

// TestAllowedRequestsCarryNoGrantButSynapses: every allowed request has the client's grant
// header removed, or, on an allowed list alone, overwritten by synapse's sealed grant, whatever
// the gateway and the plane. Without a sealer, a list is not allowed at all: the gateway runs the
// response path only on a request that carries a grant, so a list without one would pass
// unfiltered.
func TestAllowedRequestsCarryNoGrantButSynapses(t *testing.T) {
	tests := []struct {
		name, resource, path, body string
		list                       bool
		lists                      []visibility.ListRequest // what the grant names
	}{
		{name: "model call", resource: "llm", path: "/v1/chat/completions", body: checktest.ChatBody("gpt-4o-mini")},
		{name: "tool call", resource: "mcp:tickets", path: "/mcp/tickets",
			body: `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_ticket","arguments":{"ticket_id":"T-1001"}}}`},
		{name: "initialize", resource: "mcp:tickets", path: "/mcp/tickets", body: checktest.InitializeBody},
		{name: "tools/list", resource: "mcp:tickets", path: "/mcp/tickets", body: `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, list: true,
			lists: []visibility.ListRequest{{Method: "tools/list", ID: json.RawMessage(`3`)}}},
		{name: "resources/list", resource: "mcp:knowledge", path: "/mcp/knowledge", body: `{"jsonrpc":"2.0","id":"r-4","method":"resources/list"}`, list: true,
			lists: []visibility.ListRequest{{Method: "resources/list", ID: json.RawMessage(`"r-4"`)}}},
		{name: "prompts/list in a batch", resource: "mcp:tickets", path: "/mcp/tickets",
			body: `[{"jsonrpc":"2.0","id":5,"method":"prompts/list"},{"jsonrpc":"2.0","id":6,"method":"ping"},{"jsonrpc":"2.0","id":7,"method":"tools/list"}]`, list: true,
			lists: []visibility.ListRequest{{Method: "prompts/list", ID: json.RawMessage(`5`)}, {Method: "tools/list", ID: json.RawMessage(`7`)}}},
	}
	for _, sealed := range []bool{true, false} {
		for _, gw := range checktest.Gateways {
			for _, tt := range tests {
				name := gw.Name + "/" + tt.name
				if !sealed {
					name += "/no sealer"
				}
				t.Run(name, func(t *testing.T) {
					sealer := newSealer(t)
					f := newFixture(t, func(o *authz.Options) {
						o.Now = func() time.Time { return now }
						if sealed {
							o.Sealer = sealer
						}
					})
					f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
					f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(answer(pdp.EffectAllow, nil, nil)).Once()

					resp, err := f.svc.Check(context.Background(), withClientGrant(gw.Build(tt.resource, "POST", tt.path, f.alice(t, tt.resource), tt.body)))
					require.NoError(t, err)
					if !sealed && tt.list {
						assertListWithheld(t, resp)
						return
					}
					require.Equal(t, int32(codes.OK), resp.GetStatus().GetCode())
					ok := resp.GetOkResponse()
					value, set := grantHeader(t, ok)
					if !tt.list {
						assert.False(t, set, "no grant is set")
						assert.Contains(t, ok.GetHeadersToRemove(), respond.HeaderGrant, "the client's grant is removed")
						return
					}
					require.True(t, set, "an allowed list carries its grant")
					assert.NotContains(t, ok.GetHeadersToRemove(), respond.HeaderGrant, "set, not also removed")
					assert.NotEqual(t, clientGrant, value)
					grant, err := sealer.Open(decisionID, value, now)
					require.NoError(t, err)
					assert.Equal(t, "alice", grant.Principal.ID)
					assert.Equal(t, []string{"tier-1-support"}, grant.Principal.Roles)
					assert.Equal(t, tt.resource, grant.Kind)
					assert.Equal(t, pdp.Metadata{DecisionID: decisionID, AgentID: "triage", HarnessVersion: "1.0.0", TaskID: "task-1"}, grant.Metadata)
					assert.Equal(t, tt.lists, grant.Lists, "the grant names the body's list requests")
				})
			}
		}
	}
}

func TestADeniedListCarriesNoGrant(t *testing.T) {
	f := newFixture(t, func(o *authz.Options) { o.Sealer = newSealer(t) })
	f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
	f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(answer(pdp.EffectDeny, nil, nil)).Once()
	resp, err := f.svc.Check(context.Background(), withClientGrant(checktest.Envoy("mcp:tickets", "POST", "/mcp/tickets", f.alice(t, "mcp:tickets"), `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)))
	require.NoError(t, err)
	assertDenied(t, resp, 200)
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		assert.NotEqual(t, respond.HeaderGrant, h.GetHeader().GetKey())
	}
}

// TestAListWhoseGrantIsTooLargeIsWithheld: a principal whose grant would not fit the header
// bound is not allowed its list, which no response path could filter; it is answered as the
// response path withholds a list, and logged. The token fits synapse's bound on tokens (16 KiB);
// the grant repeats some of its claims.
func TestAListWhoseGrantIsTooLargeIsWithheld(t *testing.T) {
	f := newFixture(t, func(o *authz.Options) { o.Sealer = newSealer(t) })
	long := strings.Repeat("x", 3<<10)
	token := f.iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "mcp:tickets", Roles: []string{"tier-1-support"},
		AgentID: "triage-" + long, HarnessVersion: "1.0.0-" + long, TaskID: "task-1", Actor: "spiffe://hopguard.local/" + long})
	f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
	f.pdp.EXPECT().Check(mock.Anything, mock.Anything).RunAndReturn(answer(pdp.EffectAllow, nil, nil)).Once()
	resp, err := f.svc.Check(context.Background(), withClientGrant(checktest.Envoy("mcp:tickets", "POST", "/mcp/tickets", token, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)))
	require.NoError(t, err)
	assertListWithheld(t, resp)
	assert.Contains(t, f.logs.String(), "the list's grant could not be sealed")
	assert.Contains(t, f.logs.String(), "too large")
}

// assertListWithheld checks that a list was answered unavailable, list_withheld, with no grant.
func assertListWithheld(t *testing.T, resp *authv3.CheckResponse) {
	t.Helper()
	assert.Equal(t, int32(codes.Unavailable), resp.GetStatus().GetCode())
	assert.Equal(t, "list_withheld", resp.GetStatus().GetMessage())
	require.NotNil(t, resp.GetDeniedResponse(), "the list is not forwarded")
	assert.Contains(t, string(resp.GetDeniedResponse().GetBody()), "list_withheld")
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		assert.NotEqual(t, respond.HeaderGrant, h.GetHeader().GetKey())
	}
}

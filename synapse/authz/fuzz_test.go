package authz_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/synapse/authz"
	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/metrics"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// allowAll is the worst PDP there is: it allows every action it is asked about. Behind it, only
// synapse's own checks stand between a request and an allow.
type allowAll struct{}

func (allowAll) Check(ctx context.Context, req pdp.Request) (*pdp.Response, error) {
	return answer(pdp.EffectAllow, nil, nil)(ctx, req)
}

// aliceTasks knows alice's one active task.
type aliceTasks struct{}

func (aliceTasks) Get(_ context.Context, id string) (tasks.Task, error) {
	if id == aliceTask.ID {
		return aliceTask, nil
	}
	return tasks.Task{}, tasks.ErrNotFound
}

// fuzzAudiences are the resources genuine tokens are minted for; fuzzRoutes is the route table
// of the Istio shape, which carries no resource of its own.
var (
	fuzzAudiences = []string{"llm", "mcp:payments", "mcp:tickets"}
	fuzzRoutes    = mapping.RouteTable{{PathPrefix: "/v1/", Resource: "llm"}, {PathPrefix: "/mcp/payments", Resource: "mcp:payments"}}
)

// FuzzCheck drives the whole Check (mapping, token verification, task lookup, the PDP call and
// the answer) with hostile requests in each gateway's shape, behind a PDP that allows everything.
// Whatever the request, an allow must rest on a genuine token minted for exactly the resource of
// the route the gateway matched, sent as the one bearer credential: no input is allowed on an
// absent, forged, altered, padded or other-resource token.
func FuzzCheck(f *testing.F) {
	svc, tokens := newFuzzService(f)

	const chat = `{"model":"gpt-4o-mini","messages":[]}`
	const refund = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund_issue","arguments":{"ticket_id":"T-1001","amount_cents":900000}}}`
	seeds := []struct {
		shape                   uint8
		tokenFor, before, after string
		method, path, resource  string
		body                    string
	}{
		{0, "llm", "Bearer ", "", "POST", "/v1/chat/completions", "llm", chat},              // allowed
		{2, "llm", "Bearer ", "", "POST", "/v1/chat/completions", "", chat},                 // allowed, route table
		{0, "mcp:payments", "Bearer ", "", "POST", "/mcp/payments", "mcp:payments", refund}, // allowed
		{0, "mcp:tickets", "Bearer ", "", "POST", "/mcp/payments", "mcp:payments", refund},  // another resource's token
		{1, "llm", "bearer ", "", "POST", "/v1/chat/completions", "llm", chat},
		{0, "llm", "Bearer  ", " ", "POST", "/v1/chat/completions", "llm", chat},
		{0, "llm", "Bearer ", "A", "POST", "/v1/chat/completions", "llm", chat},
		{0, "llm", "Bearer x, Bearer ", "", "POST", "/v1/chat/completions", "llm", chat},
		{0, "", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", "", "POST", "/v1/chat/completions", "llm", chat},
		{2, "llm", "Bearer ", "", "POST", "/v1/../mcp/payments", "", refund},
		{0, "llm", "Bearer ", "", "GET", "/mcp/payments", "mcp:payments", ""},
	}
	for _, s := range seeds {
		f.Add(s.shape, s.tokenFor, s.before, s.after, s.method, s.path, s.resource, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, shape uint8, tokenFor, before, after, method, path, resource string, body []byte) {
		auth := before + tokens[tokenFor] + after
		req := fuzzCheckRequest(shape, auth, method, path, resource, body)
		resp, err := svc.Check(context.Background(), req)
		if err != nil {
			t.Fatalf("Check returned an error instead of an answer: %v", err)
		}
		if resp.GetStatus().GetCode() != int32(codes.OK) {
			if resp.GetDeniedResponse() == nil {
				t.Fatalf("a denial without a denied response: %v", resp)
			}
			return
		}
		routed := resource
		if shape%3 == 2 {
			var ok bool
			if routed, ok = fuzzRoutes.Lookup(path); !ok {
				t.Fatalf("allowed %s %q, which no route matches", method, path)
			}
		}
		scheme, credential, _ := strings.Cut(auth, " ")
		if tokens[routed] == "" || !strings.EqualFold(scheme, "bearer") || credential != tokens[routed] {
			t.Fatalf("allowed on resource %q with authorization %q, not the genuine token for it", routed, auth)
		}
	})
}

// newFuzzService is synapse's Check behind allowAll, with genuine tokens for each of
// fuzzAudiences.
func newFuzzService(tb testing.TB) (*authz.Service, map[string]string) {
	iss := identitytest.NewIssuer(tb)
	verifier := identity.NewVerifier(identity.NewKeySet(identity.KeySetConfig{URL: iss.JWKSURL()}), identitytest.DefaultIssuer, 30*time.Second)
	tokens := map[string]string{}
	for _, aud := range fuzzAudiences {
		tokens[aud] = iss.Mint(tb, identitytest.Token{
			Subject: "alice", Audience: aud, Roles: []string{"tier-1-support"},
			AgentID: "triage", HarnessVersion: "1.0.0", TaskID: aliceTask.ID,
			Actor: "spiffe://hopguard.local/ns/agents/sa/triage",
		})
	}
	svc, err := authz.New(authz.Options{
		Routes: fuzzRoutes, Tokens: verifier, Tasks: aliceTasks{}, PDP: allowAll{},
		Audit: &auditRecorder{}, Metrics: metrics.New(), Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return svc, tokens
}

// TestFuzzCheckSeesAllows keeps FuzzCheck honest: its genuine requests are allowed behind
// allowAll, so its property is tested against real allows, and near misses are denied.
func TestFuzzCheckSeesAllows(t *testing.T) {
	svc, tokens := newFuzzService(t)
	const chat = `{"model":"gpt-4o-mini","messages":[]}`
	tests := []struct {
		name           string
		shape          uint8
		auth           string
		path, resource string
		allowed        bool
	}{
		{"Envoy, the llm token", 0, "Bearer " + tokens["llm"], "/v1/chat/completions", "llm", true},
		{"agentgateway as text, the llm token", 1, "Bearer " + tokens["llm"], "/v1/chat/completions", "llm", true},
		{"Istio, the route table's resource", 2, "Bearer " + tokens["llm"], "/v1/chat/completions", "", true},
		{"another resource's token", 0, "Bearer " + tokens["mcp:tickets"], "/v1/chat/completions", "llm", false},
		{"one character more", 0, "Bearer " + tokens["llm"] + "A", "/v1/chat/completions", "llm", false},
		{"two spaces", 0, "Bearer  " + tokens["llm"], "/v1/chat/completions", "llm", false},
		{"no scheme", 0, tokens["llm"], "/v1/chat/completions", "llm", false},
		{"Istio, no route", 2, "Bearer " + tokens["llm"], "/v2/chat/completions", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := svc.Check(t.Context(), fuzzCheckRequest(tt.shape, tt.auth, "POST", tt.path, tt.resource, []byte(chat)))
			require.NoError(t, err)
			assert.Equal(t, tt.allowed, resp.GetStatus().GetCode() == int32(codes.OK), "status %v", resp.GetStatus())
		})
	}
}

// fuzzCheckRequest builds a CheckRequest as Envoy (shape 0), agentgateway without packAsBytes
// (1) or Istio (2, no context extensions) sends it, reporting the body's true size.
func fuzzCheckRequest(shape uint8, auth, method, path, resource string, body []byte) *authv3.CheckRequest {
	h := &authv3.AttributeContext_HttpRequest{
		Method: method, Path: path, Size: int64(len(body)),
		Headers: map[string]string{":method": method, ":path": path, "authorization": auth},
	}
	if len(body) > 0 {
		h.Headers["content-type"] = "application/json"
	}
	attrs := &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: h}}
	switch shape % 3 {
	case 0:
		h.RawBody = body
		h.Headers["x-envoy-auth-partial-body"] = "false"
		attrs.ContextExtensions = map[string]string{"resource": resource}
	case 1:
		h.Body = strings.ToValidUTF8(string(body), "\ufffd")
		attrs.ContextExtensions = map[string]string{"resource": resource}
	case 2:
		h.RawBody = body
	}
	return &authv3.CheckRequest{Attributes: attrs}
}

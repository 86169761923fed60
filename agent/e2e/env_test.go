// Package e2e_test runs the agent end to end against the mock servers and
// the mock STS, with a stand-in for gateway + synapse in between. The stand-in
// is synapse without Cerbos: every request goes through synapse/mapping, the
// token through synapse/identity (against the STS's JWKS), a small Go policy
// decides, and synapse/respond writes the allow or the denial, so the agent
// meets the exact denial shapes synapse returns. A denied request is never
// forwarded.
package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/mockservers/llm"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
	"github.com/hopguard/hopguard/mockservers/sts"
	synapseid "github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
)

// The demo's principals (CONTRACTS.md).
const triageID = "spiffe://hopguard.local/ns/agents/sa/triage"

var (
	alice  = identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"}
	carol  = identity.ClientCredentials{ClientID: "carol", ClientSecret: "carol-secret"}
	triage = identity.ClientCredentials{ClientID: triageID, ClientSecret: "triage-secret"}
)

// check is what the stand-in synapse asks its policy about one hop: one
// mapping.Check joined with the verified token.
type check struct {
	Principal string
	Actor     string
	Roles     []string
	TaskID    string
	Resource  string // Cerbos kind: "llm", "mcp:payments"
	Action    string // "completion", "initialize", "tools/list", "tools/call/refund_issue"
	Model     string
	Tool      string
	Arguments map[string]any
}

func (c check) has(role string) bool { return slices.Contains(c.Roles, role) }

// policy returns the policy output of a denial, or nil to allow.
type policy func(c check) *respond.Denial

func deny(code, reason string, remediation map[string]any) *respond.Denial {
	return &respond.Denial{Decision: respond.DecisionDeny, Reason: reason, Code: code, Remediation: remediation}
}

// demoPolicy is the demo's model in a few lines (policies/ holds the real one).
func demoPolicy(c check) *respond.Denial {
	switch {
	case c.Resource == "llm":
		if !slices.Contains(llm.DefaultModels(), c.Model) {
			return deny("model_not_allowed", "model "+c.Model+" is not on any menu", nil)
		}
		if c.has("triage-agent") && c.Model != "gpt-4o-mini" {
			return deny("model_not_allowed", "triage-agent is pinned to gpt-4o-mini",
				map[string]any{"type": "use_model", "model": "gpt-4o-mini"})
		}
	case c.Resource == "mcp:payroll" && !c.has("payroll-admin"):
		return deny("server_not_allowed", "payroll requires payroll-admin", nil)
	case c.has("triage-agent") && c.Resource != "mcp:tickets" && c.Resource != "mcp:crm":
		return deny("server_not_allowed", "triage-agent may open tickets and crm only", nil)
	case c.Action == "tools/call/refund_issue" && c.has("tier-1-support"):
		if amount, _ := c.Arguments["amount_cents"].(float64); amount > 5000 {
			return deny("refund_cap_exceeded", "tier-1-support refund cap exceeded",
				map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"})
		}
	}
	return nil
}

// env is the mock upstreams, the STS and the stand-in gateway.
type env struct {
	t       *testing.T
	sts     *sts.Server
	llm     *llm.Server
	mcp     map[string]*mcpserver.Server
	stsURL  string
	gateway string

	verifier *synapseid.Verifier

	mu        sync.Mutex
	decisions int
	policy    policy
	checks    []check
	revoked   map[string]bool
	// failClosed makes every hop deny as synapse does when Cerbos is down.
	failClosed bool
	// broken makes the gateway answer hops on this resource with a 502, as
	// when the upstream cannot be reached.
	broken map[string]bool
	// onCheck runs after each check the policy allowed, before the request
	// is forwarded (a test uses it to revoke the task).
	onCheck func(c check)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	e := &env{t: t, mcp: map[string]*mcpserver.Server{}, policy: demoPolicy, revoked: map[string]bool{}, broken: map[string]bool{}}
	var err error
	e.sts, err = sts.New(sts.Config{Logger: logger})
	require.NoError(t, err)
	stsSrv := httptest.NewServer(e.sts)
	t.Cleanup(stsSrv.Close)
	e.stsURL = stsSrv.URL
	keys := synapseid.NewKeySet(synapseid.KeySetConfig{URL: stsSrv.URL + sts.JWKSPath, Client: stsSrv.Client()})
	e.verifier = synapseid.NewVerifier(keys, e.sts.Issuer(), 5*time.Second)

	e.llm, err = llm.New(llm.Config{ProviderKey: llm.DefaultProviderKey, Models: llm.DefaultModels(), Logger: logger})
	require.NoError(t, err)
	for _, name := range mcpserver.Names() {
		srv, err := mcpserver.New(mcpserver.Config{Name: name, Logger: logger})
		require.NoError(t, err)
		e.mcp[string(name)] = srv
	}
	gw := httptest.NewServer(http.HandlerFunc(e.serveGateway))
	t.Cleanup(gw.Close)
	e.gateway = gw.URL
	return e
}

// config is a run of principal on ticket through this environment.
func (e *env) config(subject identity.ClientCredentials, ticket, model string) loop.Config {
	return loop.Config{
		GatewayURL: e.gateway,
		STSURL:     e.stsURL,
		Subject:    subject,
		Attestation: identity.Attestation{
			AgentID: "triage-agent", HarnessVersion: "0.1.0-test", TaskID: "task-" + ticket,
		},
		Ticket:         ticket,
		Model:          model,
		RequestTimeout: 10 * time.Second,
	}
}

// Checks returns every check the gateway made.
func (e *env) Checks() []check {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]check(nil), e.checks...)
}

func (e *env) revoke(taskID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.revoked[taskID] = true
}

func (e *env) serveGateway(w http.ResponseWriter, r *http.Request) {
	var (
		resource string
		upstream http.Handler
	)
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		resource, upstream = mapping.ResourceLLM, e.llm
	case strings.HasPrefix(r.URL.Path, "/mcp/"):
		server := strings.TrimPrefix(r.URL.Path, "/mcp/")
		srv, ok := e.mcp[server]
		if !ok {
			http.NotFound(w, r)
			return
		}
		resource, upstream = mapping.MCPResourcePrefix+server, srv
	default:
		http.NotFound(w, r)
		return
	}
	req, err := checkRequest(r, resource)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	e.mu.Lock()
	e.decisions++
	decisionID := fmt.Sprintf("dec-%d", e.decisions)
	e.mu.Unlock()
	var resp *authv3.CheckResponse
	in, err := mapping.Map(req, nil)
	if err != nil {
		var refusal *mapping.Error
		if !errors.As(err, &refusal) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp = respond.Denied(in, respond.Refusal(refusal), decisionID, respond.Provenance{})
	} else {
		resp = e.decide(r.Context(), in, decisionID)
	}

	if denied := resp.GetDeniedResponse(); denied != nil {
		for _, h := range denied.GetHeaders() {
			w.Header().Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		w.WriteHeader(int(denied.GetStatus().GetCode()))
		_, _ = io.WriteString(w, denied.GetBody())
		return
	}
	e.mu.Lock()
	broken := e.broken[resource]
	e.mu.Unlock()
	if broken {
		http.Error(w, "upstream connect error or disconnect/reset before headers", http.StatusBadGateway)
		return
	}
	// On allow: the agent's token goes, the provider key comes for the model.
	ok := resp.GetOkResponse()
	for _, name := range ok.GetHeadersToRemove() {
		r.Header.Del(name)
	}
	for _, h := range ok.GetHeaders() {
		r.Header.Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
	}
	for _, h := range ok.GetResponseHeadersToAdd() {
		w.Header().Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
	}
	if resource == mapping.ResourceLLM {
		r.Header.Set("Authorization", "Bearer "+llm.DefaultProviderKey)
	} else {
		r.URL.Path = mcpserver.EndpointPath
	}
	upstream.ServeHTTP(w, r)
}

// decide verifies the route's token and asks the policy about every check,
// as synapse/authz does with Cerbos.
func (e *env) decide(ctx context.Context, in *mapping.Input, decisionID string) *authv3.CheckResponse {
	e.mu.Lock()
	failClosed := e.failClosed
	e.mu.Unlock()
	if failClosed {
		return respond.Unavailable(in, respond.Denial{Reason: "authorization service unavailable", Code: "pdp_unavailable"}, decisionID)
	}
	claims, err := e.verifier.Verify(ctx, in.Token, in.Resource)
	if err != nil {
		return respond.Denied(in, respond.Denial{Reason: err.Error(), Code: "invalid_token"}, decisionID, respond.Provenance{})
	}
	for _, mc := range in.Checks {
		c := check{
			Principal: claims.Subject, Actor: claims.Actor, Roles: claims.Roles, TaskID: claims.TaskID,
			Resource: mc.Kind, Action: mc.Action,
		}
		if mc.Kind == mapping.ResourceLLM {
			c.Model = mc.ID
		}
		if mc.MCP != nil {
			c.Tool = mc.MCP.Tool
		}
		c.Arguments, _ = mc.Attr["arguments"].(map[string]any)

		e.mu.Lock()
		e.checks = append(e.checks, c)
		revoked, pol, onCheck := e.revoked[c.TaskID], e.policy, e.onCheck
		e.mu.Unlock()
		if revoked {
			return respond.Denied(in, respond.Denial{Reason: "task " + c.TaskID + " was revoked", Code: "task_revoked"}, decisionID, respond.Provenance{})
		}
		if out := pol(c); out != nil {
			return respond.Denied(in, *out, decisionID, respond.Provenance{})
		}
		if onCheck != nil {
			onCheck(c)
		}
	}
	return respond.Allowed(decisionID, respond.Provenance{})
}

// checkRequest builds the CheckRequest Envoy sends for r (with_request_body,
// pack_as_bytes, the route's resource as a context extension) and leaves r's
// body readable for the upstream.
func checkRequest(r *http.Request, resource string) (*authv3.CheckRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	headers := map[string]string{}
	for name, values := range r.Header {
		headers[strings.ToLower(name)] = strings.Join(values, ",")
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		ContextExtensions: map[string]string{"resource": resource},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: r.Method, Path: r.URL.RequestURI(), Headers: headers, RawBody: body, Size: int64(len(body)),
		}},
	}}, nil
}

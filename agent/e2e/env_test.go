// Package e2e_test runs the agent end to end against the mock servers and
// the mock STS, with a stand-in for gateway + synapse in between: it checks
// the per-resource token of every hop, asks a small policy, and answers a
// denial with the exact bodies of DESIGN.md "Denials the agent can read",
// never forwarding a denied request.
package e2e_test

import (
	"bytes"
	"encoding/json"
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

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/mockservers/llm"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
	"github.com/hopguard/hopguard/mockservers/sts"
)

// The demo's principals (CONTRACTS.md).
const triageID = "spiffe://hopguard.local/ns/agents/sa/triage"

var (
	alice  = identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"}
	carol  = identity.ClientCredentials{ClientID: "carol", ClientSecret: "carol-secret"}
	triage = identity.ClientCredentials{ClientID: triageID, ClientSecret: "triage-secret"}
)

// check is what the stand-in synapse asks its policy about one hop.
type check struct {
	Principal string
	Actor     string
	Roles     []string
	TaskID    string
	Resource  string // "llm", "mcp:payments"
	Action    string // "completion", "initialize", "tools/list", "tools/call/refund_issue"
	Model     string
	Tool      string
	Arguments map[string]any
}

func (c check) has(role string) bool { return slices.Contains(c.Roles, role) }

// policy returns the policy output of a denial, or nil to allow.
type policy func(c check) map[string]any

func deny(code, reason string, remediation map[string]any) map[string]any {
	out := map[string]any{"decision": "deny", "reason": reason, "code": code}
	if remediation != nil {
		out["remediation"] = remediation
	}
	return out
}

// demoPolicy is the demo's model in a few lines (policies/ holds the real one).
func demoPolicy(c check) map[string]any {
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

	mu      sync.Mutex
	policy  policy
	checks  []check
	revoked map[string]bool
	// failClosed makes every hop deny as synapse does when Cerbos is down.
	failClosed bool
	// broken makes the gateway answer hops on this resource with a 502, as
	// when the upstream cannot be reached.
	broken map[string]bool
	// onCheck runs after each allowed check (a test uses it to revoke).
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
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	var (
		c        check
		upstream http.Handler
		rpcID    json.RawMessage
	)
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		c.Resource, c.Action, upstream = "llm", "completion", e.llm
		var req struct {
			Model string `json:"model"`
		}
		_ = json.Unmarshal(body, &req)
		c.Model = req.Model
	case strings.HasPrefix(r.URL.Path, "/mcp/"):
		server := strings.TrimPrefix(r.URL.Path, "/mcp/")
		srv, ok := e.mcp[server]
		if !ok {
			http.NotFound(w, r)
			return
		}
		c.Resource, upstream = "mcp:"+server, srv
		r.URL.Path = mcpserver.EndpointPath
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Name      string         `json:"name"`
				Arguments map[string]any `json:"arguments"`
			} `json:"params"`
		}
		_ = json.Unmarshal(body, &msg)
		rpcID = msg.ID
		switch msg.Method {
		case "initialize", "server/discover":
			c.Action = "initialize"
		case "tools/call":
			c.Action, c.Tool, c.Arguments = "tools/call/"+msg.Params.Name, msg.Params.Name, msg.Params.Arguments
		case "":
			c.Action = strings.ToLower(r.Method)
		default:
			c.Action = msg.Method
		}
	default:
		http.NotFound(w, r)
		return
	}

	output := e.decide(r, &c)
	e.mu.Lock()
	e.checks = append(e.checks, c)
	onCheck, broken := e.onCheck, e.broken[c.Resource]
	e.mu.Unlock()
	if output != nil {
		e.writeDenial(w, c, rpcID, output)
		return
	}
	if onCheck != nil {
		onCheck(c)
	}
	if broken {
		http.Error(w, "upstream connect error or disconnect/reset before headers", http.StatusBadGateway)
		return
	}
	// On allow, the agent's token is removed; the provider key is added for the model.
	r.Header.Del("Authorization")
	if c.Resource == "llm" {
		r.Header.Set("Authorization", "Bearer "+llm.DefaultProviderKey)
	}
	upstream.ServeHTTP(w, r)
}

// decide verifies the route's token, fills in the principal and asks the policy.
func (e *env) decide(r *http.Request, c *check) map[string]any {
	e.mu.Lock()
	failClosed := e.failClosed
	e.mu.Unlock()
	if failClosed {
		return deny("pdp_unavailable", "authorization service unavailable", nil)
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return deny("missing_token", "no bearer token", nil)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return deny("invalid_token", "token: "+err.Error(), nil)
	}
	var claims sts.Claims
	if err := tok.Claims(e.sts.PublicKey(), &claims); err != nil {
		return deny("invalid_token", "token signature: "+err.Error(), nil)
	}
	if err := claims.Validate(jwt.Expected{Issuer: e.sts.Issuer(), AnyAudience: jwt.Audience{c.Resource}, Time: time.Now()}); err != nil {
		return deny("invalid_token", fmt.Sprintf("token for %v presented on %s: %v", claims.Audience, c.Resource, err), nil)
	}
	c.Principal, c.Roles, c.TaskID = claims.Subject, claims.Roles, claims.TaskID
	if claims.Act != nil {
		c.Actor = claims.Act.Subject
	}
	e.mu.Lock()
	revoked, pol := e.revoked[c.TaskID], e.policy
	e.mu.Unlock()
	if revoked {
		return deny("task_revoked", "task "+c.TaskID+" was revoked", nil)
	}
	return pol(*c)
}

// writeDenial answers in the shape the agent's client reads on that route.
func (e *env) writeDenial(w http.ResponseWriter, c check, rpcID json.RawMessage, output map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Hopguard-Decision", "deny")
	w.Header().Set("X-Hopguard-Decision-Id", fmt.Sprintf("dec-%d", len(e.Checks())))
	reason, _ := output["reason"].(string)
	code, _ := output["code"].(string)
	outJSON, _ := json.Marshal(output)
	var (
		status = http.StatusOK
		body   any
	)
	switch {
	case c.Resource == "llm":
		status = http.StatusForbidden
		if code == "pdp_unavailable" {
			status = http.StatusServiceUnavailable
			w.Header().Set("X-Should-Retry", "false")
		}
		body = map[string]any{"error": map[string]any{
			"type": "permission_denied", "code": code, "message": "denied: " + reason, "hopguard": output,
		}}
	case strings.HasPrefix(c.Action, "tools/call/"):
		body = map[string]any{"jsonrpc": "2.0", "id": rpcID, "result": map[string]any{
			"isError":           true,
			"content":           []any{map[string]any{"type": "text", "text": "denied: " + reason + "\n" + string(outJSON)}},
			"structuredContent": output,
			"_meta":             map[string]any{"io.hopguard/denial": output},
		}}
	default:
		body = map[string]any{"jsonrpc": "2.0", "id": rpcID, "error": map[string]any{
			"code": -32001, "message": "denied: " + reason, "data": output,
		}}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

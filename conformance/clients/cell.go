package clients

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// cell is one client x gateway x kind of hop.
type cell struct {
	order  int // the entry's place in the matrix
	client client
	spec   spec
	env    scenarios.Env

	// Set by prepare: the hop's task and credential.
	taskID string
	token  string

	result report.ClientCell
	// upstream is what the route's upstream received while an allowed cell was played.
	upstream []journal.Entry
}

// The expectations a cell is judged by, as the report names them.
const (
	checkWorks    = "works"          // an allowed hop goes through and reaches its upstream
	checkDenied   = "denied"         // a hop that must be denied is
	checkTyped    = "sdk error type" // the denial is read through the SDK's own type for it
	checkCode     = "code"           // hopguard's code is readable there
	checkOnce     = "no retry"       // no request of the call is sent twice
	checkProtocol = "protocol"       // an MCP session speaks the protocol version its client plays
)

// prepare creates the cell's task and gets its credential: before any component is stopped,
// since the admin API is synapse's.
func (p *player) prepare(ctx context.Context, c *cell) error {
	slug := func(s string) string { return strings.NewReplacer(" ", "-", ",", "").Replace(strings.ToLower(s)) }
	c.taskID = fmt.Sprintf("%s-%s-clients-%s-%s", c.env.RunID, c.env.Gateway, slug(c.client.name), slug(c.spec.hop))
	if err := aliceTask(ctx, c.env, c.taskID, c.spec.ticket); err != nil {
		return err
	}
	resource := c.spec.resource()
	switch c.spec.token {
	case noToken:
		return nil
	case otherToken:
		resource = otherResource
	}
	tok, err := token(ctx, c.env.STSURL, c.taskID, resource)
	c.token = tok
	return err
}

// aliceTask creates a task of Alice's support agent on ticket, through synapse's admin API.
func aliceTask(ctx context.Context, env scenarios.Env, id, ticket string) error {
	if _, err := env.Admin.Create(ctx, tasks.NewTask{ID: id, Principal: scenarios.Alice.Creds.ClientID, AgentID: scenarios.Alice.AgentID, TicketID: ticket}); err != nil {
		return fmt.Errorf("create task %s: %w", id, err)
	}
	return nil
}

// token is Alice's token for resource, for her task taskID, from the STS (bootstrap, then
// exchange), as the agent gets its own.
func token(ctx context.Context, stsURL, taskID, resource string) (string, error) {
	sts := &identity.STSClient{TokenURL: stsURL + "/oauth2/token"}
	boot, err := sts.Bootstrap(ctx, scenarios.Alice.Creds, identity.Attestation{AgentID: scenarios.Alice.AgentID, HarnessVersion: "conformance", TaskID: taskID})
	if err != nil {
		return "", fmt.Errorf("STS bootstrap: %w", err)
	}
	tok, err := sts.Exchange(ctx, identity.ExchangeRequest{SubjectToken: boot.Value, Resource: resource})
	if err != nil {
		return "", fmt.Errorf("STS exchange for %s: %w", resource, err)
	}
	return tok.Value, nil
}

// play prepares and plays one cell.
func (p *player) play(ctx context.Context, c *cell) {
	if err := p.prepare(ctx, c); err != nil {
		c.setupFailed(err)
		return
	}
	p.run(ctx, c)
}

// run plays a prepared cell and judges what came of it.
func (p *player) run(ctx context.Context, c *cell) {
	ctx, cancel := context.WithTimeout(ctx, hopTimeout)
	defer cancel()
	rec := &recorder{next: p.transport}
	var rt http.RoundTripper = rec
	if c.spec.token == noToken && c.client.plane == modelPlane {
		rt = withoutCredentials{rec}
	}
	cn := conn{gatewayURL: c.env.GatewayURL, token: c.token, http: &http.Client{Transport: rt}}
	journalFrom := 0
	if !c.spec.wantDenied() {
		var err error
		if journalFrom, err = p.journalLength(ctx, c); err != nil {
			c.setupFailed(err)
			return
		}
	}
	var (
		obs  observation
		m    measure
		open *mcp.ClientSession
		err  error
	)
	if c.client.plane == modelPlane {
		obs, m, err = p.playModel(ctx, c, cn, rec)
	} else {
		obs, m, open, err = p.playMCP(ctx, c, cn, rec)
	}
	if err != nil {
		if open != nil {
			_ = open.Close()
		}
		c.setupFailed(err)
		return
	}
	calls, all := m.end()
	if open != nil {
		_ = open.Close()
	}
	atSynapse, err := m.atSynapse(ctx, all)
	if err != nil {
		p.logf("clients: %s: %v", c.name(), err)
	}
	if !c.spec.wantDenied() {
		if c.upstream, err = p.journalSince(ctx, c, journalFrom); err != nil {
			c.setupFailed(err)
			return
		}
	}
	c.judge(obs, calls, all, atSynapse)
	p.logf("clients: %s: %s (%s)", c.name(), c.result.Outcome, c.result.Surfaced)
}

// playModel plays a model hop: for a revoked task, an allowed call first with the same client,
// then the revocation; then the measured call.
func (p *player) playModel(ctx context.Context, c *cell, cn conn, rec *recorder) (observation, measure, error) {
	session := c.client.model.open(cn)
	if c.spec.revoke {
		if first := session.complete(ctx, allowedModel, false); !first.ok {
			return observation{}, measure{}, fmt.Errorf("the allowed call before the revocation: %s", first.surfaced)
		}
		if err := p.revoke(ctx, c); err != nil {
			return observation{}, measure{}, err
		}
	}
	m := begin(c, rec)
	return session.complete(ctx, c.spec.model, c.spec.stream), m, nil
}

// playMCP plays an MCP hop: connecting, and calling the tool on the session, is the measured
// call; or the session is opened first (and for a revoked task, an allowed call made on it and
// the task revoked) and the tool call alone is measured. The session returned is the caller's
// to close, also when the hop failed.
func (p *player) playMCP(ctx context.Context, c *cell, cn conn, rec *recorder) (observation, measure, *mcp.ClientSession, error) {
	if !c.spec.connectFirst {
		m := begin(c, rec)
		session, obs := connectMCP(ctx, cn, c.spec.server, c.client.protocol, c.client.wantProtocol)
		if session != nil && obs.ok && c.spec.tool != "" {
			connected := obs.surfaced
			obs = callTool(ctx, session, c.spec.tool, c.spec.args)
			obs.surfaced = connected + "; " + obs.surfaced
		}
		return obs, m, session, nil
	}
	session, first := connectMCP(ctx, cn, c.spec.server, c.client.protocol, c.client.wantProtocol)
	if session == nil {
		return observation{}, measure{}, nil, fmt.Errorf("connect to %s before the call: %s", c.spec.server, first.surfaced)
	}
	if c.spec.revoke {
		if first := callTool(ctx, session, c.spec.tool, c.spec.args); !first.ok {
			return observation{}, measure{}, session, fmt.Errorf("the allowed call before the revocation: %s", first.surfaced)
		}
		if err := p.revoke(ctx, c); err != nil {
			return observation{}, measure{}, session, err
		}
	}
	m := begin(c, rec)
	return callTool(ctx, session, c.spec.tool, c.spec.args), m, session, nil
}

func (p *player) revoke(ctx context.Context, c *cell) error {
	task, err := c.env.Admin.Revoke(ctx, c.taskID)
	if err != nil {
		return fmt.Errorf("revoke task %s: %w", c.taskID, err)
	}
	if task.Status != tasks.StatusRevoked {
		return fmt.Errorf("revoke task %s: status %q after revoking", c.taskID, task.Status)
	}
	return nil
}

func (c *cell) name() string {
	return fmt.Sprintf("%s / %s / %s", c.env.Gateway, c.client.name, c.spec.hop)
}

// base is the cell's result before it is judged.
func (c *cell) base() report.ClientCell {
	want := "allowed: it works"
	if c.spec.wantDenied() {
		want = "denied, " + c.spec.code + " readable through the SDK's own type, no request sent twice"
	}
	return report.ClientCell{Client: c.client.name, Hop: c.spec.hop, Gateway: c.env.Gateway, Played: c.spec.played, Want: want}
}

// setupFailed fails the cell for something that went wrong before its hop could be played.
func (c *cell) setupFailed(err error) {
	c.result = c.base()
	c.result.Outcome = report.Fail
	c.result.Failed = []string{"setup"}
	c.result.Reason = "could not play the hop: " + err.Error()
}

// judge fills the result from what the SDK surfaced and what was sent.
func (c *cell) judge(obs observation, calls, all []sent, atSynapse int) {
	r := c.base()
	r.Surfaced, r.ErrorType, r.Code = obs.surfaced, obs.errType, obs.code
	r.Sent, r.AtSynapse = len(calls), atSynapse
	seen := map[string]bool{}
	for _, s := range calls {
		if seen[s.key()] {
			r.Retried = true
		}
		seen[s.key()] = true
		r.Status = s.status
	}
	for _, s := range all {
		r.Requests = append(r.Requests, s.String())
	}
	var why []string
	failed := func(check, format string, args ...any) {
		r.Failed = append(r.Failed, check)
		why = append(why, fmt.Sprintf(format, args...))
	}
	if !c.spec.wantDenied() {
		switch {
		case obs.ok:
			if !c.reachedUpstream() {
				failed(checkWorks, "the upstream's journal has no %s", c.upstreamCall())
			}
		case obs.wrongProtocol:
			failed(checkProtocol, "the session does not speak %s", c.client.wantProtocol)
		default:
			failed(checkWorks, "it did not go through")
		}
	} else {
		switch {
		case obs.ok:
			failed(checkDenied, "it went through")
		default:
			if !obs.typed {
				failed(checkTyped, "no denial readable through the SDK's own type")
			}
			if obs.code != c.spec.code {
				failed(checkCode, "the code read is %q, not %s", obs.code, c.spec.code)
			}
		}
		if r.Retried {
			failed(checkOnce, "a request of the denied call was sent again")
		}
	}
	r.Outcome = report.Pass
	if len(r.Failed) > 0 {
		r.Outcome = report.Fail
		r.Reason = strings.Join(why, "; ")
	} else if c.spec.wantDenied() && len(calls) > 1 {
		var each []string
		for _, s := range calls {
			each = append(each, s.String())
		}
		r.Reason = fmt.Sprintf("%d requests, none sent twice: %s", len(calls), strings.Join(each, "; "))
		if c.client.name == mcpStateless {
			r.Reason += " (the SDK falls back to initialize when server/discover fails)"
		}
	}
	c.result = r
}

// upstreamCall names the request of an allowed hop its upstream must receive.
func (c *cell) upstreamCall() string {
	if c.client.plane == modelPlane {
		return "POST " + c.client.model.path() + " for " + c.spec.model
	}
	return "tools/call " + c.spec.tool
}

// reachedUpstream says the upstream received the allowed hop's call.
func (c *cell) reachedUpstream() bool {
	return slices.ContainsFunc(c.upstream, func(e journal.Entry) bool {
		if c.client.plane == modelPlane {
			return e.HTTPMethod == http.MethodPost && e.Path == c.client.model.path() && e.Model == c.spec.model
		}
		return e.MCPMethod == "tools/call" && e.Tool == c.spec.tool
	})
}

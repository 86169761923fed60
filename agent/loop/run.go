package loop

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/model"
	"github.com/hopguard/hopguard/agent/tools"
	"github.com/hopguard/hopguard/agent/trace"
)

// LLMResource is the resource the model route's tokens are issued for.
const LLMResource = "llm"

// MCPResource is the resource of one MCP server's tokens.
func MCPResource(server string) string { return "mcp:" + server }

// run is the state of one run.
type run struct {
	cfg      Config
	rec      *trace.Recorder
	policies *policyObserver
	src      *identity.Source
	box      *tools.Toolbox
	result   Result
	// noToken holds the servers whose token exchange failed at boot.
	noToken map[string]error
}

// Run works cfg.Ticket to the end and reports what happened. The error is nil
// exactly when the outcome is Success; otherwise it says why the run stopped
// (a *denial.Error, see denial.From, when a denial stopped it). The Result is
// filled in either way, hops included.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		err = fmt.Errorf("config: %w", err)
		return Result{Outcome: Failed, Reason: err.Error(), Ticket: cfg.Ticket}, err
	}
	var policies *policyObserver
	cfg.HTTPClient, policies = observePolicies(cfg.HTTPClient)
	r := &run{
		cfg:      cfg,
		policies: policies,
		rec:      trace.NewRecorder(cfg.OnHop),
		box:      &tools.Toolbox{},
		result: Result{
			Principal: cfg.Subject.ClientID,
			Ticket:    cfg.Ticket,
			Model:     cfg.Model,
			Servers:   []Server{},
			Offered:   []string{},
		},
	}
	if cfg.Actor != nil {
		r.result.Actor = cfg.Actor.ClientID
	}
	defer func() {
		if err := r.box.Close(); err != nil {
			cfg.Logger.Warn("closing MCP sessions", "error", err)
		}
	}()
	err = r.run(ctx)
	r.result.Hops = r.rec.Hops()
	if err != nil {
		r.result.Reason = err.Error()
		if d, ok := denial.From(err); ok && r.result.Outcome == Denied {
			r.result.Denial = &d
		}
	}
	return r.result, err
}

func (r *run) run(ctx context.Context) error {
	if err := r.boot(ctx); err != nil {
		r.result.Outcome = Failed
		return err
	}
	r.discover(ctx)
	return r.converse(ctx)
}

// boot gets the bootstrap token(s) and exchanges them for one token per
// resource. Only a missing llm token stops the run: a server without a
// token is left out of discovery. The source re-exchanges a token that nears
// expiry on its own later.
func (r *run) boot(ctx context.Context) error {
	sts := &identity.STSClient{TokenURL: r.cfg.STSURL, HTTPClient: r.cfg.HTTPClient}
	src, err := identity.NewSource(identity.SourceConfig{
		STS: sts, Subject: r.cfg.Subject, Actor: r.cfg.Actor, Attestation: r.cfg.Attestation,
	})
	if err != nil {
		return err
	}
	r.src = src

	who := src.Principal()
	if a := src.Actor(); a != "" {
		who += " (actor " + a + ")"
	}
	if err := src.Bootstrap(ctx); err != nil {
		r.record(trace.Hop{Plane: trace.PlaneSTS, Target: who, Action: "bootstrap", Decision: trace.Error, Reason: err.Error()})
		return fmt.Errorf("bootstrap: %w", err)
	}
	boot := trace.Hop{Plane: trace.PlaneSTS, Target: who, Action: "bootstrap", Decision: trace.Allow}
	if id := r.cfg.Subject.SPIFFE; id != nil {
		boot.Note = "attested: a JWT-SVID from the SPIFFE Workload API at " + id.Socket + ", no secret"
	}
	r.record(boot)

	if err := r.exchange(ctx, LLMResource); err != nil {
		return fmt.Errorf("token for the model: %w", err)
	}
	r.noToken = map[string]error{}
	for _, name := range r.cfg.Servers {
		if err := r.exchange(ctx, MCPResource(name)); err != nil {
			r.noToken[name] = err
		}
	}
	return nil
}

// exchange gets the token for one resource and records the hop.
func (r *run) exchange(ctx context.Context, resource string) error {
	_, err := r.src.Token(ctx, resource)
	hop := trace.Hop{Plane: trace.PlaneSTS, Target: resource, Action: "token-exchange", Decision: trace.Allow}
	if err != nil {
		hop.Decision, hop.Reason = trace.Error, err.Error()
	}
	r.record(hop)
	return err
}

// discover opens every configured server and lists its tools. A server that
// is denied or fails is reported and left out: its tools never reach the
// model.
func (r *run) discover(ctx context.Context) {
	for _, name := range r.cfg.Servers {
		srv := Server{Name: name, URL: r.cfg.serverURL(name)}
		r.openServer(ctx, &srv)
		r.result.Servers = append(r.result.Servers, srv)
	}
	for _, f := range r.box.Functions() {
		r.result.Offered = append(r.result.Offered, f.Name)
	}
}

func (r *run) openServer(ctx context.Context, srv *Server) {
	resource := MCPResource(srv.Name)
	if err := r.noToken[srv.Name]; err != nil {
		srv.State, srv.Reason = ServerFailed, "no token: "+err.Error()
		return
	}
	session, err := tools.Open(ctx, tools.ServerConfig{
		Name: srv.Name, URL: srv.URL, Token: r.src.TokenFunc(resource),
	}, tools.Options{
		HTTPClient: r.cfg.HTTPClient, ClientName: r.cfg.ClientName, ClientVersion: r.cfg.ClientVersion,
		Logger: r.cfg.Logger,
	})
	hop := trace.Hop{Plane: trace.PlaneMCP, Target: srv.Name, Action: "initialize"}
	if err != nil {
		r.failServer(srv, hop, err)
		return
	}
	hop.Decision = trace.Allow
	r.record(hop)

	listed, err := session.ListTools(ctx)
	hop = trace.Hop{Plane: trace.PlaneMCP, Target: srv.Name, Action: "tools/list"}
	if err != nil {
		_ = session.Close()
		r.failServer(srv, hop, err)
		return
	}
	addErr := r.box.Add(session, listed)
	srv.State = ServerOpen
	for _, t := range listed {
		srv.Tools = append(srv.Tools, t.Name)
	}
	hop.Decision = trace.Allow
	hop.Note = fmt.Sprintf("%d tools: %s", len(srv.Tools), strings.Join(srv.Tools, ", "))
	if addErr != nil {
		hop.Note += " (" + addErr.Error() + ")"
	}
	r.record(hop)
}

// failServer records a hop that denied or failed and marks the server so.
func (r *run) failServer(srv *Server, hop trace.Hop, err error) {
	if d, ok := denial.From(err); ok {
		hop.Decision, hop.Reason, hop.Denial = trace.Deny, d.Reason, &d
		srv.State, srv.Reason, srv.Denial = ServerDenied, d.Reason, &d
	} else {
		hop.Decision, hop.Reason = trace.Error, err.Error()
		srv.State, srv.Reason = ServerFailed, err.Error()
	}
	r.record(hop)
}

// newModel builds the model client on the llm token.
func (r *run) newModel() (*model.Client, error) {
	return model.New(model.Config{
		BaseURL:        r.cfg.LLMURL,
		Token:          r.src.TokenFunc(LLMResource),
		HTTPClient:     r.cfg.HTTPClient,
		MaxRetries:     r.cfg.ModelRetries,
		RequestTimeout: r.cfg.RequestTimeout,
	})
}

// stop records why the run stopped and returns the error to give back.
func (r *run) stop(outcome Outcome, err error) error {
	r.result.Outcome = outcome
	if err == nil {
		err = errors.New(string(outcome))
	}
	return err
}

package scenarios

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/tools"
	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/conformance/evidence"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// hopTimeout bounds one hop; a hop that hangs is a failure, not a wait.
const hopTimeout = 30 * time.Second

type taskKey struct{ actor, ticket string }

type sessionKey struct {
	taskKey
	server string
}

// Run is one scenario running against one gateway.
type Run struct {
	env      Env
	scenario Scenario
	observe  Observer

	http     *http.Client
	capture  *capture
	tasks    map[taskKey]string
	sources  map[taskKey]*identity.Source
	sessions map[sessionKey]*tools.Session

	// auditStart is where the scenario's records begin in synapse's log.
	auditStart int64
	// policyVersion is the policy set's version a policy-change scenario put in force (every
	// later decision must name it), and pids the components' processes when it began.
	policyVersion string
	pids          map[string]int
	// keptPolicies are the files a policy scenario edits, as it found them.
	keptPolicies map[string][]byte
	// atEnd is what to undo when the scenario ends, whether it passed or not.
	atEnd []func(context.Context)

	// The step running: its checker, the decisions it made, its agent run and what to close
	// when it ends.
	c         *checker
	decisions []report.Decision
	agent     *AgentRun
	cleanups  []func()
}

// Observer is told what a scenario does while it does it (the demo narrates from it). Every
// field may be nil.
type Observer struct {
	// Step is told before each step, with its number (from 1).
	Step func(n int, s Step)
	// Hop is told every hop an Agent step's agent makes, as it makes it.
	Hop func(s Step, h trace.Hop)
	// Log is told each line a step logs, as it logs it.
	Log func(s Step, line string)
	// Done is told each step's result.
	Done func(StepResult)
}

// Result is what came of one scenario.
type Result struct {
	Scenario Scenario
	// Steps are the steps run, in order. The run stops after the first that failed: later
	// steps depend on its state.
	Steps []StepResult
}

// StepResult is what came of one step.
type StepResult struct {
	// Name is the step's name, numbered: "01 alice opens payments".
	Name string
	Step Step
	// Problems say what did not come of the step as it should; empty means it passed.
	Problems []string
	// Log is what the step logged: what the agent saw, the agent run's summary.
	Log []string
	// Decisions are the step's hops as the report shows them.
	Decisions []report.Decision
	// Agent is the agent run of an Agent step (also one that failed after the run).
	Agent *AgentRun
	// Duration is how long the step took.
	Duration time.Duration
}

// AgentRun is what an Agent step's agent did, with the journals' evidence.
type AgentRun struct {
	TaskID string
	Result loop.Result
	// Tallies are every model and tool call the agent made against what reached the upstreams
	// during the step (the mocks' journals).
	Tallies []evidence.Tally
	// Untouched are the servers the agent was denied at the handshake whose journals stayed
	// empty: their tool lists never left them.
	Untouched []string
}

// Passed says the step had no problem.
func (s StepResult) Passed() bool { return len(s.Problems) == 0 }

// Passed says every step ran and none had a problem.
func (r Result) Passed() bool {
	_, failed := r.Failed()
	return !failed && len(r.Steps) == len(r.Scenario.Steps)
}

// Failed returns the step that failed, if one did.
func (r Result) Failed() (StepResult, bool) {
	for _, s := range r.Steps {
		if !s.Passed() {
			return s, true
		}
	}
	return StepResult{}, false
}

// Decisions are the decisions of every step, one per hop, for the report.
func (r Result) Decisions() []report.Decision {
	var out []report.Decision
	for _, s := range r.Steps {
		out = append(out, s.Decisions...)
	}
	return out
}

// Execute runs every step of s against env, telling observe as it goes, and returns what came
// of each step. It stops at the first step that fails: later steps depend on its state.
func Execute(ctx context.Context, env Env, s Scenario, observe Observer) Result {
	capture := &capture{next: http.DefaultTransport}
	r := &Run{
		env:      env,
		scenario: s,
		observe:  observe,
		http:     &http.Client{Transport: capture, Timeout: hopTimeout},
		capture:  capture,
		tasks:    map[taskKey]string{},
		sources:  map[taskKey]*identity.Source{},
		sessions: map[sessionKey]*tools.Session{},
	}
	defer r.closeSessions()
	defer func() {
		for _, f := range slices.Backward(r.atEnd) {
			f(ctx)
		}
	}()
	out := Result{Scenario: s}
	for resource, j := range env.Journals {
		if err := j.Reset(ctx); err != nil {
			res := StepResult{Name: "reset the mock upstreams", Problems: []string{fmt.Sprintf("reset the mock upstream %s: %v", resource, err)}}
			if observe.Done != nil {
				observe.Done(res)
			}
			out.Steps = append(out.Steps, res)
			return out
		}
	}
	r.auditStart = fileSize(env.AuditLog)
	for i, step := range s.Steps {
		if observe.Step != nil {
			observe.Step(i+1, step)
		}
		res := r.step(ctx, fmt.Sprintf("%02d %s", i+1, step.Name), step)
		if observe.Done != nil {
			observe.Done(res)
		}
		out.Steps = append(out.Steps, res)
		if !res.Passed() {
			break
		}
	}
	return out
}

// step runs one step with a checker of its own: a fatal problem ends the step (stepFailed),
// any other panic becomes a problem of the step rather than the end of the whole run.
func (r *Run) step(ctx context.Context, name string, step Step) StepResult {
	c := &checker{}
	if r.observe.Log != nil {
		c.onLog = func(line string) { r.observe.Log(step, line) }
	}
	r.c, r.decisions, r.agent, r.cleanups = c, nil, nil, nil
	began := time.Now()
	func() {
		defer r.endStep()
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(stepFailed); !ok {
					c.errorf("panic: %v\n%s", v, debug.Stack())
				}
			}
		}()
		if step.Do != nil {
			if err := step.Do(ctx, r); err != nil {
				c.fatalf("%s: %v", step.Name, err)
			}
			return
		}
		r.hop(ctx, step)
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	return StepResult{
		Name: name, Step: step, Problems: c.problems, Log: c.log,
		Decisions: r.decisions, Agent: r.agent, Duration: time.Since(began),
	}
}

// endStep closes what the step opened for itself alone.
func (r *Run) endStep() {
	for _, f := range r.cleanups {
		f()
	}
	r.cleanups = nil
}

// Env is the environment the scenario runs in.
func (r *Run) Env() Env { return r.env }

// TaskID is the task of actor on ticket, created on first use.
func (r *Run) TaskID(ctx context.Context, actor Actor, ticket string) (string, error) {
	key := taskKey{actor.Name, ticket}
	if id, ok := r.tasks[key]; ok {
		return id, nil
	}
	id := fmt.Sprintf("%s-%s-%s-%s-%s", r.env.RunID, r.env.Gateway, r.scenario.ID, actor.Name, ticket)
	_, err := r.env.Admin.Create(ctx, tasks.NewTask{ID: id, Principal: actor.Creds.ClientID, AgentID: actor.AgentID, TicketID: ticket})
	if err != nil {
		return "", fmt.Errorf("create the task of %s on %s: %w", actor.Name, ticket, err)
	}
	r.tasks[key] = id
	return id, nil
}

// Revoke revokes the task of actor on ticket through synapse's admin API.
func (r *Run) Revoke(ctx context.Context, actor Actor, ticket string) error {
	id, err := r.TaskID(ctx, actor, ticket)
	if err != nil {
		return err
	}
	return r.revokeTask(ctx, id)
}

// revokeTask revokes the task id through synapse's admin API.
func (r *Run) revokeTask(ctx context.Context, id string) error {
	task, err := r.env.Admin.Revoke(ctx, id)
	if err != nil {
		return fmt.Errorf("revoke task %s: %w", id, err)
	}
	if task.Status != tasks.StatusRevoked {
		return fmt.Errorf("revoke task %s: status is %q after revoking", id, task.Status)
	}
	return nil
}

// attestation is what the launcher attests about a run of actor on ticket.
func (r *Run) attestation(ctx context.Context, actor Actor, ticket string) (identity.Attestation, error) {
	id, err := r.TaskID(ctx, actor, ticket)
	if err != nil {
		return identity.Attestation{}, err
	}
	return identity.Attestation{AgentID: actor.AgentID, HarnessVersion: "conformance", TaskID: id}, nil
}

// source hands out the actor's per-resource tokens for its task on ticket.
func (r *Run) source(ctx context.Context, actor Actor, ticket string) (*identity.Source, error) {
	key := taskKey{actor.Name, ticket}
	if s, ok := r.sources[key]; ok {
		return s, nil
	}
	att, err := r.attestation(ctx, actor, ticket)
	if err != nil {
		return nil, err
	}
	s, err := identity.NewSource(identity.SourceConfig{
		STS:         &identity.STSClient{TokenURL: actor.STS(r.env.STSURL, r.env.DriverSTSURL) + "/oauth2/token"},
		Subject:     actor.Creds,
		Attestation: att,
	})
	if err != nil {
		return nil, fmt.Errorf("token source for %s: %w", actor.Name, err)
	}
	r.sources[key] = s
	return s, nil
}

// tokenFunc is the credential a step presents on its route.
func (r *Run) tokenFunc(ctx context.Context, step Step) (func(context.Context) (string, error), error) {
	resource := step.Hop.Resource()
	switch step.Token.Kind {
	case OwnToken, OtherResourceToken:
		src, err := r.source(ctx, step.As, step.Ticket)
		if err != nil {
			return nil, err
		}
		if step.Token.Kind == OtherResourceToken {
			resource = step.Token.Resource
		}
		return src.TokenFunc(resource), nil
	case NoToken:
		// The clients insist on some token; httpClient(step) strips the header it goes in.
		return func(context.Context) (string, error) { return "no-token", nil }, nil
	case ExpiredToken:
		tok, err := r.expiredToken(ctx, step.As, step.Ticket, resource)
		if err != nil {
			return nil, err
		}
		return func(context.Context) (string, error) { return tok, nil }, nil
	default:
		return nil, fmt.Errorf("unknown token kind %d", step.Token.Kind)
	}
}

// httpClient is the client a step's requests go through: for NoToken, one that sends no
// Authorization header at all.
func (r *Run) httpClient(step Step) *http.Client {
	if step.Token.Kind != NoToken {
		return r.http
	}
	return &http.Client{Transport: withoutAuthorization{r.capture}, Timeout: r.http.Timeout}
}

type withoutAuthorization struct{ next http.RoundTripper }

func (w withoutAuthorization) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Del("Authorization")
	return w.next.RoundTrip(req)
}

// expiredToken gets a token for resource from the STS whose clock runs an hour behind: signed
// with the real key, for the right audience, and expired.
func (r *Run) expiredToken(ctx context.Context, actor Actor, ticket, resource string) (string, error) {
	att, err := r.attestation(ctx, actor, ticket)
	if err != nil {
		return "", err
	}
	sts := &identity.STSClient{TokenURL: r.env.ExpiredSTSURL + "/oauth2/token"}
	boot, err := sts.Bootstrap(ctx, actor.Creds, att)
	if err != nil {
		return "", fmt.Errorf("expired STS bootstrap: %w", err)
	}
	tok, err := sts.Exchange(ctx, identity.ExchangeRequest{SubjectToken: boot.Value, Resource: resource})
	if err != nil {
		return "", fmt.Errorf("expired STS exchange: %w", err)
	}
	exp, err := expiry(tok.Value)
	if err != nil {
		return "", err
	}
	if !exp.Before(time.Now()) {
		return "", fmt.Errorf("the expired STS issued a token valid until %s", exp)
	}
	return tok.Value, nil
}

// expiry reads a JWT's exp claim without verifying it (synapse does that); the STS's own
// expires_in is relative to its shifted clock and says nothing here.
func expiry(jwt string) (time.Time, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("the STS returned a token that is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, fmt.Errorf("decode the token's claims: %w", err)
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == 0 {
		return time.Time{}, fmt.Errorf("the token has no exp claim: %v", err)
	}
	return time.Unix(claims.Exp, 0), nil
}

func (r *Run) closeSessions() {
	for _, s := range r.sessions {
		_ = s.Close()
	}
}

func (r *Run) record(d report.Decision) { r.decisions = append(r.decisions, d) }

// describe is a one-line account of responses, for failure messages.
func describe(seen []response) string {
	var parts []string
	for _, s := range seen {
		part := fmt.Sprintf("%s %s -> %d deny=%t id=%s", s.method, s.path, s.status, s.denied, s.decisionID)
		if s.policy != "" {
			part += " policy=" + s.policy
		}
		if s.shouldRetry != "" {
			part += " x-should-retry=" + s.shouldRetry
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}

// Package authz is synapse's decision: an ext_authz CheckRequest is mapped to
// checks, the caller's token is verified, the principal is enriched with its
// task, Cerbos decides, and the answer is shaped for the gateway. Every path
// that errors denies.
package authz

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/metrics"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/respond"
	"github.com/hopguard/hopguard/synapse/tasks"
	"github.com/hopguard/hopguard/synapse/tracing"
	"github.com/hopguard/hopguard/synapse/visibility"
)

// PDP is the policy decision point (Cerbos). Any error means no decision.
type PDP interface {
	Check(ctx context.Context, req pdp.Request) (*pdp.Response, error)
}

// TaskStore looks tasks up by id. It is read on every check: a revocation
// holds from the very next one.
type TaskStore interface {
	Get(ctx context.Context, id string) (tasks.Task, error)
}

// TokenVerifier verifies a bearer token for the route's resource.
type TokenVerifier interface {
	Verify(ctx context.Context, raw, audience string) (*identity.Claims, error)
}

// AuditLog records one decision. It takes no context: a decision is logged
// even when the request was cancelled.
type AuditLog interface {
	Write(audit.Record) error
}

// Options are the Service's collaborators; all but NewID and Now are required.
type Options struct {
	Routes  mapping.RouteTable
	Limits  mapping.Limits // what one request may cost before Cerbos is asked; zero fields are mapping's defaults
	Tokens  TokenVerifier
	Tasks   TaskStore
	PDP     PDP
	Audit   AuditLog
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// Cache, when set, reuses Cerbos's decisions for identical requests (cache.go); nil asks
	// Cerbos on every check.
	Cache *DecisionCache
	// Admission, when set, bounds the checks asking Cerbos at once and serves principals in
	// turn (admission.go); nil lets every check ask at once.
	Admission *Admission
	// Budget, when set, holds each principal to a rate of bytes of checks asked of Cerbos
	// (budget.go); nil sets no such bound.
	Budget *Budget
	// Sealer, when set, seals each allowed tools/list, resources/list or prompts/list's grant
	// into the request for the response path, which shows the agent only what it may use
	// (synapse/visibility, synapse/extproc); with nil, every allowed list is answered
	// unavailable instead, since a gateway runs the response path only on a request that carries
	// a grant. Whether set or not, a grant the client sent is never forwarded as synapse's.
	Sealer *visibility.Sealer
	// PDPReady says whether Cerbos answers (synapse's readiness probe); while it does not, no
	// decision is reused and the cache is emptied. Nil means no probe runs.
	PDPReady func() error
	// NewID returns a fresh decision id; defaults to NewDecisionID.
	NewID func() string
	// Now is the clock for audit times and latency; defaults to time.Now.
	Now func() time.Time
	// Tracer records a span per check and per stage (synapse/tracing); nil records none.
	Tracer trace.Tracer
}

// Service implements envoy.service.auth.v3.Authorization.
type Service struct {
	authv3.UnimplementedAuthorizationServer
	opts Options
}

var _ authv3.AuthorizationServer = (*Service)(nil)

// New checks that every collaborator is there.
func New(opts Options) (*Service, error) {
	var missing []string
	for name, ok := range map[string]bool{
		"Tokens": opts.Tokens != nil, "Tasks": opts.Tasks != nil, "PDP": opts.PDP != nil,
		"Audit": opts.Audit != nil, "Metrics": opts.Metrics != nil, "Log": opts.Log != nil,
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("authz: missing %v", missing)
	}
	if opts.NewID == nil {
		opts.NewID = NewDecisionID
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider().Tracer("")
	}
	return &Service{opts: opts}, nil
}

// NewDecisionID returns 16 random bytes in hex: unique without shared state.
func NewDecisionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Check answers one ext_authz request. It never returns an error: every
// failure is a denial the gateway forwards to the client.
func (s *Service) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	start := s.opts.Now()
	// The gateway's trace: the check is a span of the hop.
	ctx = tracing.FromCheck(ctx, req.GetAttributes().GetRequest().GetHttp().GetHeaders())
	ctx, span := s.opts.Tracer.Start(ctx, "synapse.check", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	d := s.decide(ctx, req)
	s.record(ctx, d, start)
	span.SetAttributes(attribute.String("hopguard.decision_id", d.id), attribute.Bool("hopguard.allowed", d.allowed),
		attribute.String("hopguard.code", d.denial.Code), attribute.String("hopguard.failure", d.failure))
	return d.response, nil
}

// stage starts the span of one stage of a check.
func (s *Service) stage(ctx context.Context, name string) (context.Context, trace.Span) {
	return s.opts.Tracer.Start(ctx, name)
}

// FailClosed answers a Check that panicked (see server.FailClosed): a 503
// denial, logged and counted like any other decision.
func (s *Service) FailClosed(ctx context.Context, recovered any) *authv3.CheckResponse {
	start := s.opts.Now()
	d := &decision{id: s.opts.NewID(), input: &mapping.Input{}}
	d.unavailable(failureInternal, denial(codeInternal, reasonInternal))
	s.opts.Log.ErrorContext(ctx, "check panicked; denied", "decision_id", d.id, "panic", fmt.Sprint(recovered))
	s.record(ctx, d, start)
	return d.response
}

// decide runs the whole flow; each step either fills d in or ends it with a
// denial.
func (s *Service) decide(ctx context.Context, req *authv3.CheckRequest) *decision {
	d := &decision{id: s.opts.NewID(), input: &mapping.Input{}}

	_, mapSpan := s.stage(ctx, "synapse.map")
	in, err := mapping.MapWithLimits(req, s.opts.Routes, s.opts.Limits)
	mapSpan.End()
	if in != nil {
		d.input = in
	}
	if err != nil {
		var merr *mapping.Error
		if errors.As(err, &merr) {
			d.deny(failureRequest, respond.Refusal(merr))
		} else {
			d.deny(failureRequest, denial(codeInvalidRequest, "the request could not be read"))
			s.opts.Log.WarnContext(ctx, "mapping failed without a mapping error", "decision_id", d.id, "err", err)
		}
		return d
	}
	if err := checkInput(in); err != nil {
		s.opts.Log.ErrorContext(ctx, "mapper produced an unusable input; denied", "decision_id", d.id, "err", err)
		d.unavailable(failureInternal, denial(codeInternal, reasonInternal))
		return d
	}

	verifyCtx, verifySpan := s.stage(ctx, "synapse.verify")
	authenticated := s.authenticate(verifyCtx, d)
	verifySpan.End()
	if !authenticated {
		return d
	}
	taskCtx, taskSpan := s.stage(ctx, "synapse.task_lookup")
	enriched := s.enrich(taskCtx, d)
	taskSpan.End()
	if !enriched {
		return d
	}
	ask := pdpRequest(d)
	var key cacheKey
	cacheable := false
	if s.opts.Cache != nil {
		key, cacheable = keyOf(ask)
	}
	if cacheable {
		if s.fromCache(ctx, d, key, ask) {
			return d
		}
		done, asked := s.opts.Cache.claim(key)
		if done != nil {
			defer done()
		} else if !s.follow(ctx, d, asked) || s.fromCache(ctx, d, key, ask) {
			return d
		}
		// A check that followed another and got no answer to reuse asks Cerbos here, as every
		// other that waited does, at once rather than one after another behind each other's
		// failures.
	}
	release, admitted := s.admit(ctx, d)
	if !admitted {
		return d
	}
	askCtx, askSpan := s.stage(ctx, "synapse.cerbos")
	s.ask(askCtx, d, ask)
	askSpan.End()
	release()
	if cacheable && d.failure == "" {
		s.opts.Cache.put(key, d, s.opts.Now())
	}
	s.grant(ctx, d, ask)
	return d
}

// grant sends an allowed tools/list, resources/list or prompts/list's grant to the response path
// on the request itself, sealed for the decision's id (each list's action is its method:
// CONTRACTS.md, "Cerbos request"). The gateway opens a response-path stream only for a request
// that carries a grant (gateway-configs/envoy), so a list whose grant cannot be sealed, or a
// synapse with no Sealer, must not be allowed at all: it is answered unavailable, closed.
func (s *Service) grant(ctx context.Context, d *decision, ask pdp.Request) {
	if !d.allowed {
		return
	}
	var (
		kind   string
		lists  []visibility.ListRequest
		listed bool
	)
	for _, c := range d.input.Checks {
		if _, ok := visibility.ListingFor(c.Action); !ok {
			continue
		}
		if !listed {
			kind, listed = c.Kind, true
		}
		if c.MCP != nil && c.MCP.ID != nil {
			lists = append(lists, visibility.ListRequest{Method: c.Action, ID: c.MCP.ID})
		}
	}
	if !listed {
		return
	}
	if s.opts.Sealer == nil {
		s.opts.Log.ErrorContext(ctx, "a list was allowed but synapse has no grant sealer; denied (fail closed)", "decision_id", d.id, "principal", ask.Principal.ID)
		d.unavailable(failureInternal, denial(codeListWithheld, reasonNoGrant))
		return
	}
	sealed, err := s.opts.Sealer.Seal(d.id, visibility.Grant{Principal: ask.Principal, Kind: kind, Metadata: ask.Metadata, Lists: lists}, s.opts.Now())
	if err != nil {
		s.opts.Log.ErrorContext(ctx, "the list's grant could not be sealed; denied (fail closed)", "decision_id", d.id, "principal", ask.Principal.ID, "err", err)
		d.unavailable(failureInternal, denial(codeListWithheld, reasonNoGrant))
		return
	}
	respond.WithGrant(d.response, sealed)
}

// admit waits until the principal's budget covers its check (Options.Budget), then for its
// turn to ask Cerbos (Options.Admission). A principal over its budget, or with too many checks
// in line, is refused: its flood is its own doing, not an outage.
func (s *Service) admit(ctx context.Context, d *decision) (release func(), ok bool) {
	if s.opts.Budget != nil {
		err := s.opts.Budget.spend(ctx, d.claims.Subject, mapping.ChecksSize(d.input.Checks), s.opts.Now())
		switch {
		case err == nil:
		case s.clientGone(ctx, d):
			return nil, false
		default:
			s.opts.Log.WarnContext(ctx, "principal is over its budget of policy decision work; denied", "decision_id", d.id, "principal", d.claims.Subject)
			d.deny(failureAdmission, denial(codePrincipalBusy,
				"this principal's checks ask more policy decision work per second than it may: denied; send smaller tool arguments or fewer requests"))
			return nil, false
		}
	}
	if s.opts.Admission == nil {
		return func() {}, true
	}
	release, err := s.opts.Admission.acquire(ctx, d.claims.Subject)
	switch {
	case err == nil:
		return release, true
	case s.clientGone(ctx, d):
	default:
		s.tooManyWaiting(ctx, d)
	}
	return nil, false
}

// tooManyWaiting denies d: its principal has as many checks waiting as it may, or d waited
// longer than admission allows.
func (s *Service) tooManyWaiting(ctx context.Context, d *decision) {
	s.opts.Log.WarnContext(ctx, "principal has too many checks in line; denied", "decision_id", d.id, "principal", d.claims.Subject)
	d.deny(failureAdmission, denial(codePrincipalBusy,
		"too many of this principal's checks are waiting for the policy decision point: denied; send fewer at once"))
}

// follow waits until an identical check has asked Cerbos (asked is closed), as one of the
// principal's waiting checks when admission is on; false means d was denied instead.
func (s *Service) follow(ctx context.Context, d *decision, asked <-chan struct{}) bool {
	var err error
	if s.opts.Admission != nil {
		err = s.opts.Admission.follow(ctx, d.claims.Subject, asked)
	} else {
		select {
		case <-asked:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	switch {
	case err == nil:
		return true
	case s.clientGone(ctx, d):
	case errors.Is(err, errPrincipalBusy):
		s.tooManyWaiting(ctx, d)
	default:
		s.opts.Log.WarnContext(ctx, "no decision before the deadline while an identical check asked cerbos; denied", "decision_id", d.id, "err", err)
		d.unavailable(failurePDP, denial(codePDPUnavailable, reasonPDPUnavailable))
	}
	return false
}

// fromCache answers d from the cache, with the grant of a list it allows, when reuse can.
func (s *Service) fromCache(ctx context.Context, d *decision, key cacheKey, ask pdp.Request) bool {
	if !s.reuse(d, key) {
		return false
	}
	s.grant(ctx, d, ask)
	return true
}

// reuse answers d from the cache when Cerbos made this very decision less than the TTL ago and
// is still answering. While it is not, nothing is reused: a check that needs Cerbos fails
// closed, whatever Cerbos said a moment before.
func (s *Service) reuse(d *decision, key cacheKey) bool {
	if s.opts.PDPReady != nil && s.opts.PDPReady() != nil {
		s.opts.Cache.purge()
		return false
	}
	cached, ok := s.opts.Cache.get(key, s.opts.Now())
	if !ok {
		return false
	}
	d.cachedFrom, d.provenance = cached.decisionID, cached.provenance
	if cached.allowed {
		d.allow()
	} else {
		d.deny("", cached.denial)
	}
	return true
}

// checkInput is defence in depth against a mapper bug: every check must be
// about the route's own resource kind, or a request could be judged by
// another resource's policy.
func checkInput(in *mapping.Input) error {
	if in.Resource == "" {
		return errors.New("no route resource")
	}
	if len(in.Checks) == 0 {
		return errors.New("no checks")
	}
	for i, c := range in.Checks {
		if c.Kind != in.Resource {
			return fmt.Errorf("check %d has kind %q on route resource %q", i, c.Kind, in.Resource)
		}
		if c.Action == "" || c.ID == "" {
			return fmt.Errorf("check %d has no action or id", i)
		}
	}
	return nil
}

// authenticate verifies the token for the route's resource.
func (s *Service) authenticate(ctx context.Context, d *decision) bool {
	if d.input.Token == "" {
		d.deny(failureIdentity, denial(codeUnauthenticated,
			fmt.Sprintf("no bearer token: this route needs a token issued for %q", d.input.Resource)))
		return false
	}
	claims, err := s.opts.Tokens.Verify(ctx, d.input.Token, d.input.Resource)
	switch {
	case err == nil:
		d.claims = claims
		return true
	case errors.Is(err, identity.ErrKeysUnavailable) && s.clientGone(ctx, d):
	case errors.Is(err, identity.ErrKeysUnavailable):
		s.opts.Log.ErrorContext(ctx, "token keys unavailable; denied", "decision_id", d.id, "err", err)
		d.unavailable(failureIdentityUnavailable, denial(codeIdentityUnavailable, "the token issuer's keys are unavailable, so the token cannot be verified: denied (fail closed)"))
	default:
		d.deny(failureIdentity, denial(codeInvalidToken, err.Error()))
	}
	return false
}

// enrich looks up the token's task. A task is the principal's only when it
// belongs to this very principal and agent; otherwise the principal has none
// (and the policies deny).
func (s *Service) enrich(ctx context.Context, d *decision) bool {
	id := d.claims.TaskID
	if id == "" {
		return true
	}
	task, err := s.opts.Tasks.Get(ctx, id)
	switch {
	case errors.Is(err, tasks.ErrNotFound):
		return true
	case err != nil && s.clientGone(ctx, d):
		return false
	case err != nil:
		s.opts.Log.ErrorContext(ctx, "task registry failed; denied", "decision_id", d.id, "task", id, "err", err)
		d.unavailable(failureEnrichment, denial(codeTaskRegistryUnavailable, "the task registry is unavailable: denied (fail closed)"))
		return false
	}
	if task.Principal != d.claims.Subject || task.AgentID != d.claims.AgentID {
		s.opts.Log.WarnContext(ctx, "token names a task of another principal or agent; no task",
			"decision_id", d.id, "task", id, "sub", d.claims.Subject, "agent_id", d.claims.AgentID)
		return true
	}
	d.task = &task
	return true
}

// clientGone ends d when the caller cancelled the check (the client closed its connection and
// the gateway its ext_authz call): what failed then is the client's leaving, not the registry,
// the key set or Cerbos, and it must not read as their outage in the audit, the metrics or the
// error log, or any client could raise false alarms at will.
func (s *Service) clientGone(ctx context.Context, d *decision) bool {
	if !errors.Is(ctx.Err(), context.Canceled) {
		return false
	}
	s.opts.Log.DebugContext(ctx, "the caller cancelled the check; not decided", "decision_id", d.id)
	d.deny(failureClientCancelled, denial(codeClientCancelled, "the request was cancelled before it was decided"))
	return true
}

// ask sends every check in one CheckResources call and reads the answer.
func (s *Service) ask(ctx context.Context, d *decision, req pdp.Request) {
	resp, err := s.opts.PDP.Check(ctx, req)
	if err != nil && s.clientGone(ctx, d) {
		return
	}
	if errors.Is(err, pdp.ErrRequestTooLarge) {
		// The request is larger than Cerbos accepts: the caller's doing, denied as mapping
		// denies a request too complex to check, not an outage (no purge, no PDP error).
		s.opts.Log.WarnContext(ctx, "request too large for cerbos; denied", "decision_id", d.id, "err", err)
		d.deny(failureRequest, respond.Refusal(&mapping.Error{Code: mapping.CodeRequestTooComplex,
			Reason: "the request is larger than the policy decision point accepts; send smaller tool arguments or fewer messages at once"}))
		return
	}
	if err != nil {
		if s.opts.Cache != nil {
			// Cerbos may come back with other policies: nothing it said before is reused.
			s.opts.Cache.purge()
		}
		reason := pdp.ErrorReason(err)
		s.opts.Metrics.PDPError(reason)
		s.opts.Log.ErrorContext(ctx, "cerbos gave no decision; denied", "decision_id", d.id, "reason", reason, "err", err)
		d.unavailable(failurePDP, denial(codePDPUnavailable, reasonPDPUnavailable))
		return
	}
	d.callID = resp.CallID
	// One result per check, then provenanceResource's.
	if len(resp.Results) != len(d.input.Checks)+1 {
		s.opts.Log.ErrorContext(ctx, "cerbos answered for other resources; denied", "decision_id", d.id)
		d.unavailable(failurePDP, denial(codePDPUnavailable, reasonPDPUnavailable))
		return
	}
	results, version := resp.Results[:len(d.input.Checks)], versionOf(resp.Results[len(d.input.Checks)])
	why, policy, denied := judge(d.input.Checks, results)
	d.provenance = respond.Provenance{Policy: policy, Version: version}
	if denied {
		d.deny("", why)
		return
	}
	d.allow()
}

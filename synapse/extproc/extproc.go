// Package extproc is synapse's response path: an Envoy external processor (ext_proc) that shows
// an agent only the tools it may call, the documents it may read and the prompts it may get.
// ext_authz has already allowed the request and, for a tools/list, resources/list or
// prompts/list, sealed its grant into the request under its decision id (respond.HeaderGrant,
// synapse/visibility.Sealer), so that whichever replica the gateway sends this stream to can
// open it; this processor takes the grant off the request before the upstream sees it, knows a
// list by its grant (which names the body's list requests) or else by reading the request body,
// buffers that request's answer, and sends it on with what the principal may not use taken out
// (synapse/visibility).
//
// It fails closed: a list whose grant is missing, does not open with this replica's key, belongs
// to another request or has expired, an answer it cannot read, or a plan Cerbos did not make
// withholds the list, answering the agent with a JSON-RPC error instead. Every other request
// passes untouched but for the grant header: the processor asks for no body but a POST's, and
// for no answer's but a list's.
package extproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/jsonrpc"
	"github.com/hopguard/hopguard/synapse/metrics"
	"github.com/hopguard/hopguard/synapse/respond"
	"github.com/hopguard/hopguard/synapse/visibility"
)

// Server is the ext_proc service.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer

	// Sealer opens the grant ext_authz sealed into the request (respond.HeaderGrant): with the
	// key every replica shares, whichever replica made the check. Without one, every list is
	// withheld.
	Sealer  *visibility.Sealer
	Planner visibility.Planner
	// Hints remember which tools a principal's last list of a server hid, so that the next is
	// planned in the cheaper shape (nil plans every list as if none were hidden).
	Hints *visibility.Hints
	Log   *slog.Logger
	// Now is the clock grants expire by; nil is time.Now.
	Now func() time.Time
	// Audit records every list withheld, a decision of its own (nil records none).
	Audit AuditLog
	// NewID names that decision; nil keeps the request's decision id.
	NewID func() string
	// Metrics counts the lists filtered and withheld (nil counts nothing).
	Metrics *metrics.Metrics
	// Limits bound the request bodies it reads: those ext_authz reads with (synapse/mapping), so
	// that a body it cannot read, which it refuses, is one ext_authz refused too.
	Limits jsonrpc.Limits
}

// AuditLog records one decision (synapse/audit).
type AuditLog interface {
	Write(audit.Record) error
}

// exchange is what the processor learns of one request and its answer.
type exchange struct {
	decisionID string
	method     string
	// methods are the list methods (visibility.Listings) the request body holds, ids their
	// requests' ids.
	methods []string
	ids     []json.RawMessage
	// sealed are the values of the request's grant header: synapse's, one, or none.
	sealed      []string
	grant       visibility.Grant
	granted     bool
	refusal     grantRefusal
	contentType string
}

// grantRefusal is why a list has no grant it can use: a metrics.Grant* reason, and the error
// behind it.
type grantRefusal struct {
	reason string
	err    error
}

// lists says whether the request asked for a list, whose answer is filtered.
func (ex *exchange) lists() bool { return len(ex.methods) > 0 }

// Process handles one HTTP request's stream of processing messages.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) (err error) {
	ctx := stream.Context()
	defer func() {
		if r := recover(); r != nil {
			// The gateway fails the request closed when the stream fails (failure_mode_allow false).
			s.Log.ErrorContext(ctx, "ext_proc panicked; the request fails closed", "panic", fmt.Sprint(r))
			err = errors.New("ext_proc failed")
		}
	}()
	var ex exchange
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(s.handle(ctx, &ex, req)); err != nil {
			return err
		}
	}
}

func (s *Server) handle(ctx context.Context, ex *exchange, req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	switch r := req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return s.requestHeaders(ex, r.RequestHeaders)
	case *extprocv3.ProcessingRequest_RequestBody:
		return s.requestBody(ex, r.RequestBody)
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return s.responseHeaders(ex, r.ResponseHeaders)
	case *extprocv3.ProcessingRequest_ResponseBody:
		return s.responseBody(ctx, ex, r.ResponseBody)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}
	default:
		// Nothing else is asked for; answering anything else would not be understood.
		return s.withhold(ex, "the gateway sent a processing message synapse does not handle")
	}
}

// requestHeaders notes the decision id synapse set on the request and asks for a POST's body.
func (s *Server) requestHeaders(ex *exchange, h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	ex.method = headerValue(h, ":method")
	ex.decisionID = headerValue(h, respond.HeaderDecisionID)
	if ex.method == "GET" && headerValue(h, "last-event-id") != "" {
		// A resumed event stream may replay the answer to a list, and a stream is never
		// buffered here to filter it. ext_authz refuses it first (synapse/mapping); this holds
		// should a gateway ask ext_proc all the same.
		return s.withhold(ex, "resuming an event stream could replay a list that is not filtered")
	}
	ex.sealed = headerValues(h, respond.HeaderGrant)
	// The grant is for synapse alone: the upstream never sees it, whatever the request.
	resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{
		Response: &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{RemoveHeaders: []string{respond.HeaderGrant}}},
	}}}
	if ex.method == "POST" && len(ex.sealed) > 0 {
		// A grant that opens names the body's lists, as ext_authz read them: the body need not
		// be read again, one message each way fewer per list. One that does not open, or names
		// no list (sealed by an older synapse), is judged on the body, as without a grant.
		if g, refusal := s.grantOf(ex); refusal.reason == "" && len(g.Lists) > 0 {
			ex.grant, ex.granted = g, true
			for _, l := range g.Lists {
				ex.methods = append(ex.methods, l.Method)
				ex.ids = append(ex.ids, l.ID)
			}
			resp.ModeOverride = &filterv3.ProcessingMode{ResponseHeaderMode: filterv3.ProcessingMode_SEND}
			return resp
		}
	}
	if ex.method == "POST" {
		// The gateway sends no answer's headers unless asked here: a reply it made itself,
		// before this processor saw the request, must pass without it.
		resp.ModeOverride = &filterv3.ProcessingMode{RequestBodyMode: filterv3.ProcessingMode_BUFFERED, ResponseHeaderMode: filterv3.ProcessingMode_SEND}
	}
	return resp
}

// requestBody looks for a list in the request (one message or a batch). Its answer is
// asked for at the answer's headers: a gateway ignores a mode override sent with a body.
func (s *Server) requestBody(ex *exchange, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
	if ex.granted {
		// Judged at the headers by its grant, which named its lists; a gateway that sends the
		// body all the same changes nothing.
		return resp
	}
	msgs, _, err := jsonrpc.Decode(b.GetBody(), s.Limits)
	if err != nil {
		// ext_authz read this very body with the same limits and allowed it, so this does not
		// happen; if it did, a list could hide in what is not read.
		return s.withhold(ex, "the request could not be read")
	}
	for _, m := range msgs {
		if _, ok := visibility.ListingFor(m.Method); ok && m.Kind == jsonrpc.KindRequest {
			ex.methods = append(ex.methods, m.Method)
			ex.ids = append(ex.ids, m.ID)
		}
	}
	if ex.lists() {
		ex.grant, ex.refusal = s.grantOf(ex)
		ex.granted = ex.refusal.reason == ""
	}
	return resp
}

// grantOf is the grant of ex's request, or why it has none it may use.
func (s *Server) grantOf(ex *exchange) (visibility.Grant, grantRefusal) {
	if s.Sealer == nil {
		return visibility.Grant{}, grantRefusal{reason: metrics.GrantMissing}
	}
	switch len(ex.sealed) {
	case 0:
		return visibility.Grant{}, grantRefusal{reason: metrics.GrantMissing}
	case 1:
	default:
		// ext_authz sets one over whatever the client sent: two are not synapse's doing.
		return visibility.Grant{}, grantRefusal{reason: metrics.GrantMalformed, err: fmt.Errorf("the grant header appears %d times", len(ex.sealed))}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	g, err := s.Sealer.Open(ex.decisionID, ex.sealed[0], now())
	if err == nil {
		return g, grantRefusal{}
	}
	reason := metrics.GrantMalformed
	for _, r := range []struct {
		err    error
		reason string
	}{
		{visibility.ErrGrantTooLarge, metrics.GrantTooLarge},
		{visibility.ErrGrantForged, metrics.GrantForged},
		{visibility.ErrGrantMismatch, metrics.GrantMismatched},
		{visibility.ErrGrantExpired, metrics.GrantExpired},
	} {
		if errors.Is(err, r.err) {
			reason = r.reason
		}
	}
	return visibility.Grant{}, grantRefusal{reason: reason, err: err}
}

// responseHeaders asks for a list's whole answer, and notes its content type; the answer
// loses its length, which filtering changes.
func (s *Server) responseHeaders(ex *exchange, h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
	if ex.lists() {
		ex.contentType = headerValue(h, "content-type")
		resp.GetResponseHeaders().Response = &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{RemoveHeaders: []string{"content-length"}}}
		resp.ModeOverride = &filterv3.ProcessingMode{ResponseBodyMode: filterv3.ProcessingMode_BUFFERED}
	}
	return resp
}

// responseBody sends the list answer on with only what the principal may use.
func (s *Server) responseBody(ctx context.Context, ex *exchange, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	pass := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
	if !ex.lists() {
		return pass
	}
	if !ex.granted {
		return s.withholdUngranted(ctx, ex)
	}
	answer, err := visibility.Read(ex.contentType, b.GetBody())
	if err != nil {
		s.Log.WarnContext(ctx, "a list answer synapse cannot read; withheld", "decision_id", ex.decisionID, "err", err)
		return s.withhold(ex, "the list could not be read")
	}
	visible := map[string]map[string]bool{}
	for _, l := range visibility.Listings() {
		items := answer.Items(l)
		if len(items) == 0 {
			continue
		}
		shown, err := visibility.Visible(ctx, s.Planner, s.Hints, ex.grant.Principal, ex.grant.Metadata, ex.grant.Kind, l, items)
		if err != nil {
			s.Log.ErrorContext(ctx, "cerbos did not plan the list; withheld", "decision_id", ex.decisionID, "list", l.Method, "err", err)
			return s.withhold(ex, "the policy decision point did not decide what to show")
		}
		visible[l.Method] = shown
	}
	body, err := answer.Keep(func(method, item string) bool { return visible[method][item] })
	if err != nil {
		s.Log.ErrorContext(ctx, "filtering the list failed; withheld", "decision_id", ex.decisionID, "err", err)
		return s.withhold(ex, "the list could not be filtered")
	}
	for method, items := range visible {
		shown := 0
		for _, ok := range items {
			if ok {
				shown++
			}
		}
		s.Log.DebugContext(ctx, "list filtered", "decision_id", ex.decisionID, "kind", ex.grant.Kind, "list", method, "listed", len(items), "shown", shown)
		if s.Metrics != nil {
			s.Metrics.List(method, metrics.ListFiltered, len(items)-shown)
		}
	}
	pass.GetResponseBody().Response = &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: body}}}
	return pass
}

// withholdUngranted withholds a list whose request carries no grant this replica can use, and
// says why: a grant that is missing or forged on every list behind a gateway with several
// replicas is their keys differing (responsePath.grantKeyFile unset, or not the same file).
func (s *Server) withholdUngranted(ctx context.Context, ex *exchange) *extprocv3.ProcessingResponse {
	r := ex.refusal
	if s.Metrics != nil {
		s.Metrics.GrantRefused(r.reason)
	}
	attrs := []any{"decision_id", ex.decisionID, "methods", ex.methods, "reason", r.reason}
	if r.err != nil {
		attrs = append(attrs, "err", r.err)
	}
	s.Log.WarnContext(ctx, "a list answer without a grant synapse can use; withheld", attrs...)
	if r.reason == metrics.GrantMissing {
		return s.withhold(ex, "synapse holds no decision for this list")
	}
	return s.withhold(ex, "synapse holds no decision for this list (grant refused: "+r.reason+")")
}

// withhold answers the list in the gateway's place, closed: a JSON-RPC error for each of
// its requests (code -32011, what synapse answers an MCP request when nothing could be decided),
// with the marks of every denial, as a decision of its own in the audit log.
func (s *Server) withhold(ex *exchange, why string) *extprocv3.ProcessingResponse {
	d := respond.Denial{Decision: respond.DecisionDeny, Code: codeListWithheld, Reason: why + ": the list is withheld (fail closed)"}
	id := ex.decisionID
	if s.NewID != nil {
		id = s.NewID()
	}
	if s.Metrics != nil {
		method := "unknown"
		if len(ex.methods) > 0 {
			method = ex.methods[0]
		}
		s.Metrics.List(method, metrics.ListWithheld, 0)
	}
	if s.Audit != nil {
		rec := audit.Record{Time: time.Now().UTC(), DecisionID: id, Effect: audit.EffectDeny, Code: d.Code, Reason: d.Reason,
			Failure: failureResponsePath, Kind: ex.grant.Kind, Principal: ex.grant.Principal.ID, Roles: ex.grant.Principal.Roles,
			AgentID: ex.grant.Metadata.AgentID, HarnessVersion: ex.grant.Metadata.HarnessVersion, Task: ex.grant.Metadata.TaskID}
		if err := s.Audit.Write(rec); err != nil {
			s.Log.Error("audit write failed", "decision_id", id, "err", err)
		}
	}
	ids := ex.ids
	if len(ids) == 0 {
		ids = []json.RawMessage{json.RawMessage("null")}
	}
	answers := make([]json.RawMessage, 0, len(ids))
	for _, id := range ids {
		answer, _ := json.Marshal(map[string]any{
			"jsonrpc": "2.0", "id": id,
			"error": map[string]any{"code": respond.JSONRPCUnavailable, "message": "unavailable: " + d.Reason, "data": d},
		})
		answers = append(answers, answer)
	}
	body := answers[0]
	if len(answers) > 1 {
		body, _ = json.Marshal(answers)
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
		Status: &typev3.HttpStatus{Code: typev3.StatusCode_OK},
		Headers: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
			header("content-type", "application/json"),
			header(respond.HeaderDecision, respond.DecisionDeny),
			header(respond.HeaderShouldRetry, "false"),
			header(respond.HeaderDecisionID, id),
		}},
		Body:    body,
		Details: "hopguard_list_withheld",
	}}}
}

// codeListWithheld is the denial code of a withheld list, and failureResponsePath the audit
// log's failure for it: the response path could not decide.
const (
	codeListWithheld    = "list_withheld"
	failureResponsePath = "response_path"
)

func header(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, RawValue: []byte(value)},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// headerValue is the value of the header called name (lower case), which Envoy sends in
// raw_value and older gateways in value.
func headerValue(h *extprocv3.HttpHeaders, name string) string {
	if vs := headerValues(h, name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// headerValues are the values of every header called name, in order.
func headerValues(h *extprocv3.HttpHeaders, name string) []string {
	var vs []string
	for _, hv := range h.GetHeaders().GetHeaders() {
		if strings.EqualFold(hv.GetKey(), name) {
			if raw := hv.GetRawValue(); len(raw) > 0 {
				vs = append(vs, string(raw))
			} else {
				vs = append(vs, hv.GetValue())
			}
		}
	}
	return vs
}

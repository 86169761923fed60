// Package extproc is synapse's response path: an Envoy external processor (ext_proc) that shows
// an agent only the tools it may call. ext_authz has already allowed the request and, for a
// tools/list, left a grant under its decision id (synapse/visibility.Grants); this processor
// reads the request body to know a tools/list when it sees one, buffers that request's answer,
// and sends it on with the tools the principal may not call taken out (synapse/visibility).
//
// It fails closed: a tools/list whose grant is gone (synapse restarted, or the grant expired),
// an answer it cannot read, or a plan Cerbos did not make withholds the list, answering the
// agent with a JSON-RPC error instead. Every other request passes untouched: the processor asks
// for no body but a POST's, and for no answer's but a tools/list's.
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

// methodListTools is the MCP method whose answer is filtered.
const methodListTools = "tools/list"

// Server is the ext_proc service.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer

	Grants  *visibility.Grants
	Planner visibility.Planner
	Log     *slog.Logger
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
	// listsTools is set once the request body holds a tools/list; ids are its requests' ids.
	listsTools  bool
	ids         []json.RawMessage
	grant       visibility.Grant
	granted     bool
	contentType string
}

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
		// A resumed event stream may replay the answer to a tools/list, and a stream is never
		// buffered here to filter it. ext_authz refuses it first (synapse/mapping); this holds
		// should a gateway ask ext_proc all the same.
		return s.withhold(ex, "resuming an event stream could replay a tool list that is not filtered")
	}
	resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}}
	if ex.method == "POST" {
		// The gateway sends no answer's headers unless asked here: a reply it made itself,
		// before this processor saw the request, must pass without it.
		resp.ModeOverride = &filterv3.ProcessingMode{RequestBodyMode: filterv3.ProcessingMode_BUFFERED, ResponseHeaderMode: filterv3.ProcessingMode_SEND}
	}
	return resp
}

// requestBody looks for a tools/list in the request (one message or a batch). Its answer is
// asked for at the answer's headers: a gateway ignores a mode override sent with a body.
func (s *Server) requestBody(ex *exchange, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
	msgs, _, err := jsonrpc.Decode(b.GetBody(), s.Limits)
	if err != nil {
		// ext_authz read this very body with the same limits and allowed it, so this does not
		// happen; if it did, a tools/list could hide in what is not read.
		return s.withhold(ex, "the request could not be read")
	}
	for _, m := range msgs {
		if m.Kind == jsonrpc.KindRequest && m.Method == methodListTools {
			ex.listsTools = true
			ex.ids = append(ex.ids, m.ID)
		}
	}
	if ex.listsTools {
		ex.grant, ex.granted = s.Grants.Take(ex.decisionID)
	}
	return resp
}

// responseHeaders asks for a tools/list's whole answer, and notes its content type; the answer
// loses its length, which filtering changes.
func (s *Server) responseHeaders(ex *exchange, h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
	if ex.listsTools {
		ex.contentType = headerValue(h, "content-type")
		resp.GetResponseHeaders().Response = &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{RemoveHeaders: []string{"content-length"}}}
		resp.ModeOverride = &filterv3.ProcessingMode{ResponseBodyMode: filterv3.ProcessingMode_BUFFERED}
	}
	return resp
}

// responseBody sends the tools/list answer on with only the tools the principal may call.
func (s *Server) responseBody(ctx context.Context, ex *exchange, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	pass := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
	if !ex.listsTools {
		return pass
	}
	if !ex.granted {
		s.Log.WarnContext(ctx, "a tools/list answer without its grant; withheld", "decision_id", ex.decisionID)
		return s.withhold(ex, "synapse holds no decision for this tools/list")
	}
	answer, err := visibility.Read(ex.contentType, b.GetBody())
	if err != nil {
		s.Log.WarnContext(ctx, "a tools/list answer synapse cannot read; withheld", "decision_id", ex.decisionID, "err", err)
		return s.withhold(ex, "the tool list could not be read")
	}
	visible, err := visibility.Visible(ctx, s.Planner, ex.grant.Principal, ex.grant.Metadata, ex.grant.Kind, answer.Tools())
	if err != nil {
		s.Log.ErrorContext(ctx, "cerbos did not plan the tool list; withheld", "decision_id", ex.decisionID, "err", err)
		return s.withhold(ex, "the policy decision point did not decide which tools to show")
	}
	body, err := answer.Keep(func(tool string) bool { return visible[tool] })
	if err != nil {
		s.Log.ErrorContext(ctx, "filtering the tool list failed; withheld", "decision_id", ex.decisionID, "err", err)
		return s.withhold(ex, "the tool list could not be filtered")
	}
	shown := 0
	for _, ok := range visible {
		if ok {
			shown++
		}
	}
	s.Log.DebugContext(ctx, "tool list filtered", "decision_id", ex.decisionID, "kind", ex.grant.Kind, "listed", len(visible), "shown", shown)
	if s.Metrics != nil {
		s.Metrics.ToolList(metrics.ToolListFiltered, len(visible)-shown)
	}
	pass.GetResponseBody().Response = &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: body}}}
	return pass
}

// withhold answers the tools/list in the gateway's place, closed: a JSON-RPC error for each of
// its requests (code -32011, what synapse answers an MCP request when nothing could be decided),
// with the marks of every denial, as a decision of its own in the audit log.
func (s *Server) withhold(ex *exchange, why string) *extprocv3.ProcessingResponse {
	d := respond.Denial{Decision: respond.DecisionDeny, Code: codeToolsWithheld, Reason: why + ": the tool list is withheld (fail closed)"}
	id := ex.decisionID
	if s.NewID != nil {
		id = s.NewID()
	}
	if s.Metrics != nil {
		s.Metrics.ToolList(metrics.ToolListWithheld, 0)
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
		Details: "hopguard_tools_withheld",
	}}}
}

// codeToolsWithheld is the denial code of a withheld tool list, and failureResponsePath the
// audit log's failure for it: the response path could not decide.
const (
	codeToolsWithheld   = "tools_withheld"
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
	for _, hv := range h.GetHeaders().GetHeaders() {
		if strings.EqualFold(hv.GetKey(), name) {
			if raw := hv.GetRawValue(); len(raw) > 0 {
				return string(raw)
			}
			return hv.GetValue()
		}
	}
	return ""
}

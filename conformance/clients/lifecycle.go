package clients

import (
	"context"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

// The steps of an MCP session's lifecycle, as the report names them.
const (
	stepInitialize  = "initialize"
	stepInitialized = "notifications/initialized"
	stepGET         = "GET stream"
	stepDELETE      = "DELETE"
	stepDELETEAgain = "second DELETE"
	stepSessionID   = "session id"
)

// lifecycleServer is the MCP server whose session is played; lifecycleTicket the ticket of the
// task behind a gateway.
const (
	lifecycleServer = "tickets"
	lifecycleTicket = "T-2001"
	// getStreamWait bounds how long the GET stream the SDK opens may take to answer.
	getStreamWait = 5 * time.Second
)

// Lifecycle plays one MCP session's lifecycle with the official MCP Go SDK in the session
// protocol against the upstream MCP server reached directly, then through every gateway of h
// that runs: initialize, notifications/initialized, the GET stream the SDK opens, DELETE when
// the session closes, and a second DELETE with the same session id sent as raw HTTP (the SDK
// sends one only). Each step's status and content type are read under the SDK, by its HTTP
// client. A gateway's step that differs from the upstream's fails where an official MCP SDK
// complains of the gateway's answer and not of the upstream's; any other difference is shown
// with the gateway's note that documents it, and fails without one.
func Lifecycle(ctx context.Context, h *harness.Env, runID string, logf func(format string, args ...any)) []report.LifecycleRun {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()

	upstream := report.LifecycleRun{Target: report.LifecycleUpstream, Endpoint: mcpserver.EndpointPath}
	if base, err := h.URL(stack.MCPComponent(lifecycleServer)); err != nil {
		upstream.Outcome, upstream.Reason = report.Fail, "the upstream's address: "+err.Error()
	} else {
		playLifecycle(ctx, transport, base+mcpserver.EndpointPath, "", &upstream)
	}
	if upstream.Outcome == "" {
		upstream.Outcome = report.Pass
		if bad := slices.IndexFunc(upstream.Steps, func(s report.LifecycleStep) bool { return s.Step != stepSessionID && s.Status == 0 }); bad >= 0 {
			upstream.Outcome, upstream.Reason = report.Fail, "the upstream did not answer "+upstream.Steps[bad].Step
		}
	}
	out := []report.LifecycleRun{upstream}

	for _, g := range h.Gateways {
		run := report.LifecycleRun{Target: g.Name(), Endpoint: "/mcp/" + lifecycleServer}
		env, err := h.Behind(g.Name(), runID)
		if err == nil {
			taskID := fmt.Sprintf("%s-%s-lifecycle", runID, g.Name())
			if err = aliceTask(ctx, env, taskID, lifecycleTicket); err == nil {
				var tok string
				if tok, err = token(ctx, env.STSURL, taskID, "mcp:"+lifecycleServer); err == nil {
					playLifecycle(ctx, transport, env.GatewayURL+run.Endpoint, tok, &run)
				}
			}
		}
		if err != nil {
			run.Outcome, run.Reason = report.Fail, "could not play the session: "+err.Error()
		} else {
			judgeLifecycle(&run, upstream, gateways.ProfileOf(g).Notes)
		}
		logf("session lifecycle: %s: %s %s", run.Target, run.Outcome, run.Reason)
		out = append(out, run)
	}
	return out
}

// exchange is one HTTP request of the lifecycle and its answer.
type exchange struct {
	method, rpcMethod string
	status            int
	contentType       string
	sessionID         string // the response's Mcp-Session-Id
	took              time.Duration
	err               error
}

// lifecycleRecorder records every exchange under the SDK.
type lifecycleRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []exchange
}

func (r *lifecycleRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchange{method: req.Method}
	if req.Method == http.MethodPost {
		method, err := peekRPCMethod(req)
		if err != nil {
			return nil, err
		}
		x.rpcMethod = method
	}
	start := time.Now()
	resp, err := r.next.RoundTrip(req)
	x.took = time.Since(start)
	if err != nil {
		x.err = err
	} else {
		x.status = resp.StatusCode
		x.contentType = resp.Header.Get("Content-Type")
		x.sessionID = resp.Header.Get("Mcp-Session-Id")
	}
	r.mu.Lock()
	r.seen = append(r.seen, x)
	r.mu.Unlock()
	return resp, err
}

// find is the first exchange that matches.
func (r *lifecycleRecorder) find(match func(exchange) bool) (exchange, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.seen, match)
	if i < 0 {
		return exchange{}, false
	}
	return r.seen[i], true
}

func (r *lifecycleRecorder) all() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// playLifecycle plays the session against endpoint, presenting tok where it is set, and fills
// run's steps.
func playLifecycle(ctx context.Context, transport http.RoundTripper, endpoint, tok string, run *report.LifecycleRun) {
	ctx, cancel := context.WithTimeout(ctx, hopTimeout)
	defer cancel()
	var next = transport
	if tok != "" {
		next = bearer{token: tok, next: transport}
	}
	rec := &lifecycleRecorder{next: next}
	client := mcp.NewClient(&mcp.Implementation{Name: "hopguard-lifecycle", Version: "0.1.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: rec}},
		&mcp.ClientSessionOptions{ProtocolVersion: sessionProtocol})
	if err != nil {
		run.Reason = "the SDK could not open the session: " + err.Error()
	} else {
		run.Protocol = session.InitializeResult().ProtocolVersion
		run.SessionID = session.ID()
		// The SDK opens the GET stream once initialized; wait for its answer.
		deadline := time.Now().Add(getStreamWait)
		for time.Now().Before(deadline) {
			if _, ok := rec.find(func(x exchange) bool { return x.method == http.MethodGet }); ok {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	get, gotGET := rec.find(func(x exchange) bool { return x.method == http.MethodGet })
	if session != nil {
		_ = session.Close() // DELETE
	}
	initialize, _ := rec.find(func(x exchange) bool { return x.rpcMethod == "initialize" })
	initialized, _ := rec.find(func(x exchange) bool { return x.rpcMethod == "notifications/initialized" })
	del, _ := rec.find(func(x exchange) bool { return x.method == http.MethodDelete })
	var again exchange
	if run.SessionID != "" {
		again = deleteAgain(ctx, rec, endpoint, run.SessionID, run.Protocol)
	}

	step := func(name string, x exchange) report.LifecycleStep {
		s := report.LifecycleStep{Step: name, Status: x.status, ContentType: mediaType(x.contentType)}
		if x.err != nil {
			s.Detail = clip(x.err.Error())
		}
		s.Complaint = sdkComplaint(name, x)
		return s
	}
	run.Steps = append(run.Steps, step(stepInitialize, initialize), step(stepInitialized, initialized))
	getStep := step(stepGET, get)
	switch {
	case !gotGET && session != nil:
		getStep.Detail = fmt.Sprintf("not answered within %s", getStreamWait)
		getStep.Complaint = ""
	case gotGET && get.err == nil:
		getStep.Detail = "opened, answered"
	}
	run.Steps = append(run.Steps, getStep, step(stepDELETE, del), step(stepDELETEAgain, again))
	run.Steps = append(run.Steps, sessionStep(run.SessionID, rec.all()))
}

// deleteAgain sends a second DELETE for the session, as raw HTTP (the SDK sends one only).
func deleteAgain(ctx context.Context, rec *lifecycleRecorder, endpoint, sessionID, protocol string) exchange {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, endpoint, nil)
	if err != nil {
		return exchange{method: http.MethodDelete, err: err}
	}
	req.Header.Set("Mcp-Session-Id", sessionID)
	if protocol != "" {
		req.Header.Set("Mcp-Protocol-Version", protocol)
	}
	before := len(rec.all())
	resp, err := rec.RoundTrip(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	return rec.all()[before]
}

// sessionStep says how the session id was handled: set at initialize, the same on every
// answer, and its form (what the gateway's run is compared on).
func sessionStep(id string, seen []exchange) report.LifecycleStep {
	s := report.LifecycleStep{Step: stepSessionID}
	if id == "" {
		s.Detail = "none"
		return s
	}
	shown := id
	if len(shown) > 24 {
		shown = shown[:24] + "…"
	}
	s.Detail = "`" + shown + "`, form " + idForm(id)
	if inner := wrapped(id); inner != "" {
		s.Detail += " (it encodes the upstream's session id " + inner + ")"
	}
	for _, x := range seen {
		if x.sessionID != "" && x.sessionID != id {
			s.Complaint = fmt.Sprintf("the MCP Go SDK fails the session: mismatching session IDs %q and %q", id, x.sessionID)
		}
	}
	return s
}

var uuidRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// idForm is the shape of a session id: a UUID in it as <uuid>, else opaque with its length.
// Ids of one issuer share it.
func idForm(id string) string {
	if uuidRE.MatchString(id) {
		return "`" + uuidRE.ReplaceAllString(id, "<uuid>") + "`"
	}
	return fmt.Sprintf("opaque (%d characters)", len(id))
}

// wrapped is the session id of the form mcp-session-<uuid> that an opaque id encodes as
// base64url JSON (agentgateway's), "" when none.
func wrapped(id string) string {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(id, "="))
	if err != nil {
		return ""
	}
	return uuidSessionRE.FindString(string(raw))
}

var uuidSessionRE = regexp.MustCompile(`mcp-session-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// mediaType is a Content-Type without its parameters.
func mediaType(ct string) string {
	if ct == "" {
		return ""
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	return ct
}

// sdkComplaint is what an official MCP SDK says of an answer to a step, "" when nothing: the
// MCP Go SDK v1.8.0 (mcp/streamable.go) fails a call answered with 4xx/5xx or a content type
// other than application/json or text/event-stream, warns of a notification answered other than
// 202 or 204 and of a GET stream answered with 4xx or another content type (405 is the
// spec's "no stream"), and does not look at DELETE's status; the MCP Python SDK warns
// "Session termination failed: <status>" of a DELETE answered other than 200, 204 or 405
// (gateway notes).
func sdkComplaint(step string, x exchange) string {
	if x.err != nil || x.status == 0 {
		return ""
	}
	mt := mediaType(x.contentType)
	switch step {
	case stepInitialize:
		if x.status >= 400 {
			return fmt.Sprintf("the MCP Go SDK fails initialize: status %d", x.status)
		}
		if mt != "application/json" && mt != "text/event-stream" {
			return fmt.Sprintf("the MCP Go SDK fails initialize: content type %q", mt)
		}
	case stepInitialized:
		if x.status != http.StatusAccepted && x.status != http.StatusNoContent {
			return fmt.Sprintf("the MCP Go SDK warns: unexpected status code %d from non-call", x.status)
		}
	case stepGET:
		switch {
		case x.status == http.StatusMethodNotAllowed:
		case mt != "text/event-stream":
			return fmt.Sprintf("the MCP Go SDK warns: got Content-Type %s instead of text/event-stream for standalone SSE stream", mt)
		case x.status >= 400:
			return fmt.Sprintf("the MCP Go SDK warns: got %d instead of 405 for standalone SSE stream", x.status)
		}
	case stepDELETE:
		if x.status != http.StatusOK && x.status != http.StatusNoContent && x.status != http.StatusMethodNotAllowed {
			return fmt.Sprintf("the MCP Python SDK warns: Session termination failed: %d", x.status)
		}
	}
	return ""
}

// lifecycleNoteKeys find the gateway's note that documents a difference in a step: the first
// note that mentions every key.
var lifecycleNoteKeys = map[string][]string{
	stepInitialize:  {"MCP session", "text/event-stream"},
	stepInitialized: {"MCP session", "notifications/initialized"},
	stepGET:         {"MCP session", "GET stream"},
	stepDELETE:      {"MCP session", "DELETE"},
	stepDELETEAgain: {"MCP session", "second DELETE"},
	stepSessionID:   {"MCP session", "Mcp-Session-Id"},
}

// judgeLifecycle reads a gateway's run against the upstream's.
func judgeLifecycle(run *report.LifecycleRun, upstream report.LifecycleRun, notes []string) {
	var failed []string
	if run.Reason != "" {
		failed = append(failed, run.Reason)
	}
	for i := range run.Steps {
		s := &run.Steps[i]
		j := slices.IndexFunc(upstream.Steps, func(u report.LifecycleStep) bool { return u.Step == s.Step })
		if j < 0 {
			continue
		}
		u := upstream.Steps[j]
		if s.Step == stepSessionID {
			s.Diverges = s.Detail != "none" && u.Detail != "none" && formOf(s.Detail) != formOf(u.Detail)
			if s.Diverges {
				s.Detail += ": the gateway's own id, not the upstream's"
			} else if s.Detail != "none" {
				s.Detail += ": the upstream's, passed through"
			}
		} else {
			s.Diverges = s.Status != u.Status || s.ContentType != u.ContentType
		}
		if s.Complaint != "" && u.Complaint == "" {
			failed = append(failed, s.Step+": "+s.Complaint)
			continue
		}
		if !s.Diverges {
			continue
		}
		if k := slices.IndexFunc(notes, func(n string) bool { return mentionsAll(n, lifecycleNoteKeys[s.Step]) }); k >= 0 {
			s.Note = notes[k]
		} else {
			failed = append(failed, s.Step+": differs from the upstream's and no gateway note documents it")
		}
	}
	run.Outcome = report.Pass
	if len(failed) > 0 {
		run.Outcome = report.Fail
		run.Reason = strings.Join(failed, "; ")
	}
}

// formOf is the form a session step's detail names.
func formOf(detail string) string {
	if _, form, ok := strings.Cut(detail, ", form "); ok {
		form, _, _ = strings.Cut(form, " (")
		return form
	}
	return detail
}

func mentionsAll(note string, keys []string) bool {
	for _, k := range keys {
		if !strings.Contains(note, k) {
			return false
		}
	}
	return len(keys) > 0
}

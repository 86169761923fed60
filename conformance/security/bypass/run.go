package bypass

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/conformance/rawhttp"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/conformance/security/decisionlog"
	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/respond"
)

// Timeouts of one case.
const (
	requestTimeout = 20 * time.Second
	// auditWait bounds the wait for a decision to appear in synapse's log; it is written before
	// the answer leaves synapse, so this is a wait for the file, not a check of speed.
	auditWait = 5 * time.Second
)

// Target is one gateway in front of the running stack.
type Target struct {
	Gateway string
	// Addr is the gateway's front door, host:port.
	Addr string
	// Journals of the upstreams, by resource ("llm", "mcp:payments").
	Journals map[string]*journal.Client
	// AuditLogs are synapse's decision logs: one per replica, each writing its own.
	AuditLogs []string
	Creds     *Credentials
	// MarksOwnRefusals says the gateway marks the replies it makes itself for a request it
	// refuses (x-hopguard-decision: deny), so an unmarked refusal is a problem.
	MarksOwnRefusals bool
	// HTTP2 sends each case over cleartext HTTP/2 (prior knowledge) instead of HTTP/1.1; a case
	// that only exists in HTTP/1.1 (pipelining, framing, upgrades) is skipped.
	HTTP2 bool
}

// Result is how one case went behind one gateway.
type Result struct {
	Case     string `json:"case"`
	Category string `json:"category"`
	Gateway  string `json:"gateway"`
	Control  bool   `json:"control,omitempty"`
	// Denied: the request was refused by some layer.
	Denied bool `json:"denied"`
	// Layer is who refused it (Layer*).
	Layer string `json:"layer"`
	// Status is the HTTP status the client got; 0 when the connection closed without one.
	Status int `json:"status"`
	// Code is synapse's denial code; DecisionID its decision id.
	Code       string `json:"code,omitempty"`
	DecisionID string `json:"decision_id,omitempty"`
	// Upstream lists what reached an upstream ("mcp:payments POST /mcp tools/call refund_issue").
	Upstream []string `json:"upstream,omitempty"`
	// Marked: the response carries x-hopguard-decision: deny (every refusal should, the
	// gateway's own included); false with no response at all.
	Marked bool `json:"marked,omitempty"`
	// Audited: synapse's audit log holds this decision with the effect the client saw.
	Audited bool `json:"audited"`
	// Expected: the denial is one the case expects.
	Expected bool   `json:"expected"`
	Pass     bool   `json:"pass"`
	Problem  string `json:"problem,omitempty"`
	// Skipped says why the case does not apply (an HTTP/1.1 trick sent over HTTP/2).
	Skipped string `json:"skipped,omitempty"`
}

// Run sends c through the gateway and judges the outcome. Errors of the harness itself (a
// journal that cannot be read, a token that cannot be had) fail the case with the reason.
func Run(ctx context.Context, tg Target, c Case) Result {
	res := Result{Case: c.ID, Category: c.Category, Gateway: tg.Gateway, Control: c.Allow, Layer: LayerNone}
	if err := run(ctx, tg, c, &res); err != nil {
		res.Pass, res.Problem = false, err.Error()
	}
	return res
}

func run(ctx context.Context, tg Target, c Case, res *Result) error {
	for resource, j := range tg.Journals {
		if err := j.Reset(ctx); err != nil {
			return fmt.Errorf("reset the %s journal: %w", resource, err)
		}
	}
	kit := &Kit{Credentials: tg.Creds, session: func(ctx context.Context, a scenarios.Actor, server string) (string, error) {
		return openSession(ctx, tg, a, server)
	}}
	req, err := c.Build(ctx, kit)
	if err != nil {
		return fmt.Errorf("build the request: %w", err)
	}
	before, err := journalCounts(ctx, tg.Journals)
	if err != nil {
		return err
	}
	auditFrom := make([]int64, len(tg.AuditLogs))
	for i, path := range tg.AuditLogs {
		if auditFrom[i], err = decisionlog.Size(path); err != nil {
			return err
		}
	}

	resp, err := send(ctx, tg, kit, c, req)
	if errors.Is(err, rawhttp.ErrNotHTTP2) {
		res.Skipped = err.Error()
		return nil
	}
	if err != nil {
		return err
	}
	classify(res, resp)

	if res.Upstream, err = journalSince(ctx, tg.Journals, before, c.Forbidden); err != nil {
		return err
	}
	if res.DecisionID != "" {
		rec, err := auditRecord(ctx, tg.AuditLogs, auditFrom, res.DecisionID)
		if err != nil {
			return err
		}
		if rec != nil {
			res.Audited = (rec.Effect == audit.EffectDeny) == res.Denied
			if res.Denied && res.Code == "" {
				res.Code = rec.Code // a HEAD denial has no body to carry it
			}
		}
	}
	res.Expected = c.expects(res.Layer, res.Code)
	shown := shownOf(resp, c)
	if c.Allow {
		res.Expected = !res.Denied
		// Let through is not enough: the upstream must have answered it, or an allowed request
		// that the gateway mangled on its way (agentgateway once forwarded an HTTP/2 client's
		// call as h2c to an HTTP/1.1 upstream: 503) would count as a working control.
		res.Pass = !res.Denied && res.Audited && len(res.Upstream) > 0 && res.Status >= 200 && res.Status < 300
		if !res.Pass {
			res.Problem = fmt.Sprintf("the control was not let through to its upstream and answered (layer %s, status %d, code %q, upstream %v)", res.Layer, res.Status, res.Code, res.Upstream)
		}
		if problem := shown.problem(); problem != "" {
			res.Pass, res.Problem = false, strings.TrimPrefix(res.Problem+"; "+problem, "; ")
		}
		return nil
	}
	if len(c.Hidden) > 0 {
		// A response-path case: the request may well be let through and reach its upstream;
		// what must not happen is a hidden tool in the answer.
		var problems []string
		if problem := shown.problem(); problem != "" {
			problems = append(problems, problem)
		}
		if res.Denied && len(c.Expect) > 0 && !res.Expected {
			problems = append(problems, fmt.Sprintf("refused by %s with code %q, expected one of %v", res.Layer, res.Code, c.Expect))
		}
		res.Pass = len(problems) == 0
		res.Problem = strings.Join(problems, "; ")
		return nil
	}
	var problems []string
	if !res.Denied {
		problems = append(problems, fmt.Sprintf("LET THROUGH: status %d, no denial", res.Status))
	}
	if len(res.Upstream) > 0 {
		problems = append(problems, "REACHED AN UPSTREAM: "+strings.Join(res.Upstream, "; "))
	}
	if res.Denied && res.Status != 0 && !res.Marked && tg.MarksOwnRefusals {
		problems = append(problems, fmt.Sprintf("the refusal (status %d) carries no x-hopguard-decision: deny", res.Status))
	}
	if res.Layer == LayerSynapse && !res.Audited {
		problems = append(problems, "synapse's audit log has no denial "+res.DecisionID)
	}
	if !res.Expected {
		problems = append(problems, fmt.Sprintf("denied by %s with code %q, expected one of %v", res.Layer, res.Code, c.Expect))
	}
	res.Pass = len(problems) == 0
	res.Problem = strings.Join(problems, "; ")
	return nil
}

// send sends the case's request, after its Before request on the same connection when it has
// one, and returns the response to the case's own request (nil when the gateway closed the
// connection without one).
func send(ctx context.Context, tg Target, kit *Kit, c Case, req rawhttp.Request) (*rawhttp.Response, error) {
	if tg.HTTP2 {
		if c.Before != nil {
			return nil, fmt.Errorf("%w: pipelining is HTTP/1.1's", rawhttp.ErrNotHTTP2)
		}
		resp, err := rawhttp.SendHTTP2(ctx, tg.Addr, req, requestTimeout)
		if errors.Is(err, rawhttp.ErrNoResponse) {
			return nil, nil
		}
		return resp, err
	}
	reqs := []rawhttp.Request{req}
	if c.Before != nil {
		first, err := c.Before(ctx, kit)
		if err != nil {
			return nil, fmt.Errorf("build the request before: %w", err)
		}
		reqs = []rawhttp.Request{first, req}
	}
	resps, err := rawhttp.SendAll(ctx, tg.Addr, reqs, requestTimeout)
	if err != nil && !errors.Is(err, rawhttp.ErrNoResponse) {
		return nil, err
	}
	if len(resps) < len(reqs) {
		return nil, nil
	}
	return resps[len(reqs)-1], nil
}

// Verdict is who decided what, as the client sees it.
type Verdict struct {
	Denied bool
	// Layer is who refused it (Layer*), LayerNone when it was let through.
	Layer string
	// Status is the HTTP status; 0 when the connection closed without one.
	Status int
	// Code is synapse's denial code, read from the body; DecisionID synapse's decision id.
	Code, DecisionID string
	// Marked says the response carries x-hopguard-decision: deny, as every refusal should,
	// the gateway's own included.
	Marked bool
}

// Judge reads the verdict from a response; nil means the connection closed without one, which
// is the gateway refusing the request.
func Judge(resp *rawhttp.Response) Verdict {
	if resp == nil {
		return Verdict{Denied: true, Layer: LayerGateway}
	}
	v := Verdict{Layer: LayerNone, Status: resp.Status, DecisionID: resp.Header.Get(denial.DecisionIDHeader)}
	decision := strings.ToLower(resp.Header.Get(denial.DecisionHeader))
	v.Marked = decision == "deny"
	switch {
	case v.DecisionID != "":
		if decision == "deny" {
			v.Denied, v.Layer, v.Code = true, LayerSynapse, denialCode(resp.Body)
		}
	case decision == "deny" && resp.Header.Get(respond.HeaderCode) == "authz_unavailable":
		v.Denied, v.Layer = true, LayerAuthzFailure
	case decision == "deny" || resp.Status >= 400:
		v.Denied, v.Layer = true, LayerGateway
	}
	return v
}

func classify(res *Result, resp *rawhttp.Response) {
	v := Judge(resp)
	res.Denied, res.Layer, res.Status, res.Code, res.DecisionID, res.Marked = v.Denied, v.Layer, v.Status, v.Code, v.DecisionID, v.Marked
}

// denialCode finds the policy output in any of synapse's envelopes (an OpenAI-style error, a
// JSON-RPC error's data, a tools/call result, a batch of them): the first object whose
// decision is "deny".
func denialCode(body []byte) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return ""
	}
	return findCode(v, 0)
}

func findCode(v any, depth int) string {
	if depth > 8 {
		return ""
	}
	switch t := v.(type) {
	case map[string]any:
		if t["decision"] == "deny" {
			if code, ok := t["code"].(string); ok {
				return code
			}
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if code := findCode(t[k], depth+1); code != "" {
				return code
			}
		}
	case []any:
		for _, e := range t {
			if code := findCode(e, depth+1); code != "" {
				return code
			}
		}
	}
	return ""
}

func journalCounts(ctx context.Context, journals map[string]*journal.Client) (map[string]int, error) {
	out := map[string]int{}
	for resource, j := range journals {
		entries, err := j.Entries(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the %s journal: %w", resource, err)
		}
		out[resource] = len(entries)
	}
	return out, nil
}

// journalSince describes the entries each journal gained since before (only the forbidden
// ones, when forbidden is set).
func journalSince(ctx context.Context, journals map[string]*journal.Client, before map[string]int, forbidden func(string, journal.Entry) bool) ([]string, error) {
	var out []string
	for resource, j := range journals {
		entries, err := j.Entries(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the %s journal: %w", resource, err)
		}
		for _, e := range entries[min(before[resource], len(entries)):] {
			if forbidden != nil && !forbidden(resource, e) {
				continue
			}
			out = append(out, strings.Join(slices.DeleteFunc([]string{resource, e.HTTPMethod, e.Path, e.MCPMethod, e.Tool, e.Model}, func(s string) bool { return s == "" }), " "))
		}
	}
	slices.Sort(out)
	return out, nil
}

// auditRecord waits until synapse's log holds the decision id, and returns its record; nil when
// it never appears.
func auditRecord(ctx context.Context, paths []string, from []int64, id string) (*audit.Record, error) {
	deadline := time.Now().Add(auditWait)
	for {
		for p, path := range paths {
			recs, _, err := decisionlog.Synapse(path, from[p])
			if err != nil {
				return nil, err
			}
			for i := range recs {
				if recs[i].DecisionID == id {
					return &recs[i], nil
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// shownTools is what a response-path case's answer named of the tools it watches.
type shownTools struct {
	hidden  []string // named, and must not be
	missing []string // not named, and must be
}

// shownOf reads the answer's body for c's Hidden and Shown tools. An answer cut at
// rawhttp.MaxBody could hide a tool past the cut: tool lists here are far shorter.
func shownOf(resp *rawhttp.Response, c Case) shownTools {
	var s shownTools
	var body []byte
	if resp != nil {
		body = resp.Body
	}
	for _, tool := range c.Hidden {
		if bytes.Contains(body, []byte(`"`+tool+`"`)) {
			s.hidden = append(s.hidden, tool)
		}
	}
	for _, tool := range c.Shown {
		if !bytes.Contains(body, []byte(`"`+tool+`"`)) {
			s.missing = append(s.missing, tool)
		}
	}
	return s
}

func (s shownTools) problem() string {
	var parts []string
	if len(s.hidden) > 0 {
		parts = append(parts, "SHOWN A TOOL IT MAY NOT CALL: "+strings.Join(s.hidden, ", "))
	}
	if len(s.missing) > 0 {
		parts = append(parts, "the answer does not list "+strings.Join(s.missing, ", "))
	}
	return strings.Join(parts, "; ")
}

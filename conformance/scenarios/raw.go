package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/conformance/rawhttp"
	"github.com/hopguard/hopguard/conformance/report"
)

// rawHop sends a request no well-behaved client would, and checks that the gateway refuses it
// and that nothing reaches any upstream.
func (r *Run) rawHop(ctx context.Context, step Step, before map[string]int) {
	c := r.c
	gateway, err := url.Parse(r.env.GatewayURL)
	c.noError(err, "the gateway URL %q", r.env.GatewayURL)
	// Written byte for byte, and read while still writing: the path goes out as is (the point
	// is what the gateway makes of dot segments and escapes), and a gateway may answer an
	// oversized body (413) and close before it has read it all, which Go's client reports as a
	// broken pipe instead of the answer.
	req := rawhttp.Request{Method: step.Hop.Method, Target: step.Hop.Path, Body: step.Hop.Body, Header: []rawhttp.Field{
		{Name: "Content-Type", Value: "application/json"},
		{Name: "Accept", Value: "application/json, text/event-stream"},
	}}
	if step.Token.Kind == OtherResourceToken {
		token, err := r.tokenFunc(ctx, step)
		c.noError(err, "the token for %s", step.Token.Resource)
		bearer, err := token(ctx)
		c.noError(err, "the token for %s", step.Token.Resource)
		req = req.With(rawhttp.Field{Name: "Authorization", Value: "Bearer " + bearer})
	}
	resp, err := rawhttp.Send(ctx, gateway.Host, req, hopTimeout)
	c.noError(err, "%s %s", step.Hop.Method, step.Hop.Path)
	body := resp.Body
	r.capture.take()

	denied := strings.EqualFold(resp.Header.Get(denial.DecisionHeader), "deny")
	refused := resp.Status/100 != 2 || denied
	var reached []string
	for resource := range r.env.Journals {
		if fresh := r.journalSince(ctx, resource, before[resource]); len(fresh) > 0 {
			reached = append(reached, fmt.Sprintf("%s: %+v", resource, fresh))
		}
	}
	d := report.Decision{Step: step.Name, Decision: "allow", Status: resp.Status, Upstream: len(reached) > 0}
	if refused {
		d.Decision = "deny"
	}
	r.record(d)

	c.isTrue(refused, "the gateway let %s %s through: %d %s", step.Hop.Method, step.Hop.Path, resp.Status, body)
	c.isTrue(len(reached) == 0, "%s %s reached an upstream: %s", step.Hop.Method, step.Hop.Path, strings.Join(reached, "; "))
	if status := step.Want.status(r.env.Gateway); status != 0 {
		c.equal(status, resp.Status, "status (body %s)", body)
	}
	// The gateway's own 404 for a path no route takes: marked a denial by every gateway's
	// config, but not decided by synapse (no decision id).
	unrouted := resp.Status == http.StatusNotFound && resp.Header.Get(denial.DecisionIDHeader) == ""
	noCode := !bytes.Contains(body, []byte(`"code":`))
	if step.Want.Code != "" && !(step.Want.OrUnrouted && unrouted) && !(step.Want.codeOptional(r.env.Gateway) && noCode) {
		c.contains(string(body), `"code":"`+step.Want.Code+`"`, "the denial names its code")
	}
}

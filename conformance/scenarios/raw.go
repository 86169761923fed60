package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/conformance/report"
)

// rawHop sends a request no well-behaved client would, and checks that the gateway refuses it
// and that nothing reaches any upstream.
func (r *Run) rawHop(ctx context.Context, step Step, before map[string]int) {
	c := r.c
	ctx, cancel := context.WithTimeout(ctx, hopTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, step.Hop.Method, r.env.GatewayURL, bytes.NewReader(step.Hop.Body))
	c.noError(err, "the request %s %s", step.Hop.Method, step.Hop.Path)
	// Set the path as is: the point is what the gateway makes of dot segments and escapes.
	req.URL.Opaque = "//" + req.URL.Host + step.Hop.Path
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if step.Token.Kind == OtherResourceToken {
		token, err := r.tokenFunc(ctx, step)
		c.noError(err, "the token for %s", step.Token.Resource)
		bearer, err := token(ctx)
		c.noError(err, "the token for %s", step.Token.Resource)
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := r.http.Do(req)
	c.noError(err, "%s %s", step.Hop.Method, step.Hop.Path)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	r.capture.take()

	denied := strings.EqualFold(resp.Header.Get(denial.DecisionHeader), "deny")
	refused := resp.StatusCode/100 != 2 || denied
	var reached []string
	for resource := range r.env.Journals {
		if fresh := r.journalSince(ctx, resource, before[resource]); len(fresh) > 0 {
			reached = append(reached, fmt.Sprintf("%s: %+v", resource, fresh))
		}
	}
	d := report.Decision{Step: step.Name, Decision: "allow", Status: resp.StatusCode, Upstream: len(reached) > 0}
	if refused {
		d.Decision = "deny"
	}
	r.record(d)

	c.isTrue(refused, "the gateway let %s %s through: %d %s", step.Hop.Method, step.Hop.Path, resp.StatusCode, body)
	c.isTrue(len(reached) == 0, "%s %s reached an upstream: %s", step.Hop.Method, step.Hop.Path, strings.Join(reached, "; "))
	if status := step.Want.status(r.env.Gateway); status != 0 {
		c.equal(status, resp.StatusCode, "status (body %s)", body)
	}
	unrouted := resp.StatusCode == http.StatusNotFound && resp.Header.Get(denial.DecisionHeader) == ""
	noCode := !bytes.Contains(body, []byte(`"code":`))
	if step.Want.Code != "" && !(step.Want.OrUnrouted && unrouted) && !(step.Want.codeOptional(r.env.Gateway) && noCode) {
		c.contains(string(body), `"code":"`+step.Want.Code+`"`, "the denial names its code")
	}
}

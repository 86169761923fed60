package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/conformance/report"
)

// rawHop sends a request no well-behaved client would, and checks that the gateway refuses it
// and that nothing reaches any upstream.
func (r *Run) rawHop(ctx context.Context, t *testing.T, step Step, before map[string]int) {
	ctx, cancel := context.WithTimeout(ctx, hopTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, step.Hop.Method, r.env.GatewayURL, bytes.NewReader(step.Hop.Body))
	require.NoError(t, err)
	// Set the path as is: the point is what the gateway makes of dot segments and escapes.
	req.URL.Opaque = "//" + req.URL.Host + step.Hop.Path
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if step.Token.Kind == OtherResourceToken {
		token, err := r.tokenFunc(ctx, step)
		require.NoError(t, err)
		bearer, err := token(ctx)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := r.http.Do(req)
	require.NoError(t, err, "%s %s", step.Hop.Method, step.Hop.Path)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	r.capture.take()

	denied := strings.EqualFold(resp.Header.Get(denial.DecisionHeader), "deny")
	refused := resp.StatusCode/100 != 2 || denied
	var reached []string
	for resource := range r.env.Journals {
		if fresh := r.journalSince(ctx, t, resource, before[resource]); len(fresh) > 0 {
			reached = append(reached, fmt.Sprintf("%s: %+v", resource, fresh))
		}
	}
	d := report.Decision{Step: step.Name, Decision: "allow", Status: resp.StatusCode, Upstream: len(reached) > 0}
	if refused {
		d.Decision = "deny"
	}
	r.record(d)

	assert.True(t, refused, "the gateway let %s %s through: %d %s", step.Hop.Method, step.Hop.Path, resp.StatusCode, body)
	assert.Empty(t, reached, "%s %s reached an upstream", step.Hop.Method, step.Hop.Path)
	if step.Want.Status != 0 {
		assert.Equal(t, step.Want.Status, resp.StatusCode, "status (body %s)", body)
	}
	unrouted := resp.StatusCode == http.StatusNotFound && resp.Header.Get(denial.DecisionHeader) == ""
	if step.Want.Code != "" && !(step.Want.OrUnrouted && unrouted) {
		assert.Contains(t, string(body), `"code":"`+step.Want.Code+`"`, "the denial names its code")
	}
}

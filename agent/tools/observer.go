package tools

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/hopguard/hopguard/agent/denial"
)

// maxDenialBody bounds how much of a denied response is buffered to read the
// policy output from it.
const maxDenialBody = 64 << 10

// denialObserver is an http.RoundTripper that watches for the gateway's
// denial header and keeps the policy output of the last denied response.
//
// mcp-go turns a JSON-RPC error into an error holding error.message only, and
// reports a 4xx on the handshake as "likely a legacy SSE server" without
// reading the body; reading the response on its way past is the only way to
// learn the denial's code, remediation and decision id. It reads nothing but
// denied, non-streaming responses, and hands the client the same bytes.
type denialObserver struct {
	next http.RoundTripper

	mu   sync.Mutex
	last *denial.Denial
}

func (o *denialObserver) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(req)
	if err != nil || !strings.EqualFold(resp.Header.Get(denial.DecisionHeader), "deny") {
		return resp, err
	}
	// The code header is there on a gateway's own fail-closed reply, whatever its body.
	d := denial.Denial{Reason: "denied by the gateway", Code: resp.Header.Get(denial.CodeHeader), DecisionID: resp.Header.Get(denial.DecisionIDHeader)}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		head, readErr := io.ReadAll(io.LimitReader(resp.Body, maxDenialBody))
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		if readErr == nil {
			if parsed, ok := policyOutputIn(head); ok {
				parsed.DecisionID = firstNonEmpty(d.DecisionID, parsed.DecisionID)
				d = parsed
			}
		}
	}
	o.mu.Lock()
	o.last = &d
	o.mu.Unlock()
	return resp, nil
}

// take returns the denial seen since the last take, if any, and forgets it.
func (o *denialObserver) take() (denial.Denial, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	d := o.last
	o.last = nil
	if d == nil {
		return denial.Denial{}, false
	}
	return *d, true
}

// policyOutputIn finds the policy output in a denied MCP response body: the
// data of a JSON-RPC error, or the _meta of a denied tools/call result.
func policyOutputIn(body []byte) (denial.Denial, bool) {
	var msg struct {
		Error *struct {
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data"`
		} `json:"error"`
		Result *struct {
			Meta map[string]json.RawMessage `json:"_meta"`
		} `json:"result"`
	}
	if json.Unmarshal(body, &msg) != nil {
		return denial.Denial{}, false
	}
	switch {
	case msg.Error != nil:
		if d, err := denial.Parse(msg.Error.Data); err == nil {
			return d, true
		}
		if reason, ok := strings.CutPrefix(msg.Error.Message, "denied: "); ok {
			return denial.Denial{Reason: reason}, true
		}
	case msg.Result != nil:
		if d, err := denial.Parse(msg.Result.Meta[denial.MetaKey]); err == nil {
			return d, true
		}
	}
	return denial.Denial{}, false
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

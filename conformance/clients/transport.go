package clients

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/synapse/respond"
)

// sent is one request a client sent, with what came back.
type sent struct {
	method, path string
	rpcMethod    string // the JSON-RPC method of an MCP POST
	status       int
	decision     string // x-hopguard-decision
	decisionID   string
	shouldRetry  string
	err          error
}

// key identifies a request: two requests with one key are the same request sent twice.
func (s sent) key() string { return s.method + " " + s.path + " " + s.rpcMethod }

func (s sent) String() string {
	out := s.method + " " + s.path
	if s.rpcMethod != "" {
		out += " " + s.rpcMethod
	}
	if s.err != nil {
		return out + ": " + s.err.Error()
	}
	out += fmt.Sprintf(" -> %d", s.status)
	if s.decision != "" {
		out += " " + s.decision
	}
	if s.shouldRetry != "" {
		out += " x-should-retry=" + s.shouldRetry
	}
	return out
}

// recorder is the clients' HTTP transport: it remembers every request and its answer. It sits
// under the SDK, so it sees every retry the SDK makes.
type recorder struct {
	next http.RoundTripper

	mu   sync.Mutex
	seen []sent
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	s := sent{method: req.Method, path: req.URL.Path}
	if strings.HasPrefix(req.URL.Path, "/mcp") {
		method, err := peekRPCMethod(req)
		if err != nil {
			return nil, err
		}
		s.rpcMethod = method
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		s.err = err
	} else {
		s.status = resp.StatusCode
		s.decision = strings.Join(resp.Header.Values(denial.DecisionHeader), ",")
		s.decisionID = resp.Header.Get(denial.DecisionIDHeader)
		s.shouldRetry = strings.Join(resp.Header.Values(respond.HeaderShouldRetry), ",")
	}
	r.mu.Lock()
	r.seen = append(r.seen, s)
	r.mu.Unlock()
	return resp, err
}

// take returns what was sent since the last take.
func (r *recorder) take() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.seen)
	r.seen = r.seen[:0]
	return out
}

// bearer presents a token the way a Go program gives the MCP SDK one: its transport has no
// setting for a static token, so a RoundTripper adds the header.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(req)
}

// withoutCredentials sends a request with no credential at all: the model SDKs insist on a
// key, so they are given a placeholder that this removes.
type withoutCredentials struct{ next http.RoundTripper }

func (w withoutCredentials) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Del("Authorization")
	req.Header.Del("X-Api-Key")
	return w.next.RoundTrip(req)
}

// peekRPCMethod reads the JSON-RPC method of req's body ("" for a body that has none) and puts
// the body back for the transport to send.
func peekRPCMethod(req *http.Request) (string, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return "", nil
	}
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return "", err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	var msg struct {
		Method string `json:"method"`
	}
	if json.Unmarshal(body, &msg) != nil {
		return "", nil
	}
	return msg.Method, nil
}

// Package reach tries to get somewhere over the network, or an identity from the SPIFFE
// Workload API, and says how far it got: the escape attempts of the security suite, made by a
// program inside the agent's sandbox (conformance/cmd/reach), and the probes of the sandbox's
// own tests.
package reach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// The kinds of attempt.
const (
	// TCP opens a connection and nothing more: enough for a gRPC port or any listener.
	TCP = "tcp"
	// HTTP sends one request and reads the status.
	HTTP = "http"
	// SPIFFE asks the SPIFFE Workload API at Target (unix:///path) for a JWT-SVID for
	// Audience: which identity, if any, does a process like this one get?
	SPIFFE = "spiffe"
)

// Attempt is one try to reach Target (host:port).
type Attempt struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Target string `json:"target"`
	// Method and Path are the request of an HTTP attempt (GET / by default).
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// Audience is the audience of a SPIFFE attempt's JWT-SVID.
	Audience string `json:"audience,omitempty"`
}

// Outcome is how far an attempt got.
type Outcome struct {
	Attempt
	// Connected: a TCP connection was established.
	Connected bool `json:"connected"`
	// Status is the HTTP status of the answer, 0 for none.
	Status int `json:"status,omitempty"`
	// Header holds the answer's headers that say who answered (x-hopguard-*).
	Header map[string]string `json:"header,omitempty"`
	// Identity is the SPIFFE ID a SPIFFE attempt was given, and SVID the JWT-SVID itself (for
	// the suite to present it where it must be refused).
	Identity string `json:"identity,omitempty"`
	SVID     string `json:"svid,omitempty"`
	// Error is why it got no further.
	Error string `json:"error,omitempty"`
}

// Answered says whether anything answered at the target: a connection, an HTTP status, an
// identity.
func (o Outcome) Answered() bool { return o.Connected || o.Status != 0 || o.Identity != "" }

// Try makes every attempt in turn, each bounded by timeout.
func Try(ctx context.Context, attempts []Attempt, timeout time.Duration) []Outcome {
	out := make([]Outcome, 0, len(attempts))
	for _, a := range attempts {
		actx, cancel := context.WithTimeout(ctx, timeout)
		out = append(out, try(actx, a))
		cancel()
	}
	return out
}

func try(ctx context.Context, a Attempt) Outcome {
	o := Outcome{Attempt: a}
	if a.Kind == SPIFFE {
		svid, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: a.Audience}, workloadapi.WithAddr(a.Target))
		if err != nil {
			o.Error = err.Error()
			return o
		}
		o.Identity, o.SVID = svid.ID.String(), svid.Marshal()
		return o
	}
	if _, _, err := net.SplitHostPort(a.Target); err != nil {
		o.Error = fmt.Sprintf("target %q is not host:port", a.Target)
		return o
	}
	switch a.Kind {
	case TCP:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", a.Target)
		if err != nil {
			o.Error = describe(err)
			return o
		}
		o.Connected = true
		_ = conn.Close()
	case HTTP:
		method, path := a.Method, a.Path
		if method == "" {
			method = http.MethodGet
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(ctx, method, "http://"+a.Target+path, nil)
		if err != nil {
			o.Error = err.Error()
			return o
		}
		client := &http.Client{
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
			// Following a redirect would be another attempt, somewhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		resp, err := client.Do(req)
		if err != nil {
			o.Error = describe(err)
			return o
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		o.Connected, o.Status = true, resp.StatusCode
		for name, values := range resp.Header {
			if strings.HasPrefix(strings.ToLower(name), "x-hopguard-") {
				if o.Header == nil {
					o.Header = map[string]string{}
				}
				o.Header[strings.ToLower(name)] = strings.Join(values, ",")
			}
		}
	default:
		o.Error = fmt.Sprintf("unknown kind %q (want %s, %s or %s)", a.Kind, TCP, HTTP, SPIFFE)
	}
	return o
}

// describe shortens a dial or request error to its cause ("connection refused").
func describe(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

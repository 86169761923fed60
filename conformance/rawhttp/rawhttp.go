// Package rawhttp sends an HTTP/1.1 request exactly as written: the bytes of the request line,
// the headers and the body go onto a TCP connection untouched, so that a gateway sees dot
// segments, percent-escapes, repeated headers, chunked framing and lying lengths that Go's
// http.Client would have normalised or refused to send. The response is read with
// http.ReadResponse.
package rawhttp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Field is one header line, sent in order and spelled as given.
type Field struct {
	Name, Value string
}

// Request is an HTTP/1.1 request to put on the wire as is.
type Request struct {
	Method string
	// Target is the request-target exactly as sent: "/mcp/tickets/../payroll", "*",
	// "http://host/path".
	Target string
	// Header lines, in order, after Host (unless the request sets its own Host) and before
	// Content-Length and Connection.
	Header []Field
	Body   []byte
	// Chunks, when set, are sent with Transfer-Encoding: chunked instead of Body.
	Chunks [][]byte
	// OwnLength says the request sets Content-Length (or Transfer-Encoding) itself in Header,
	// possibly lying; otherwise the true Content-Length is added for a non-empty Body.
	OwnLength bool
	// Proto is the version in the request line; empty means HTTP/1.1.
	Proto string
	// KeepAlive leaves the connection open for a request that follows on it; otherwise the
	// request asks the server to close it (unless it sets its own Connection header).
	KeepAlive bool
}

// Get returns the first value of the header name, ignoring case.
func (r Request) Get(name string) string {
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// With returns a copy of r with more header lines.
func (r Request) With(fields ...Field) Request {
	r.Header = append(append([]Field(nil), r.Header...), fields...)
	return r
}

// Bytes is the request as it goes on the wire to host.
func (r Request) Bytes(host string) []byte {
	proto := r.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", r.Method, r.Target, proto)
	if r.Get("Host") == "" {
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	for _, f := range r.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", f.Name, f.Value)
	}
	switch {
	case r.Chunks != nil:
		if !r.OwnLength {
			b.WriteString("Transfer-Encoding: chunked\r\n")
		}
	case !r.OwnLength && len(r.Body) > 0:
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
	}
	if !r.KeepAlive && r.Get("Connection") == "" {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	if r.Chunks != nil {
		for _, c := range r.Chunks {
			fmt.Fprintf(&b, "%x\r\n", len(c))
			b.Write(c)
			b.WriteString("\r\n")
		}
		b.WriteString("0\r\n\r\n")
		return b.Bytes()
	}
	b.Write(r.Body)
	return b.Bytes()
}

// Response is what came back.
type Response struct {
	Status int
	Header http.Header
	// Body is the first MaxBody bytes of the response body.
	Body []byte
}

// MaxBody bounds how much of a response body is kept.
const MaxBody = 64 << 10

// ErrNoResponse means the server closed the connection without answering (a gateway may reset
// a request it cannot parse).
var ErrNoResponse = errors.New("the connection closed without a response")

// Send writes r to addr (host:port) and reads its response. The whole exchange is bounded by
// ctx and by timeout.
func Send(ctx context.Context, addr string, r Request, timeout time.Duration) (*Response, error) {
	r.KeepAlive = false
	resps, err := SendAll(ctx, addr, []Request{r}, timeout)
	if err != nil {
		return nil, err
	}
	return resps[0], nil
}

// SendAll writes every request back to back on one connection (HTTP/1.1 pipelining: all but
// the last keep the connection open) and reads one response to each, in order. Interim 1xx
// responses other than 101 are skipped. When the connection closes early, the responses read so
// far come back with an error wrapping ErrNoResponse.
func SendAll(ctx context.Context, addr string, reqs []Request, timeout time.Duration) ([]*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	var wire []byte
	for i, r := range reqs {
		r.KeepAlive = i < len(reqs)-1
		wire = append(wire, r.Bytes(addr)...)
	}
	// Write while reading: a gateway may answer (413, 400) before it has read a large body,
	// and a writer that waits for the whole body to drain would never see the answer.
	writeErr := make(chan error, 1)
	go func() {
		_, err := conn.Write(wire)
		writeErr <- err
	}()
	br := bufio.NewReader(conn)
	var out []*Response
	for _, r := range reqs {
		resp, err := readResponse(br, r)
		if err != nil {
			closed := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)
			if !closed {
				select {
				case werr := <-writeErr:
					closed = werr != nil && isReset(werr)
				default:
				}
			}
			if closed {
				return out, fmt.Errorf("%s %s: %w", r.Method, clip(r.Target), ErrNoResponse)
			}
			return out, fmt.Errorf("read the response to %s %s: %w", r.Method, clip(r.Target), err)
		}
		out = append(out, resp)
	}
	return out, nil
}

func readResponse(br *bufio.Reader, r Request) (*Response, error) {
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: r.Method})
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // 100 Continue and friends: the answer follows
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
		if err == nil {
			// Drain the rest, so the next pipelined response starts where it should.
			_, err = io.Copy(io.Discard, resp.Body)
		}
		_ = resp.Body.Close()
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
			return nil, fmt.Errorf("read response body: %w", err)
		}
		return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
	}
}

// isReset reports a connection the server reset, which it may do once it has refused a
// request whose body it will not read.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

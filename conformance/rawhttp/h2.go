package rawhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// ErrNotHTTP2 means a request cannot be put into HTTP/2 as written: it depends on HTTP/1.1
// framing (a lying Content-Length, chunk sizes, another protocol version) or carries a header
// HTTP/2 forbids (Connection, Upgrade, Transfer-Encoding).
var ErrNotHTTP2 = errors.New("the request cannot be sent as written over HTTP/2")

// hopByHop are the header fields HTTP/2 forbids (RFC 9113 section 8.2.2).
var hopByHop = []string{"connection", "upgrade", "keep-alive", "proxy-connection", "transfer-encoding", "host", "content-length"}

// SendHTTP2 sends r over cleartext HTTP/2 with prior knowledge (h2c, as an agent's HTTP/2
// client would), with the same method, target, headers and body. Go's HTTP/2 encoder still
// checks what it sends: a request it refuses to encode fails with ErrNotHTTP2.
func SendHTTP2(ctx context.Context, addr string, r Request, timeout time.Duration) (*Response, error) {
	if r.Proto != "" || r.OwnLength {
		return nil, fmt.Errorf("%w: it relies on HTTP/1.1 framing", ErrNotHTTP2)
	}
	for _, f := range r.Header {
		for _, h := range hopByHop {
			if strings.EqualFold(f.Name, h) {
				return nil, fmt.Errorf("%w: HTTP/2 has no %s header", ErrNotHTTP2, f.Name)
			}
		}
		// Go's encoder refuses what these refuse; checked here so that a failure of the
		// exchange below is the gateway's doing, not the client's.
		if !httpguts.ValidHeaderFieldName(f.Name) || !httpguts.ValidHeaderFieldValue(f.Value) {
			return nil, fmt.Errorf("%w: header %q is not valid in HTTP/2", ErrNotHTTP2, f.Name)
		}
	}
	body := r.Body
	if r.Chunks != nil {
		body = bytes.Join(r.Chunks, nil) // HTTP/2 frames the body itself: the chunks become DATA frames
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, "http://"+addr+"/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotHTTP2, err)
	}
	// Go's client cannot send a :path starting "//" as is: it reads it as a scheme-relative URL.
	if !strings.HasPrefix(r.Target, "/") || strings.HasPrefix(r.Target, "//") {
		return nil, fmt.Errorf("%w: Go's HTTP/2 client cannot send the target %q as written", ErrNotHTTP2, clip(r.Target))
	}
	req.URL.Opaque = r.Target // sent as :path exactly, dot segments and escapes included
	for _, f := range r.Header {
		req.Header.Add(f.Name, f.Value)
	}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	transport := &http.Transport{Protocols: &protocols, DisableCompression: true}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		// A stream the gateway resets (RST_STREAM, GOAWAY) is a refusal without a response.
		return nil, fmt.Errorf("%s %s over HTTP/2: %w (%w)", r.Method, clip(r.Target), ErrNoResponse, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil && ctx.Err() != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: got}, nil
}

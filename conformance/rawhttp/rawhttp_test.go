package rawhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/rawhttp"
)

func TestBytesKeepsTheRequestAsWritten(t *testing.T) {
	tests := []struct {
		name string
		req  rawhttp.Request
		want string
	}{
		{
			name: "target, header order and the true length",
			req: rawhttp.Request{Method: "POST", Target: "/mcp/tickets/%2e%2e/payroll?x=1",
				Header: []rawhttp.Field{{"X-B", "2"}, {"x-a", "1"}, {"X-B", "3"}}, Body: []byte(`{}`)},
			want: "POST /mcp/tickets/%2e%2e/payroll?x=1 HTTP/1.1\r\nHost: h:1\r\nX-B: 2\r\nx-a: 1\r\nX-B: 3\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
		},
		{
			name: "chunked",
			req:  rawhttp.Request{Method: "POST", Target: "/", Chunks: [][]byte{[]byte("ab"), []byte("0123456789abcdefg")}},
			want: "POST / HTTP/1.1\r\nHost: h:1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n",
		},
		{
			name: "a lying length and its own host",
			req: rawhttp.Request{Method: "GET", Target: "/", OwnLength: true, Body: []byte("abcdef"),
				Header: []rawhttp.Field{{"Host", "elsewhere"}, {"Content-Length", "2"}}},
			want: "GET / HTTP/1.1\r\nHost: elsewhere\r\nContent-Length: 2\r\nConnection: close\r\n\r\nabcdef",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(tt.req.Bytes("h:1")))
		})
	}
}

func TestSendDeliversTheTargetUntouched(t *testing.T) {
	var seenURI, seenBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenURI = r.RequestURI
		b, _ := io.ReadAll(r.Body)
		seenBody = string(b)
		w.Header().Set("X-Hopguard-Decision", "deny")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "no")
	}))
	defer srv.Close()

	resp, err := rawhttp.Send(context.Background(), strings.TrimPrefix(srv.URL, "http://"), rawhttp.Request{
		Method: "POST", Target: "/mcp//payroll/./x", Chunks: [][]byte{[]byte(`{"a":`), []byte(`1}`)},
	}, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, resp.Status)
	assert.Equal(t, "deny", resp.Header.Get("x-hopguard-decision"))
	assert.Equal(t, "no", string(resp.Body))
	assert.Equal(t, "/mcp//payroll/./x", seenURI)
	assert.Equal(t, `{"a":1}`, seenBody)
}

func TestSendReportsAConnectionClosedWithoutAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	defer srv.Close()

	_, err := rawhttp.Send(context.Background(), strings.TrimPrefix(srv.URL, "http://"), rawhttp.Request{Method: "GET", Target: "/"}, 5*time.Second)
	require.ErrorIs(t, err, rawhttp.ErrNoResponse)
}

func TestSendAllPipelinesOnOneConnection(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.RemoteAddr+" "+r.URL.Path)
		_, _ = io.WriteString(w, strings.Repeat("x", 100<<10)) // longer than MaxBody: drained, not kept
	}))
	defer srv.Close()

	resps, err := rawhttp.SendAll(context.Background(), strings.TrimPrefix(srv.URL, "http://"), []rawhttp.Request{
		{Method: "GET", Target: "/first"}, {Method: "GET", Target: "/second"},
	}, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, resps, 2)
	assert.Len(t, resps[1].Body, rawhttp.MaxBody)
	require.Len(t, seen, 2)
	first, _, _ := strings.Cut(seen[0], " ")
	second, _, _ := strings.Cut(seen[1], " ")
	assert.Equal(t, first, second, "both requests came on one connection")
	assert.True(t, strings.HasSuffix(seen[1], "/second"))
}

func TestSendSkipsInterimResponses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // with Expect: 100-continue, reading sends the 100
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	resp, err := rawhttp.Send(context.Background(), strings.TrimPrefix(srv.URL, "http://"), rawhttp.Request{
		Method: "POST", Target: "/", Body: []byte("{}"), Header: []rawhttp.Field{{Name: "Expect", Value: "100-continue"}},
	}, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusTeapot, resp.Status)
}

func TestSendHTTP2KeepsThePathAndRefusesHTTP1Framing(t *testing.T) {
	var proto, uri string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto, uri = r.Proto, r.RequestURI
		w.WriteHeader(http.StatusForbidden)
	}))
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &protocols
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	resp, err := rawhttp.SendHTTP2(context.Background(), addr, rawhttp.Request{
		Method: "POST", Target: "/mcp/tickets/../payroll", Chunks: [][]byte{[]byte("{"), []byte("}")},
	}, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, resp.Status)
	assert.Equal(t, "HTTP/2.0", proto)
	assert.Equal(t, "/mcp/tickets/../payroll", uri)

	for name, r := range map[string]rawhttp.Request{
		"a lying length":    {Method: "POST", Target: "/", OwnLength: true},
		"HTTP/1.0":          {Method: "GET", Target: "/", Proto: "HTTP/1.0"},
		"an upgrade":        {Method: "GET", Target: "/", Header: []rawhttp.Field{{Name: "Upgrade", Value: "websocket"}}},
		"absolute form":     {Method: "GET", Target: "http://x/"},
		"a NUL in a header": {Method: "GET", Target: "/", Header: []rawhttp.Field{{Name: "X", Value: "a\x00b"}}},
	} {
		_, err := rawhttp.SendHTTP2(context.Background(), addr, r, 5*time.Second)
		assert.ErrorIs(t, err, rawhttp.ErrNotHTTP2, name)
	}
}

// Package mcpconformance is the fixture MCP server that the official MCP conformance framework
// (@modelcontextprotocol/conformance, `conformance server --url …`) is run against: every tool,
// resource, prompt and utility its server scenarios call for, with the names and contents they
// check, on mark3labs/mcp-go's streamable HTTP server at /mcp.
//
// It serves the stateful (initialize / Mcp-Session-Id) protocol of 2025-11-25 and earlier, which
// is what the framework speaks, and a standalone GET stream, on which mcp-go sends the
// server-to-client sampling/createMessage requests (elicitation/create goes on the POST stream of
// the tool call). SSE events carry ids and a GET with Last-Event-ID resumes a stream (mcp-go's
// event store); the test_reconnection tool adds what SEP-1699 polling needs on top (see
// reconnect.go). Requests whose Host or Origin header is not a loopback name (nor one listed in
// Config.AllowedHosts) are refused with 403, as the framework's dns-rebinding-protection scenario
// requires of a localhost server.
//
// Every scenario of the framework's server suite, active and pending (0.1.16: 32), passes
// against it.
package mcpconformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/hopguard/hopguard/mockservers/journal"
)

// EndpointPath is where the fixture speaks MCP.
const EndpointPath = "/mcp"

// Name and Version are the server info the fixture announces.
const (
	Name    = "hopguard-mcp-conformance"
	Version = "0.1.0"
)

// DefaultSessionIdleTTL is how long an unused session is kept when Config.SessionIdleTTL is zero.
const DefaultSessionIdleTTL = 10 * time.Minute

// Config configures the fixture.
type Config struct {
	// AllowedHosts are Host header values accepted besides the loopback names (localhost,
	// 127.0.0.0/8, ::1): a host ("mcp.internal") matches any port, a host:port only that port.
	// A gateway that forwards a virtual host name needs it listed here; the DNS rebinding check
	// still refuses every other name.
	AllowedHosts []string
	// SessionIdleTTL ends sessions unused for this long; zero means DefaultSessionIdleTTL.
	SessionIdleTTL time.Duration
	// Logger receives the transport's log; nil means slog.Default().
	Logger *slog.Logger
}

// Server is the fixture as an http.Handler: MCP at /mcp, plus the journal endpoints
// (GET /_journal, POST /_reset) that every mock in this repository has.
type Server struct {
	streamable *server.StreamableHTTPServer
	sessionIDs *server.InsecureStatefulSessionIdManager
	events     *eventStore
	journal    *journal.Journal
	handler    http.Handler

	mu      sync.Mutex
	closed  bool
	nextGet int
	gets    map[int]context.CancelFunc // the open GET streams
}

// New builds the fixture.
func New(cfg Config) (*Server, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	allowed, err := parseAllowedHosts(cfg.AllowedHosts)
	if err != nil {
		return nil, err
	}
	ttl := cfg.SessionIdleTTL
	if ttl == 0 {
		ttl = DefaultSessionIdleTTL
	}
	if ttl < 0 {
		return nil, fmt.Errorf("session idle TTL %v: must not be negative", ttl)
	}

	s := &Server{sessionIDs: &server.InsecureStatefulSessionIdManager{}, events: newEventStore(),
		gets: make(map[int]context.CancelFunc)}
	mcpServer := newMCPServer(logger)
	s.streamable = server.NewStreamableHTTPServer(mcpServer,
		server.WithEndpointPath(EndpointPath),
		// Real sessions (what WithStateful(true) sets up, kept at hand for reconnectAware): the
		// SSE scenarios need an Mcp-Session-Id, and sampling needs the session's GET stream.
		server.WithSessionIdManager(s.sessionIDs),
		server.WithSessionIdleTTL(ttl),
		// Every SSE event carries an id, and a GET with Last-Event-ID resumes a stream.
		server.WithEventStore(s.events),
		// mcp-go's own DNS rebinding check admits loopback Host names only; hostGuard below does
		// the same check on Host and Origin, and also admits cfg.AllowedHosts.
		server.WithDisableLocalhostProtection(true),
		server.WithStreamableHTTPLogger(logger),
	)

	s.journal = journal.New(journal.Config{Describe: journal.DescribeMCP})
	mux := http.NewServeMux()
	mux.Handle(EndpointPath, hostGuard(allowed, s.reconnectAware(s.trackGets(s.streamable))))
	s.handler = s.journal.Wrap(mux)
	return s, nil
}

// ServeHTTP serves MCP and the journal.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Journal is what reached the fixture.
func (s *Server) Journal() *journal.Journal { return s.journal }

// Close ends the open GET streams, and any opened later at once, so that an http.Server's
// Shutdown is not held up by them. It is safe to call more than once.
//
// It does not call mcp-go's CloseSessions: with an event store, mcp-go's per-session cleanup
// scans every stream of every session, which took minutes after a few hundred framework runs.
func (s *Server) Close(context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for id, cancel := range s.gets {
		cancel()
		delete(s.gets, id)
	}
}

// trackGets gives every GET (a listening or resumed SSE stream) a context that Close cancels.
func (s *Server) trackGets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		s.mu.Lock()
		id := s.nextGet
		s.nextGet++
		if s.closed {
			cancel()
		} else {
			s.gets[id] = cancel
		}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.gets, id)
			s.mu.Unlock()
		}()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// allowedHost is one entry of Config.AllowedHosts.
type allowedHost struct {
	host string // lower case, without brackets
	port string // empty: any port
}

func parseAllowedHosts(hosts []string) ([]allowedHost, error) {
	out := make([]allowedHost, 0, len(hosts))
	for _, h := range hosts {
		host, port := splitHost(h)
		if host == "" || (strings.ContainsAny(host, "/ @:") && net.ParseIP(host) == nil) || !validPort(port) {
			return nil, fmt.Errorf("allowed host %q: want a host name or host:port", h)
		}
		out = append(out, allowedHost{host: host, port: port})
	}
	return out, nil
}

// validPort reports whether port is empty or a TCP port number.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 1<<16
}

// splitHost splits a Host header value into its lower-case host (brackets removed) and port.
func splitHost(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h), p
	}
	return strings.ToLower(strings.Trim(hostport, "[]")), ""
}

func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostAllowed reports whether a Host header value (or an Origin's host) names this server.
func hostAllowed(hostport string, allowed []allowedHost) bool {
	host, port := splitHost(hostport)
	if isLoopbackName(host) {
		return true
	}
	for _, a := range allowed {
		if a.host == host && (a.port == "" || a.port == port) {
			return true
		}
	}
	return false
}

// hostGuard refuses, with 403 and a JSON-RPC error body, a request whose Host header, or whose
// Origin header when it has one, names neither a loopback host nor an allowed one: the DNS
// rebinding protection the MCP transport spec asks of local servers. "Origin: null" is refused
// too.
func hostGuard(allowed []allowedHost, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, allowed) {
			forbid(w, fmt.Sprintf("invalid Host header %q", r.Host))
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			u, err := url.Parse(origin)
			if err != nil || u.Host == "" || !hostAllowed(u.Host, allowed) {
				forbid(w, fmt.Sprintf("invalid Origin header %q", origin))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func forbid(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0",
		"id":      nil,
		"error":   map[string]any{"code": -32000, "message": "Forbidden: " + message},
	})
}

// errNoSession is what a tool that needs the client returns when it has no session to reach it.
var errNoSession = errors.New("no MCP session in the request context")

package mcpconformance

// SSE polling (SEP-1699): the test_reconnection tool and what it needs around mcp-go.
//
// The framework's server-sse-polling scenario (pending in 0.1.16) posts tools/call
// test_reconnection, expects the POST's SSE stream to start with a priming event (an id and
// empty data, with a retry field), to be closed by the server before the result, and the result
// to arrive on a GET carrying Last-Event-ID. mcp-go v1.2.1 records SSE events and replays them on
// such a GET (WithEventStore), but it never sends a priming event or a retry field, and a handler
// cannot close its POST stream early (the TypeScript SDK's closeSSEStream). So for this one tool
// the fixture:
//   - answers the POST itself with SSE headers and a priming event whose id it mints (primer),
//     then hands the request to mcp-go with a writer it can detach;
//   - lets the tool end the HTTP response (reconnectCloser) and finish on a context without
//     cancellation, so mcp-go records the result in the event store instead of writing it;
//   - wraps mcp-go's in-memory event store (eventStore) so that the minted id stands for the
//     start of the stream mcp-go records the result on: a GET with Last-Event-ID = that id is
//     replayed the result by mcp-go's own resume path, waiting for it if the tool is not done.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// ReconnectRetry is the retry field of test_reconnection's priming event: how long a client
// should wait before it reconnects.
const ReconnectRetry = 500 * time.Millisecond

// reconnectDelay is how long test_reconnection works after it closed its stream.
const reconnectDelay = 100 * time.Millisecond

// primerWait bounds how long a GET resuming from a priming event waits for the tool's result.
const primerWait = 30 * time.Second

// ReconnectResultText is test_reconnection's result.
const ReconnectResultText = "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure."

const primerPrefix = "prime-"

// primer is the priming event of one test_reconnection call: its id, and once mcp-go has
// recorded the first event of the call's stream, that stream and event.
type primer struct {
	id    string
	bound chan struct{} // closed once stream, firstID and first are set

	stream  string
	firstID string
	first   json.RawMessage
}

type primerKey struct{}

// eventStore is mcp-go's InMemoryEventStore plus priming ids: an id minted by newPrimer replays
// the whole stream that the first event recorded under the primer's request context starts.
type eventStore struct {
	inner *server.InMemoryEventStore
	seq   atomic.Int64

	mu      sync.Mutex
	primers map[string]map[string]*primer // session -> id -> primer
}

func newEventStore() *eventStore {
	return &eventStore{inner: server.NewInMemoryEventStore(), primers: make(map[string]map[string]*primer)}
}

func (s *eventStore) newPrimer(sessionID string) *primer {
	p := &primer{id: primerPrefix + strconv.FormatInt(s.seq.Add(1), 10), bound: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.primers[sessionID] == nil {
		s.primers[sessionID] = make(map[string]*primer)
	}
	s.primers[sessionID][p.id] = p
	return p
}

func (s *eventStore) lookup(sessionID, id string) *primer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.primers[sessionID][id]
}

// StoreEvent records the event; the first one recorded for a primer's request binds the primer
// to its stream. mcp-go records a POST's events with a context derived from the request's.
func (s *eventStore) StoreEvent(ctx context.Context, sessionID, streamID string, message json.RawMessage) (string, error) {
	id, err := s.inner.StoreEvent(ctx, sessionID, streamID, message)
	if err != nil {
		return "", err
	}
	if p, ok := ctx.Value(primerKey{}).(*primer); ok {
		s.mu.Lock()
		select {
		case <-p.bound:
		default:
			p.stream, p.firstID, p.first = streamID, id, append(json.RawMessage(nil), message...)
			close(p.bound)
		}
		s.mu.Unlock()
	}
	return id, nil
}

// ReplayEventsAfter replays as mcp-go's store does; after a priming id it replays the primer's
// whole stream, first waiting (up to primerWait) for the stream to have an event.
func (s *eventStore) ReplayEventsAfter(ctx context.Context, sessionID, lastEventID string, send func(string, json.RawMessage) error) (string, error) {
	if !strings.HasPrefix(lastEventID, primerPrefix) {
		return s.inner.ReplayEventsAfter(ctx, sessionID, lastEventID, send)
	}
	p := s.lookup(sessionID, lastEventID)
	if p == nil {
		return "", fmt.Errorf("%w: %s", server.ErrUnknownEventID, lastEventID)
	}
	wait := time.NewTimer(primerWait)
	defer wait.Stop()
	select {
	case <-p.bound:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-wait.C:
		return "", fmt.Errorf("the call of priming event %s recorded nothing in %v", lastEventID, primerWait)
	}
	if err := send(p.firstID, p.first); err != nil {
		return "", err
	}
	if _, err := s.inner.ReplayEventsAfter(ctx, sessionID, p.firstID, send); err != nil {
		return "", err
	}
	return p.stream, nil
}

// PurgeSession forgets the session's events and primers.
func (s *eventStore) PurgeSession(ctx context.Context, sessionID string) error {
	s.mu.Lock()
	delete(s.primers, sessionID)
	s.mu.Unlock()
	return s.inner.PurgeSession(ctx, sessionID)
}

// reconnectCloserKey carries, in a test_reconnection call's context, the function that ends the
// call's HTTP response.
type reconnectCloserKey struct{}

// isReconnectCall reports whether body is a tools/call of test_reconnection.
func isReconnectCall(body []byte) bool {
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	return json.Unmarshal(body, &msg) == nil && msg.Method == string(mcp.MethodToolsCall) && msg.Params.Name == "test_reconnection"
}

// reconnectAware serves test_reconnection calls as described at the top of this file and passes
// every other request to next (mcp-go).
func (s *Server) reconnectAware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionID := r.Header.Get(server.HeaderKeySessionID)
		flusher, canFlush := w.(http.Flusher)
		if r.Method != http.MethodPost || sessionID == "" || !canFlush ||
			!strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			next.ServeHTTP(w, r)
			return
		}
		if terminated, err := s.sessionIDs.Validate(sessionID); err != nil || terminated {
			next.ServeHTTP(w, r) // mcp-go answers 404
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !isReconnectCall(body) {
			next.ServeHTTP(w, r)
			return
		}

		p := s.events.newPrimer(sessionID)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		if _, err := fmt.Fprintf(w, "id: %s\nretry: %d\ndata: \n\n", p.id, ReconnectRetry.Milliseconds()); err != nil {
			return
		}
		flusher.Flush()

		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		closed := make(chan struct{})
		closeStream := sync.OnceFunc(func() { close(closed) })
		ctx = context.WithValue(context.WithValue(ctx, primerKey{}, p), reconnectCloserKey{}, closeStream)
		dw := &detachableWriter{w: w, header: http.Header{}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			next.ServeHTTP(dw, r.WithContext(ctx))
		}()
		select {
		case <-done:
			// The call ended without closing the stream (it failed before the tool ran): send
			// its response, which mcp-go wrote as JSON, as an event of the stream.
			if b := bytes.TrimSpace(dw.json.Bytes()); len(b) > 0 {
				_, _ = fmt.Fprintf(w, "event: message\ndata: %s\n\n", b)
			}
		case <-closed:
			dw.detach() // mcp-go finishes on its own and records the result for the resuming GET
		}
	})
}

// detachableWriter is the POST response as mcp-go sees it in a test_reconnection call: the
// headers are already out (its header changes are dropped), a JSON response is kept aside to be
// sent as an event, and once detached it writes nothing.
type detachableWriter struct {
	mu       sync.Mutex
	w        http.ResponseWriter
	header   http.Header
	json     bytes.Buffer
	detached bool
}

var errStreamClosed = errors.New("the SSE stream was closed by the server (test_reconnection)")

func (d *detachableWriter) Header() http.Header { return d.header }

func (d *detachableWriter) WriteHeader(int) {}

func (d *detachableWriter) Write(b []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.detached {
		return 0, errStreamClosed
	}
	if strings.HasPrefix(d.header.Get("Content-Type"), "application/json") {
		return d.json.Write(b)
	}
	return d.w.Write(b)
}

func (d *detachableWriter) Flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.detached {
		d.w.(http.Flusher).Flush()
	}
}

func (d *detachableWriter) detach() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.detached = true
}

// reconnectTool closes its SSE stream, works reconnectDelay and returns; a client that resumed
// with the priming event's id receives the result on its GET. Called other than as a streamed
// POST (a JSON-only client), it just works and returns.
func reconnectTool() server.ServerTool {
	return server.ServerTool{
		Tool: noArgs("test_reconnection", "Closes its SSE stream mid-call after a priming event (id, retry), "+
			"so the client reconnects with Last-Event-ID and receives the result there (SEP-1699)"),
		Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if closeStream, ok := ctx.Value(reconnectCloserKey{}).(func()); ok {
				// Without this mcp-go would drop, not record, the response of a request
				// whose connection is gone and that sent nothing on its stream.
				if session, ok := server.ClientSessionFromContext(ctx).(server.SessionWithStreamableHTTPConfig); ok {
					session.UpgradeToSSEWhenReceiveNotification()
				}
				closeStream()
				ctx = context.WithoutCancel(ctx)
			}
			if !sleep(ctx, reconnectDelay) {
				return nil, ctx.Err()
			}
			return textResult(ReconnectResultText), nil
		},
	}
}

package mcpconformance

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	id, retry, data string
}

// readSSE reads events until the stream ends.
func readSSE(t *testing.T, resp *http.Response) []sseEvent {
	t.Helper()
	var events []sseEvent
	var cur sseEvent
	started := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if started {
				events = append(events, cur)
			}
			cur, started = sseEvent{}, false
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		started = true
		switch field {
		case "id":
			cur.id = value
		case "retry":
			cur.retry = value
		case "data":
			cur.data = value
		}
	}
	require.NoError(t, sc.Err())
	return events
}

// rawSession initializes a session without a GET stream, as the SSE scenarios' raw requests
// see it, and returns its ID.
func rawSession(t *testing.T, url string) string {
	t.Helper()
	resp := send(t, http.MethodPost, url, "", initializeBody, nil)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	session := resp.Header.Get(server.HeaderKeySessionID)
	require.NotEmpty(t, session)
	resp = send(t, http.MethodPost, url, session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	return session
}

// send sends one request to /mcp; the caller closes the body.
func send(t *testing.T, method, url, session, body string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url+EndpointPath, strings.NewReader(body))
	require.NoError(t, err)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	} else {
		req.Header.Set("Accept", "text/event-stream")
	}
	if session != "" {
		req.Header.Set(server.HeaderKeySessionID, session)
		req.Header.Set("Mcp-Protocol-Version", frameworkProtocol)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

const reconnectCall = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"test_reconnection","arguments":{}}}`

// The server-sse-polling scenario: priming event with id and retry, the stream closed before the
// result, the result on a GET with Last-Event-ID.
func TestReconnectionClosesTheStreamAndResumes(t *testing.T) {
	_, url := newFixture(t, Config{})
	session := rawSession(t, url)

	start := time.Now()
	resp := send(t, http.MethodPost, url, session, reconnectCall, nil)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	events := readSSE(t, resp)
	resp.Body.Close()
	assert.Less(t, time.Since(start), reconnectDelay, "the stream closes before the tool is done")
	require.Len(t, events, 1, "only the priming event: %v", events)
	priming := events[0]
	assert.True(t, strings.HasPrefix(priming.id, primerPrefix), priming.id)
	assert.Equal(t, "500", priming.retry)
	assert.Empty(t, priming.data)

	resp = send(t, http.MethodGet, url, session, "", map[string]string{"Last-Event-ID": priming.id})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events = readSSE(t, resp)
	resp.Body.Close()
	require.Len(t, events, 1, "%v", events)
	assert.NotEmpty(t, events[0].id)
	var msg struct {
		ID     int                `json:"id"`
		Result mcp.CallToolResult `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(events[0].data), &msg), events[0].data)
	assert.Equal(t, 1, msg.ID)
	assert.False(t, msg.Result.IsError)
	require.Len(t, msg.Result.Content, 1)

	// The result is replayed again from the priming id, and from its own id there is nothing left.
	resp = send(t, http.MethodGet, url, session, "", map[string]string{"Last-Event-ID": priming.id})
	assert.Len(t, readSSE(t, resp), 1)
	resp.Body.Close()
	resp = send(t, http.MethodGet, url, session, "", map[string]string{"Last-Event-ID": events[0].id})
	assert.Empty(t, readSSE(t, resp))
	resp.Body.Close()
}

func TestResumeRefusals(t *testing.T) {
	_, url := newFixture(t, Config{})
	session := rawSession(t, url)
	resp := send(t, http.MethodPost, url, session, reconnectCall, nil)
	priming := readSSE(t, resp)[0]
	resp.Body.Close()
	other := rawSession(t, url)

	tests := []struct {
		name, session, lastEventID string
	}{
		{"unknown priming id", session, primerPrefix + "999999"},
		{"another session's priming id", other, priming.id},
		{"unknown event id", session, "424242"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := send(t, http.MethodGet, url, tt.session, "", map[string]string{"Last-Event-ID": tt.lastEventID})
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		})
	}
}

// A client that takes JSON only gets the result in the response.
func TestReconnectionWithoutSSE(t *testing.T) {
	_, url := newFixture(t, Config{})
	session := rawSession(t, url)
	resp := send(t, http.MethodPost, url, session, reconnectCall, map[string]string{"Accept": "application/json"})
	defer resp.Body.Close()
	var msg struct {
		Result mcp.CallToolResult `json:"result"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&msg))
	require.Len(t, msg.Result.Content, 1)
	assert.Equal(t, mcp.NewTextContent(ReconnectResultText), msg.Result.Content[0])
}

// A test_reconnection call that fails before the tool runs is answered on the stream it opened.
func TestReconnectionCallErrorIsAnEvent(t *testing.T) {
	_, url := newFixture(t, Config{})
	session := rawSession(t, url)
	body := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"test_reconnection","arguments":{},"_meta":"bad"}}`
	resp := send(t, http.MethodPost, url, session, body, nil)
	events := readSSE(t, resp)
	resp.Body.Close()
	require.Len(t, events, 2, "%v", events)
	assert.Contains(t, events[1].data, `"id":3`)
	assert.Contains(t, events[1].data, `"error"`)
}

// The SSE events of an ordinary POST stream carry ids, and resuming from one replays the rest.
func TestPostStreamEventsCarryIDs(t *testing.T) {
	_, url := newFixture(t, Config{})
	session := rawSession(t, url)
	body := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"p"}}}`
	resp := send(t, http.MethodPost, url, session, body, nil)
	events := readSSE(t, resp)
	resp.Body.Close()
	require.Len(t, events, 4, "three progress notifications and the result: %v", events)
	for i, e := range events {
		assert.NotEmpty(t, e.id, "event %d", i)
	}
	assert.Contains(t, events[3].data, `"id":2`)

	resp = send(t, http.MethodGet, url, session, "", map[string]string{"Last-Event-ID": events[1].id})
	replayed := readSSE(t, resp)
	resp.Body.Close()
	assert.Equal(t, events[2:], replayed)
}

func TestEventStorePrimerWaitsForItsStream(t *testing.T) {
	s := newEventStore()
	p := s.newPrimer("s1")
	replayed := make(chan []string, 1)
	go func() {
		var ids []string
		stream, err := s.ReplayEventsAfter(context.Background(), "s1", p.id, func(id string, _ json.RawMessage) error {
			ids = append(ids, id)
			return nil
		})
		assert.NoError(t, err)
		assert.Equal(t, "stream-a", stream)
		replayed <- ids
	}()
	time.Sleep(20 * time.Millisecond)

	// Events of other requests do not bind the primer; the first one of its request does.
	_, err := s.StoreEvent(context.Background(), "s1", "stream-b", json.RawMessage(`{"n":0}`))
	require.NoError(t, err)
	ctx := context.WithValue(context.Background(), primerKey{}, p)
	first, err := s.StoreEvent(ctx, "s1", "stream-a", json.RawMessage(`{"n":1}`))
	require.NoError(t, err)
	second, err := s.StoreEvent(ctx, "s1", "stream-a", json.RawMessage(`{"n":2}`))
	require.NoError(t, err)

	select {
	case ids := <-replayed:
		assert.Equal(t, []string{first}, ids[:1])
	case <-time.After(5 * time.Second):
		t.Fatal("the replay did not end")
	}
	var ids []string
	_, err = s.ReplayEventsAfter(context.Background(), "s1", p.id, func(id string, _ json.RawMessage) error {
		ids = append(ids, id)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{first, second}, ids)

	ctxDone, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.ReplayEventsAfter(ctxDone, "s1", s.newPrimer("s1").id, func(string, json.RawMessage) error { return nil })
	assert.ErrorIs(t, err, context.Canceled)

	require.NoError(t, s.PurgeSession(context.Background(), "s1"))
	_, err = s.ReplayEventsAfter(context.Background(), "s1", p.id, func(string, json.RawMessage) error { return nil })
	assert.ErrorIs(t, err, server.ErrUnknownEventID)
}

package llm_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func postMessages(t *testing.T, url string, headers map[string]string, body any) *http.Response {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url+"/v1/messages", strings.NewReader(string(raw)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

type anthropicReply struct {
	Type       string `json:"type"`
	Role       string `json:"role"`
	StopReason string `json:"stop_reason"`
	Content    []struct {
		Type  string          `json:"type"`
		Text  string          `json:"text"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	} `json:"content"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

var anthropicTools = []map[string]any{
	{"name": "get_ticket", "input_schema": map[string]any{"type": "object"}},
	{"name": "get_customer", "input_schema": map[string]any{"type": "object"}},
}

func TestAnthropicMessagesToolUse(t *testing.T) {
	_, hs := startLLM(t)
	key := map[string]string{"x-api-key": providerKey}
	user := map[string]any{"role": "user", "content": "Work ticket T-1001"}

	resp := postMessages(t, hs.URL, key, map[string]any{
		"model": "gpt-4o", "max_tokens": 1024, "messages": []any{user}, "tools": anthropicTools,
	})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var first anthropicReply
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&first))
	assert.Equal(t, "message", first.Type)
	assert.Equal(t, "tool_use", first.StopReason)
	require.Len(t, first.Content, 1)
	use := first.Content[0]
	assert.Equal(t, "get_ticket", use.Name)
	assert.JSONEq(t, `{"ticket_id":"T-1001"}`, string(use.Input))

	resp = postMessages(t, hs.URL, key, map[string]any{
		"model": "gpt-4o", "max_tokens": 1024, "tools": anthropicTools,
		"messages": []any{
			user,
			map[string]any{"role": "assistant", "content": []any{map[string]any{
				"type": "tool_use", "id": use.ID, "name": use.Name, "input": use.Input,
			}}},
			map[string]any{"role": "user", "content": []any{map[string]any{
				"type": "tool_result", "tool_use_id": use.ID,
				"content": []any{map[string]any{"type": "text", "text": `{"id":"T-1001","customer_id":"C-100"}`}},
			}}},
		},
	})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var second anthropicReply
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&second))
	require.Len(t, second.Content, 1)
	assert.Equal(t, "get_customer", second.Content[0].Name)
	assert.JSONEq(t, `{"customer_id":"C-100"}`, string(second.Content[0].Input))
}

func TestAnthropicRefusals(t *testing.T) {
	_, hs := startLLM(t)
	body := map[string]any{"model": "gpt-4o", "max_tokens": 10, "messages": []any{map[string]any{"role": "user", "content": "hi"}}}
	tests := []struct {
		name     string
		headers  map[string]string
		model    string
		status   int
		wantType string
	}{
		{"wrong key", map[string]string{"x-api-key": "sk-wrong"}, "gpt-4o", http.StatusUnauthorized, "authentication_error"},
		{"no key", nil, "gpt-4o", http.StatusUnauthorized, "authentication_error"},
		{"unknown model", map[string]string{"x-api-key": providerKey}, "claude-opus", http.StatusNotFound, "not_found_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body["model"] = tt.model
			resp := postMessages(t, hs.URL, tt.headers, body)
			assert.Equal(t, tt.status, resp.StatusCode)
			var reply anthropicReply
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&reply))
			assert.Equal(t, "error", reply.Type)
			assert.Equal(t, tt.wantType, reply.Error.Type)
		})
	}
}

func TestAnthropicStreaming(t *testing.T) {
	_, hs := startLLM(t)
	resp := postMessages(t, hs.URL, map[string]string{"Authorization": "Bearer " + providerKey}, map[string]any{
		"model": "gpt-4o", "max_tokens": 1024, "stream": true, "tools": anthropicTools,
		"messages": []any{map[string]any{"role": "user", "content": "Work ticket T-2001"}},
	})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	var events []string
	var partial strings.Builder
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		line := scanner.Text()
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			events = append(events, name)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var ev struct {
				Delta struct {
					PartialJSON string `json:"partial_json"`
				} `json:"delta"`
			}
			require.NoError(t, json.Unmarshal([]byte(data), &ev))
			partial.WriteString(ev.Delta.PartialJSON)
		}
	}
	require.NoError(t, scanner.Err())
	assert.Equal(t, []string{
		"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
	}, events)
	assert.JSONEq(t, `{"ticket_id":"T-2001"}`, partial.String())
}

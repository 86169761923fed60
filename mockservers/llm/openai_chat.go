package llm

import (
	"encoding/json"
	"net/http"
	"strings"
)

type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Tools         []chatTool    `json:"tools"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (r *chatRequest) requestedModel() string { return r.Model }

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []chatToolCall  `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// conversation reduces a chat request to what the brain reads.
func (r *chatRequest) conversation() Conversation {
	conv := Conversation{Model: r.Model}
	for _, t := range r.Tools {
		if t.Function.Name != "" {
			conv.Tools = append(conv.Tools, t.Function.Name)
		}
	}
	for _, m := range r.Messages {
		msg := Message{Role: chatRole(m.Role), Text: contentText(m.Content), ToolCallID: m.ToolCallID}
		for _, c := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
		}
		conv.Messages = append(conv.Messages, msg)
	}
	return conv
}

func chatRole(role string) Role {
	switch role {
	case "system", "developer":
		return RoleSystem
	case "assistant":
		return RoleAssistant
	case "tool", "function":
		return RoleTool
	}
	return RoleUser
}

// contentText flattens message content: a string, or an array of parts
// whose "text" fields are joined. Anything else reads as empty.
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text    string          `json:"text"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var texts []string
	for _, p := range parts {
		if p.Text != "" {
			texts = append(texts, p.Text)
		} else if len(p.Content) > 0 {
			texts = append(texts, contentText(p.Content))
		}
	}
	return strings.Join(texts, "\n")
}

func (s *Server) handleChatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if !s.admit(w, r, &req, refuseOpenAI) {
		return
	}
	if len(req.Messages) == 0 {
		refuseOpenAI(w, http.StatusBadRequest, refusedBody, "'messages' must contain at least one message.")
		return
	}
	reply := s.brain.Respond(req.conversation())
	usage := s.usage(r, reply)
	id := s.nextID("chatcmpl-hopguard-")
	if req.Stream {
		includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
		if err := s.streamChat(w, id, req.Model, reply, usage, includeUsage); err != nil {
			s.logger.Warn("chat completion stream ended early", "id", id, "err", err)
		}
		return
	}
	message := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	finish := "stop"
	if len(reply.ToolCalls) > 0 {
		message["tool_calls"] = chatToolCalls(reply.ToolCalls, true)
		finish = "tool_calls"
	} else {
		message["content"] = reply.Text
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":                 id,
		"object":             "chat.completion",
		"created":            s.now().Unix(),
		"model":              req.Model,
		"system_fingerprint": "fp_hopguard_mock",
		"choices": []any{map[string]any{
			"index": 0, "message": message, "logprobs": nil, "finish_reason": finish,
		}},
		"usage": usage.openAIChat(),
	})
}

func chatToolCalls(calls []ToolCall, withArguments bool) []any {
	out := make([]any, 0, len(calls))
	for i, c := range calls {
		fn := map[string]any{"name": c.Name, "arguments": ""}
		if withArguments {
			fn["arguments"] = c.Arguments
		}
		out = append(out, map[string]any{"index": i, "id": c.ID, "type": "function", "function": fn})
	}
	return out
}

// streamChat sends the reply as chat.completion.chunk events: the role, the
// text or each tool call (name first, then its arguments in pieces), the
// finish reason, the usage when asked for, and [DONE].
func (s *Server) streamChat(w http.ResponseWriter, id, model string, reply Reply, usage tokenUsage, includeUsage bool) error {
	created := s.now().Unix()
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"system_fingerprint": "fp_hopguard_mock",
			"choices": []any{map[string]any{
				"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish,
			}},
		}
	}
	var events []map[string]any
	events = append(events, chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	finish := "stop"
	if len(reply.ToolCalls) > 0 {
		finish = "tool_calls"
		for i, call := range reply.ToolCalls {
			events = append(events, chunk(map[string]any{"tool_calls": []any{chatToolCalls(reply.ToolCalls, false)[i]}}, nil))
			for _, piece := range chunks(call.Arguments, 16) {
				events = append(events, chunk(map[string]any{"tool_calls": []any{map[string]any{
					"index": i, "function": map[string]any{"arguments": piece},
				}}}, nil))
			}
		}
	} else {
		for _, piece := range chunks(reply.Text, 24) {
			events = append(events, chunk(map[string]any{"content": piece}, nil))
		}
	}
	events = append(events, chunk(map[string]any{}, finish))
	if includeUsage {
		last := chunk(nil, nil)
		last["choices"] = []any{}
		last["usage"] = usage.openAIChat()
		events = append(events, last)
	}

	sse := startSSE(w)
	for _, e := range events {
		if err := sse.event("", e); err != nil {
			return err
		}
	}
	return sse.raw("", []byte("[DONE]"))
}

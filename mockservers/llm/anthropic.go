package llm

import (
	"encoding/json"
	"net/http"
)

type messagesRequest struct {
	Model     string             `json:"model"`
	MaxTokens int                `json:"max_tokens"`
	System    json.RawMessage    `json:"system"`
	Messages  []anthropicMessage `json:"messages"`
	Tools     []struct {
		Name string `json:"name"`
	} `json:"tools"`
	Stream bool `json:"stream"`
}

func (r *messagesRequest) requestedModel() string { return r.Model }

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type anthropicBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
}

// conversation maps Anthropic's blocks onto the neutral turns: tool_use
// blocks become tool calls, each tool_result block a tool turn.
func (r *messagesRequest) conversation() Conversation {
	conv := Conversation{Model: r.Model}
	for _, t := range r.Tools {
		if t.Name != "" {
			conv.Tools = append(conv.Tools, t.Name)
		}
	}
	if system := contentText(r.System); system != "" {
		conv.Messages = append(conv.Messages, Message{Role: RoleSystem, Text: system})
	}
	for _, m := range r.Messages {
		role := RoleUser
		if m.Role == "assistant" {
			role = RoleAssistant
		}
		var text string
		if json.Unmarshal(m.Content, &text) == nil {
			conv.Messages = append(conv.Messages, Message{Role: role, Text: text})
			continue
		}
		var blocks []anthropicBlock
		if json.Unmarshal(m.Content, &blocks) != nil {
			continue
		}
		msg := Message{Role: role}
		for _, b := range blocks {
			switch b.Type {
			case "text":
				msg.Text += b.Text
			case "tool_use":
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: b.ID, Name: b.Name, Arguments: string(b.Input)})
			case "tool_result":
				conv.Messages = append(conv.Messages, Message{Role: RoleTool, ToolCallID: b.ToolUseID, Text: contentText(b.Content)})
			}
		}
		if msg.Text != "" || len(msg.ToolCalls) > 0 {
			conv.Messages = append(conv.Messages, msg)
		}
	}
	return conv
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	var req messagesRequest
	if !s.admit(w, r, &req, refuseAnthropic) {
		return
	}
	switch {
	case req.MaxTokens <= 0:
		refuseAnthropic(w, http.StatusBadRequest, refusedBody, "max_tokens: field required and must be positive")
		return
	case len(req.Messages) == 0:
		refuseAnthropic(w, http.StatusBadRequest, refusedBody, "messages: at least one message is required")
		return
	}
	reply := s.brain.Respond(req.conversation())
	usage := s.usage(r, reply)
	id := s.nextID("msg_hopguard_")
	content, stop := anthropicContent(reply)
	if !req.Stream {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": req.Model,
			"content": content, "stop_reason": stop, "stop_sequence": nil, "usage": usage.anthropic(),
		})
		return
	}
	if err := streamMessage(w, id, req.Model, content, stop, usage); err != nil {
		s.logger.Warn("message stream ended early", "id", id, "err", err)
	}
}

func anthropicContent(reply Reply) ([]map[string]any, string) {
	if len(reply.ToolCalls) == 0 {
		return []map[string]any{{"type": "text", "text": reply.Text}}, "end_turn"
	}
	var content []map[string]any
	for _, c := range reply.ToolCalls {
		input := json.RawMessage(c.Arguments)
		if !json.Valid(input) {
			input = json.RawMessage(`{}`)
		}
		content = append(content, map[string]any{"type": "tool_use", "id": c.ID, "name": c.Name, "input": input})
	}
	return content, "tool_use"
}

// streamMessage sends Anthropic's event sequence: message_start, a
// start/delta/stop triple per content block, message_delta, message_stop.
func streamMessage(w http.ResponseWriter, id, model string, content []map[string]any, stop string, usage tokenUsage) error {
	sse := startSSE(w)
	send := func(typ string, fields map[string]any) error {
		fields["type"] = typ
		return sse.event(typ, fields)
	}
	if err := send("message_start", map[string]any{"message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": usage.Input, "output_tokens": 1},
	}}); err != nil {
		return err
	}
	for i, block := range content {
		var start, delta map[string]any
		if block["type"] == "tool_use" {
			start = map[string]any{"type": "tool_use", "id": block["id"], "name": block["name"], "input": map[string]any{}}
			raw, _ := block["input"].(json.RawMessage)
			delta = map[string]any{"type": "input_json_delta", "partial_json": string(raw)}
		} else {
			start = map[string]any{"type": "text", "text": ""}
			delta = map[string]any{"type": "text_delta", "text": block["text"]}
		}
		if err := send("content_block_start", map[string]any{"index": i, "content_block": start}); err != nil {
			return err
		}
		if err := send("content_block_delta", map[string]any{"index": i, "delta": delta}); err != nil {
			return err
		}
		if err := send("content_block_stop", map[string]any{"index": i}); err != nil {
			return err
		}
	}
	if err := send("message_delta", map[string]any{
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": usage.Output},
	}); err != nil {
		return err
	}
	return send("message_stop", map[string]any{})
}

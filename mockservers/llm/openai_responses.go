package llm

import (
	"encoding/json"
	"net/http"
)

// responsesRequest is the part of the Responses API the mock understands:
// text and function tools, no built-in tools, no stored state.
type responsesRequest struct {
	Model        string          `json:"model"`
	Instructions string          `json:"instructions"`
	Input        json.RawMessage `json:"input"`
	Tools        []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tools"`
	Stream bool `json:"stream"`
}

func (r *responsesRequest) requestedModel() string { return r.Model }

// responsesItem is one input item: a message, a function call or its output.
type responsesItem struct {
	Type    string          `json:"type"`
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	CallID  string          `json:"call_id"`
	Name    string          `json:"name"`
	Args    string          `json:"arguments"`
	Output  json.RawMessage `json:"output"`
}

func (r *responsesRequest) conversation() (Conversation, bool) {
	conv := Conversation{Model: r.Model}
	for _, t := range r.Tools {
		if t.Type == "function" && t.Name != "" {
			conv.Tools = append(conv.Tools, t.Name)
		}
	}
	if r.Instructions != "" {
		conv.Messages = append(conv.Messages, Message{Role: RoleSystem, Text: r.Instructions})
	}
	var text string
	if json.Unmarshal(r.Input, &text) == nil {
		conv.Messages = append(conv.Messages, Message{Role: RoleUser, Text: text})
		return conv, true
	}
	var items []responsesItem
	if json.Unmarshal(r.Input, &items) != nil {
		return conv, false
	}
	for _, it := range items {
		switch it.Type {
		case "function_call":
			conv.Messages = append(conv.Messages, Message{
				Role: RoleAssistant, ToolCalls: []ToolCall{{ID: it.CallID, Name: it.Name, Arguments: it.Args}},
			})
		case "function_call_output":
			conv.Messages = append(conv.Messages, Message{Role: RoleTool, ToolCallID: it.CallID, Text: contentText(it.Output)})
		case "message", "":
			conv.Messages = append(conv.Messages, Message{Role: chatRole(it.Role), Text: contentText(it.Content)})
		}
	}
	return conv, true
}

func (s *Server) handleResponses(w http.ResponseWriter, r *http.Request) {
	var req responsesRequest
	if !s.admit(w, r, &req, refuseOpenAI) {
		return
	}
	conv, ok := req.conversation()
	if !ok || len(conv.Messages) == 0 {
		refuseOpenAI(w, http.StatusBadRequest, refusedBody, "'input' must be a string or a list of input items.")
		return
	}
	reply := s.brain.Respond(conv)
	usage := s.usage(r, reply)
	id := s.nextID("resp_hopguard_")
	output := s.responseOutput(reply)
	if !req.Stream {
		writeJSON(w, http.StatusOK, s.responseObject(id, req.Model, "completed", output, usage))
		return
	}
	if err := s.streamResponse(w, id, req.Model, output, usage); err != nil {
		s.logger.Warn("response stream ended early", "id", id, "err", err)
	}
}

func (s *Server) responseOutput(reply Reply) []map[string]any {
	var out []map[string]any
	for _, c := range reply.ToolCalls {
		out = append(out, map[string]any{
			"type": "function_call", "id": "fc_" + c.ID, "call_id": c.ID,
			"name": c.Name, "arguments": c.Arguments, "status": "completed",
		})
	}
	if len(reply.ToolCalls) == 0 {
		out = append(out, map[string]any{
			"type": "message", "id": s.nextID("msg_hopguard_"), "status": "completed", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": reply.Text, "annotations": []any{}}},
		})
	}
	return out
}

func (s *Server) responseObject(id, model, status string, output []map[string]any, usage tokenUsage) map[string]any {
	obj := map[string]any{
		"id": id, "object": "response", "created_at": s.now().Unix(), "status": status,
		"model": model, "output": output, "parallel_tool_calls": true, "tool_choice": "auto",
		"tools": []any{}, "incomplete_details": nil, "metadata": map[string]any{},
	}
	if status == "completed" {
		obj["usage"] = usage.openAIResponses()
	}
	return obj
}

// streamResponse sends the minimal event sequence a Responses client needs:
// created, each output item added (with one delta) and done, completed.
func (s *Server) streamResponse(w http.ResponseWriter, id, model string, output []map[string]any, usage tokenUsage) error {
	sse := startSSE(w)
	seq := 0
	send := func(typ string, fields map[string]any) error {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		return sse.event(typ, fields)
	}
	if err := send("response.created", map[string]any{
		"response": s.responseObject(id, model, "in_progress", []map[string]any{}, usage),
	}); err != nil {
		return err
	}
	for i, item := range output {
		if err := s.streamOutputItem(send, i, item); err != nil {
			return err
		}
	}
	return send("response.completed", map[string]any{
		"response": s.responseObject(id, model, "completed", output, usage),
	})
}

func (s *Server) streamOutputItem(send func(string, map[string]any) error, index int, item map[string]any) error {
	itemID, _ := item["id"].(string)
	if item["type"] == "function_call" {
		added := map[string]any{}
		for k, v := range item {
			added[k] = v
		}
		added["arguments"] = ""
		added["status"] = "in_progress"
		if err := send("response.output_item.added", map[string]any{"output_index": index, "item": added}); err != nil {
			return err
		}
		args, _ := item["arguments"].(string)
		if err := send("response.function_call_arguments.delta", map[string]any{
			"output_index": index, "item_id": itemID, "delta": args,
		}); err != nil {
			return err
		}
		if err := send("response.function_call_arguments.done", map[string]any{
			"output_index": index, "item_id": itemID, "arguments": args,
		}); err != nil {
			return err
		}
		return send("response.output_item.done", map[string]any{"output_index": index, "item": item})
	}

	content, _ := item["content"].([]any)
	text := ""
	if len(content) > 0 {
		if part, ok := content[0].(map[string]any); ok {
			text, _ = part["text"].(string)
		}
	}
	steps := []struct {
		typ    string
		fields map[string]any
	}{
		{"response.output_item.added", map[string]any{"output_index": index, "item": map[string]any{
			"type": "message", "id": itemID, "status": "in_progress", "role": "assistant", "content": []any{},
		}}},
		{"response.content_part.added", map[string]any{"output_index": index, "item_id": itemID, "content_index": 0,
			"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}}},
		{"response.output_text.delta", map[string]any{"output_index": index, "item_id": itemID, "content_index": 0, "delta": text}},
		{"response.output_text.done", map[string]any{"output_index": index, "item_id": itemID, "content_index": 0, "text": text}},
		{"response.content_part.done", map[string]any{"output_index": index, "item_id": itemID, "content_index": 0,
			"part": map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}},
		{"response.output_item.done", map[string]any{"output_index": index, "item": item}},
	}
	for _, st := range steps {
		if err := send(st.typ, st.fields); err != nil {
			return err
		}
	}
	return nil
}

package llm

import "net/http"

// tokenUsage is a stable estimate of a call's token counts.
type tokenUsage struct {
	Input  int
	Output int
}

func (s *Server) usage(r *http.Request, reply Reply) tokenUsage {
	out := len(reply.Text)
	for _, c := range reply.ToolCalls {
		out += len(c.Name) + len(c.Arguments)
	}
	in := int(r.ContentLength)
	if in < 0 {
		in = 0
	}
	return tokenUsage{Input: estimateTokens(in), Output: estimateTokens(out)}
}

func (u tokenUsage) openAIChat() map[string]any {
	return map[string]any{
		"prompt_tokens": u.Input, "completion_tokens": u.Output, "total_tokens": u.Input + u.Output,
	}
}

func (u tokenUsage) openAIResponses() map[string]any {
	return map[string]any{
		"input_tokens": u.Input, "output_tokens": u.Output, "total_tokens": u.Input + u.Output,
		"input_tokens_details":  map[string]any{"cached_tokens": 0},
		"output_tokens_details": map[string]any{"reasoning_tokens": 0},
	}
}

func (u tokenUsage) anthropic() map[string]any {
	return map[string]any{"input_tokens": u.Input, "output_tokens": u.Output}
}

package mapping

import (
	"encoding/json"
	"math"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/hopguard/hopguard/synapse/strictjson"
)

// Actions and ids of the model plane.
const (
	ActionCompletion = "completion"
	ActionEmbedding  = "embedding"
	ActionListModels = "list_models"
	// ModelsID is the resource id of GET /v1/models, which names no model. Policies allow
	// list_models explicitly or, by default, deny it.
	ModelsID = "models"
	// MaxModelName bounds the model name, which becomes a Cerbos resource id.
	MaxModelName = 256
)

// tokenLimitFields are the body fields that cap the tokens a model call may spend, by API: chat
// completions (max_tokens, its successor max_completion_tokens), responses
// (max_output_tokens), Anthropic messages (max_tokens). The attribute max_tokens is the largest
// one present, so no field the upstream honours escapes a policy's cap.
var tokenLimitFields = [...]string{"max_tokens", "max_completion_tokens", "max_output_tokens"}

// Dialect is the API family a model-plane request belongs to.
type Dialect string

// The dialects of the model plane.
const (
	// DialectOpenAI is every model path but Anthropic's: /v1/chat/completions, /v1/responses,
	// /v1/embeddings, /v1/models, and any other path below /v1 (the default).
	DialectOpenAI Dialect = "openai"
	// DialectAnthropic is Anthropic's Messages API: /v1/messages and every path below it
	// (/v1/messages/count_tokens, /v1/messages/batches, which synapse refuses, but in the
	// format the caller's SDK reads).
	DialectAnthropic Dialect = "anthropic"
)

// modelDialect names the API family of a clean model-route path (no query string): the same
// split gateway-configs/envoy's fail-closed reply makes on /v1/messages.
func modelDialect(path string) Dialect {
	if path == "/v1/messages" || strings.HasPrefix(path, "/v1/messages/") {
		return DialectAnthropic
	}
	return DialectOpenAI
}

// modelAPI names the API of a model-route path. Paths match exactly: no prefix stripping, no
// trailing slash, no case folding.
func modelAPI(path string) (api, action string, ok bool) {
	switch path {
	case "/v1/chat/completions":
		return "chat.completions", ActionCompletion, true
	case "/v1/responses":
		return "responses", ActionCompletion, true
	case "/v1/embeddings":
		return "embeddings", ActionEmbedding, true
	case "/v1/messages":
		return "anthropic.messages", ActionCompletion, true
	}
	return "", "", false
}

func mapModel(in *Input, h *authv3.AttributeContext_HttpRequest, hdrs headers, path string, lim Limits) *Error {
	switch h.GetMethod() {
	case "POST":
		return mapModelCall(in, h, hdrs, path, lim)
	case "GET":
		if path != "/v1/models" {
			return deny(CodeUnknownModelAPI, "GET %s is not a model API synapse knows", clip(path))
		}
		if err := noBody(h); err != nil {
			return err
		}
		in.Checks = []Check{{Kind: ResourceLLM, ID: ModelsID, Action: ActionListModels, Attr: map[string]any{"api": "models"}}}
		return nil
	default:
		return deny(CodeMethodNotAllowed, "the model route accepts POST (and GET /v1/models), not %s", clip(h.GetMethod()))
	}
}

func mapModelCall(in *Input, h *authv3.AttributeContext_HttpRequest, hdrs headers, path string, lim Limits) *Error {
	api, action, ok := modelAPI(path)
	if !ok {
		return deny(CodeUnknownModelAPI, "POST %s is not a model API synapse knows", clip(path))
	}
	if err := checkJSONContent(hdrs); err != nil {
		return err
	}
	body, err := requiredBody(h, hdrs, lim.MaxBodyBytes)
	if err != nil {
		return err
	}
	fields, derr := strictjson.DecodeMembers(body, lim.modelJSON(), "model", "stream",
		tokenLimitFields[0], tokenLimitFields[1], tokenLimitFields[2])
	if derr != nil {
		return bodyError(derr)
	}
	// The model name is checked exactly as sent: "GPT-4o" and " gpt-4o" are models no policy
	// names, so they are denied there rather than silently mapped to gpt-4o here.
	model, ok := fields["model"].(string)
	if !ok || model == "" || len(model) > MaxModelName {
		return deny(CodeInvalidModel, "\"model\" must be a non-empty string of at most %d bytes", MaxModelName)
	}
	attr := map[string]any{"api": api, "model": model, "stream": false}
	switch s := fields["stream"].(type) {
	case nil:
	case bool:
		attr["stream"] = s
	default:
		return deny(CodeInvalidField, "\"stream\" must be true or false")
	}
	if limit, present, err := tokenLimit(fields); err != nil {
		return err
	} else if present {
		attr["max_tokens"] = limit
	}
	in.Checks = []Check{{Kind: ResourceLLM, ID: model, Action: action, Attr: attr}}
	return nil
}

// tokenLimit returns the largest token limit in the body; null counts as absent.
func tokenLimit(fields map[string]any) (limit float64, present bool, _ *Error) {
	for _, name := range tokenLimitFields {
		v := fields[name]
		if v == nil {
			continue
		}
		n, ok := v.(json.Number)
		if !ok {
			return 0, false, deny(CodeInvalidField, "%q must be a number", name)
		}
		f, err := exactNumber(n)
		if err != nil {
			return 0, false, err
		}
		if f < 0 || f != math.Trunc(f) {
			return 0, false, deny(CodeInvalidField, "%q must be a whole number of tokens", name)
		}
		limit, present = max(limit, f), true
	}
	return limit, present, nil
}

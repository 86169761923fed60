package parity

import (
	"strings"

	"github.com/hopguard/hopguard/mockservers/journal"
)

// The body fields whose change changes what the upstream is asked, with why. A field is named
// as the journal flattens it ("params.arguments"); a rule for a field covers the members below
// it too ("response_format" covers "response_format.type"). A difference in any other field
// (stream_options, user, metadata, a JSON-RPC id a gateway renumbers, the request's _meta) is
// reported and does not fail: it changes how the request travels or is accounted for, not what
// is asked. The method and the path are part of every request's name: a request that arrives at
// another path is a different request, reported as missing, which fails.
var (
	// Model APIs: OpenAI chat completions, responses and embeddings, Anthropic messages.
	modelMeaning = map[string]string{
		"model":                 "which model answers, and what it costs",
		"messages":              "what the model is asked",
		"system":                "what the model is asked (the system prompt)",
		"input":                 "what the model is asked (responses, embeddings)",
		"instructions":          "what the model is asked (the responses API's system prompt)",
		"prompt":                "what the model is asked",
		"tools":                 "which tools the model may call",
		"tool_choice":           "whether and which tool the model must call",
		"stream":                "how the answer comes back: a client that waits for JSON cannot read server-sent events, nor the reverse",
		"max_tokens":            "the bound on the answer's length: truncation and cost",
		"max_completion_tokens": "the bound on the answer's length: truncation and cost",
		"max_output_tokens":     "the bound on the answer's length: truncation and cost",
		"temperature":           "a sampling control: it changes the answer",
		"top_p":                 "a sampling control: it changes the answer",
		"top_k":                 "a sampling control: it changes the answer",
		"n":                     "how many answers come back",
		"stop":                  "where the answer stops",
		"stop_sequences":        "where the answer stops",
		"seed":                  "a sampling control: it changes the answer",
		"response_format":       "the answer's format",
		"dimensions":            "the embedding's size",
	}
	// MCP: JSON-RPC over streamable HTTP.
	mcpMeaning = map[string]string{
		"method":                 "which JSON-RPC method the server runs",
		"params.name":            "which tool (or prompt) is called",
		"params.arguments":       "what the tool is asked to do (a refund's amount and ticket)",
		"params.protocolVersion": "the protocol version the session opens with",
		"params.uri":             "which resource is read",
	}
)

// Why some fields that do not change what is asked may still differ, by exact field name.
var (
	modelBenign = map[string]string{
		"stream_options.include_usage": "asks for a last chunk with the token usage: accounting, not the answer",
	}
	mcpBenign = map[string]string{
		"params":              "params as a whole: an empty object on one side, members on the other (the rows of its members say which)",
		"id":                  "the JSON-RPC id: a gateway that keeps its own session upstream numbers its own requests and answers the client under the client's id",
		"jsonrpc":             "the JSON-RPC version",
		"params._meta":        "request metadata (a progress token; from 2026-07-28 the protocol version and client a request travels with)",
		"params.capabilities": "what the client says it can do (roots, sampling, elicitation): a gateway that keeps its own session upstream announces its own",
		"params.clientInfo":   "the client's name and version: a gateway that keeps its own session upstream may announce itself",
	}
)

// chatCompletionsPath is OpenAI's chat completions API, which takes its token limit under two
// names.
const chatCompletionsPath = "/v1/chat/completions"

// Meaning says whether a difference in field of a request to path changes what the upstream is
// asked, and why. received is what each gateway's upstream received, for the rules that read
// more than one field.
func Meaning(path, field string, received map[string]journal.Entry) (bool, string) {
	rules, benign, upstream := modelMeaning, modelBenign, "a model API"
	if strings.HasPrefix(path, "/mcp") {
		rules, benign, upstream = mcpMeaning, mcpBenign, "an MCP server"
	}
	if path == chatCompletionsPath && (field == "max_tokens" || field == "max_completion_tokens") {
		return chatTokenLimit(received)
	}
	for name, why := range rules {
		if field == name || strings.HasPrefix(field, name+".") {
			return true, why
		}
	}
	if why, ok := benign[field]; ok {
		return false, why
	}
	return false, "not a field that changes what " + upstream + " is asked"
}

// chatTokenLimit compares the token limit of chat completions under either of its names. OpenAI
// documents max_tokens as the deprecated name of max_completion_tokens (the same bound on the
// answer; models that reason count their reasoning in it and refuse the old name), so a gateway
// that renames the field keeps the request's meaning as long as the limit itself is the same.
// Anthropic's messages have no such alias: their max_tokens is required, and a renamed one is a
// lost one (the modelMeaning rule).
func chatTokenLimit(received map[string]journal.Entry) (bool, string) {
	limits := map[string]string{}
	for g, e := range received {
		limit, ok := e.Fields["max_completion_tokens"]
		if !ok {
			limit = e.Fields["max_tokens"]
		}
		limits[g] = limit
	}
	if same(limits) {
		return false, "the same limit under the other of its two names (OpenAI documents max_tokens as the deprecated name of max_completion_tokens)"
	}
	return true, "the bound on the answer's length differs: truncation and cost"
}

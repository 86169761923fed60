package clients

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"

	"github.com/hopguard/hopguard/synapse/respond"
)

// conn is how a client reaches the gateway: its front door, the credential it presents and the
// HTTP client every request goes through.
type conn struct {
	gatewayURL string
	token      string // "" presents none
	http       *http.Client
}

// observation is what the SDK's API surfaced for the measured call.
type observation struct {
	// ok says the call went through: no error, and (a tool call) no isError result.
	ok bool
	// surfaced is what came back, on one line.
	surfaced string
	// errType is the SDK's type the outcome was read through (its exported name), or the Go
	// type of an error that is none of the SDK's.
	errType string
	// typed says a denial was read through the SDK's own type for it; code is hopguard's code
	// as read there.
	typed bool
	code  string
	// wrongProtocol says an MCP session opened speaking another protocol version than its
	// client plays.
	wrongProtocol bool
}

// modelSDK plays model calls with one SDK.
type modelSDK interface {
	// open makes the SDK's client for c, with the SDK's defaults (retries included).
	open(c conn) modelSession
	// path is the API's path.
	path() string
}

// modelSession is one SDK client; revoked-task hops make two calls with it.
type modelSession interface {
	complete(ctx context.Context, model string, stream bool) observation
}

// placeholderKey is the key given to an SDK for a hop with no credential: withoutCredentials
// removes it.
const placeholderKey = "no-credential"

type openaiSDK struct{}

func (openaiSDK) path() string { return "/v1/chat/completions" }

// credential is the token an SDK is given for c: c's own, or placeholderKey for a hop with none.
func credential(c conn) string {
	if c.token == "" {
		return placeholderKey
	}
	return c.token
}

func (openaiSDK) open(c conn) modelSession {
	return openaiSession{openai.NewClient(
		openaioption.WithBaseURL(c.gatewayURL+"/v1/"),
		openaioption.WithAPIKey(credential(c)),
		openaioption.WithHTTPClient(c.http),
	)}
}

type openaiSession struct{ client openai.Client }

func (s openaiSession) complete(ctx context.Context, model string, stream bool) observation {
	params := openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Work ticket T-2001.")},
		// The limit under the name most callers still send (OpenAI deprecated it for
		// max_completion_tokens): the parity comparison shows which gateways rename it.
		MaxTokens: openai.Int(maxTokens),
	}
	if !stream {
		completion, err := s.client.Chat.Completions.New(ctx, params)
		if err != nil {
			return readOpenAIError(err)
		}
		if len(completion.Choices) == 0 || completion.Choices[0].Message.Content == "" {
			return observation{surfaced: "a completion with no content"}
		}
		return observation{ok: true, surfaced: "completion: " + clip(completion.Choices[0].Message.Content)}
	}
	st := s.client.Chat.Completions.NewStreaming(ctx, params)
	defer st.Close()
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for st.Next() {
		acc.AddChunk(st.Current())
		chunks++
	}
	if err := st.Err(); err != nil {
		return readOpenAIError(err)
	}
	if len(acc.Choices) == 0 || acc.Choices[0].Message.Content == "" {
		return observation{surfaced: fmt.Sprintf("a stream of %d chunks with no content", chunks)}
	}
	return observation{ok: true, surfaced: fmt.Sprintf("%d chunks: %s", chunks, clip(acc.Choices[0].Message.Content))}
}

// readOpenAIError reads an error as openai-go's caller does: *openai.Error, whose Code is
// where an OpenAI-style error body puts its code; else the x-hopguard-code header of the
// response the error exposes (Response), which a gateway that cannot write the body sets.
func readOpenAIError(err error) observation {
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		return otherError(err)
	}
	obs := observation{
		errType:  "*openai.Error",
		typed:    true,
		code:     apiErr.Code,
		surfaced: fmt.Sprintf("*openai.Error %d type=%q code=%q message=%q", apiErr.StatusCode, apiErr.Type, apiErr.Code, clip(apiErr.Message)),
	}
	if obs.code == "" {
		if code := headerCode(apiErr.Response); code != "" {
			obs.code = code
			obs.surfaced += fmt.Sprintf(", Response.Header %s=%q", respond.HeaderCode, code)
		}
	}
	return obs
}

// headerCode reads hopguard's code from the x-hopguard-code header of the response an SDK's
// error exposes: the gateway's own fail-closed reply carries it, also where the gateway cannot
// give that reply a body.
func headerCode(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	return resp.Header.Get(respond.HeaderCode)
}

type anthropicSDK struct{}

func (anthropicSDK) path() string { return "/v1/messages" }

func (anthropicSDK) open(c conn) modelSession {
	return anthropicSession{anthropic.NewClient(
		// No credential or base URL from the environment the tests run in.
		anthropicoption.WithoutEnvironmentDefaults(),
		anthropicoption.WithBaseURL(c.gatewayURL+"/"),
		// A bearer token (Authorization), which is what synapse verifies; an API key would go
		// in x-api-key.
		anthropicoption.WithAuthToken(credential(c)),
		anthropicoption.WithHTTPClient(c.http),
	)}
}

type anthropicSession struct{ client anthropic.Client }

func (s anthropicSession) complete(ctx context.Context, model string, stream bool) observation {
	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: maxTokens,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Work ticket T-2001."))},
	}
	if !stream {
		msg, err := s.client.Messages.New(ctx, params)
		if err != nil {
			return readAnthropicError(err)
		}
		return anthropicMessage(msg, "message")
	}
	st := s.client.Messages.NewStreaming(ctx, params)
	defer st.Close()
	var msg anthropic.Message
	events := 0
	for st.Next() {
		if err := msg.Accumulate(st.Current()); err != nil {
			return observation{surfaced: "the stream did not accumulate: " + err.Error(), errType: fmt.Sprintf("%T", err)}
		}
		events++
	}
	if err := st.Err(); err != nil {
		return readAnthropicError(err)
	}
	return anthropicMessage(&msg, fmt.Sprintf("%d events", events))
}

func anthropicMessage(msg *anthropic.Message, what string) observation {
	var text strings.Builder
	for _, block := range msg.Content {
		text.WriteString(block.Text)
	}
	if text.Len() == 0 {
		return observation{surfaced: what + " with no text"}
	}
	return observation{ok: true, surfaced: what + ": " + clip(text.String())}
}

// anthropicErrorTypes are the error types anthropic-sdk-go knows (shared.ErrorType).
var anthropicErrorTypes = []anthropic.ErrorType{
	anthropic.ErrorTypeInvalidRequestError, anthropic.ErrorTypeAuthenticationError, anthropic.ErrorTypeBillingError,
	anthropic.ErrorTypePermissionError, anthropic.ErrorTypeNotFoundError, anthropic.ErrorTypeRateLimitError,
	anthropic.ErrorTypeTimeoutError, anthropic.ErrorTypeAPIError, anthropic.ErrorTypeOverloadedError,
}

// readAnthropicError reads an error as anthropic-sdk-go's caller does: *anthropic.Error, whose
// Type() is the error body's error.type, and whose raw JSON carries any extension. The denial
// is read through the SDK's own type only when Type() is one the SDK knows: an OpenAI-shaped
// body leaves it reading something else, or nothing.
func readAnthropicError(err error) observation {
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		return otherError(err)
	}
	typ := apiErr.Type()
	obs := observation{
		errType:  "*anthropic.Error",
		typed:    slices.Contains(anthropicErrorTypes, typ),
		code:     hopguardCode(apiErr.RawJSON()),
		surfaced: fmt.Sprintf("*anthropic.Error %d Type()=%q body %s", apiErr.StatusCode, typ, clip(apiErr.RawJSON())),
	}
	// A body with no code (a gateway's own reply in plain text): the code from the
	// x-hopguard-code header of the response the error exposes (Response), read through the
	// SDK's own type all the same.
	if obs.code == "" {
		if code := headerCode(apiErr.Response); code != "" {
			obs.code, obs.typed = code, true
			obs.surfaced += fmt.Sprintf(", Response.Header %s=%q", respond.HeaderCode, code)
		}
	}
	return obs
}

// hopguardCode reads hopguard's code from a model API's error body: the policy output
// synapse adds as an extension, under the error object or beside it.
func hopguardCode(raw string) string {
	var body struct {
		Error struct {
			Hopguard struct {
				Code string `json:"code"`
			} `json:"hopguard"`
		} `json:"error"`
		Hopguard struct {
			Code string `json:"code"`
		} `json:"hopguard"`
	}
	if json.Unmarshal([]byte(raw), &body) != nil {
		return ""
	}
	if body.Error.Hopguard.Code != "" {
		return body.Error.Hopguard.Code
	}
	return body.Hopguard.Code
}

// otherError is an error none of the SDK's types describe.
func otherError(err error) observation {
	return observation{errType: fmt.Sprintf("%T", err), surfaced: clip(err.Error())}
}

// clip keeps a surfaced text to one short line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

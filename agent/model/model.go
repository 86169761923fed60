// Package model is the agent's way to its model: openai-go pointed at the
// gateway, presenting the agent's per-resource "llm" token, and reading a
// gateway denial out of the error openai-go returns.
package model

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/hopguard/hopguard/agent/denial"
)

// DenialField is the field of an OpenAI-style error body in which the gateway
// puts the policy output.
const DenialField = "hopguard"

// Config says where the model is and how the agent authenticates to it.
type Config struct {
	// BaseURL is the OpenAI base URL: the gateway's LLM route, e.g.
	// http://127.0.0.1:8080/v1.
	BaseURL string
	// Token returns the agent's "llm" token; it is sent as the API key.
	Token func(context.Context) (string, error)
	// HTTPClient carries the requests; nil means a default client.
	HTTPClient *http.Client
	// MaxRetries is how often openai-go retries a retryable failure. A
	// gateway denial is never retried (403, or 5xx with x-should-retry:
	// false).
	MaxRetries int
	// RequestTimeout bounds each attempt; 0 means no bound beyond ctx.
	RequestTimeout time.Duration
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	Parameters  map[string]any
}

// Client calls the model.
type Client struct {
	oc    openai.Client
	token func(context.Context) (string, error)
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" || cfg.Token == nil {
		return nil, errors.New("model: base URL and token source are required")
	}
	opts := []option.RequestOption{
		option.WithBaseURL(strings.TrimSuffix(cfg.BaseURL, "/") + "/"),
		option.WithMaxRetries(max(cfg.MaxRetries, 0)),
		// The agent carries no credential but its llm token: drop anything
		// the OPENAI_* environment would add.
		option.WithHeaderDel("OpenAI-Organization"),
		option.WithHeaderDel("OpenAI-Project"),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	if cfg.RequestTimeout > 0 {
		opts = append(opts, option.WithRequestTimeout(cfg.RequestTimeout))
	}
	return &Client{oc: openai.NewClient(opts...), token: cfg.Token}, nil
}

// Complete asks modelName for the next message of the conversation, offering
// tools. A call the gateway denies returns a *denial.Error (see denial.From);
// other API failures return an error that says what the API said.
func (c *Client) Complete(ctx context.Context, modelName string, messages []openai.ChatCompletionMessageParamUnion, tools []Tool) (*openai.ChatCompletion, error) {
	tok, err := c.token(ctx)
	if err != nil {
		return nil, fmt.Errorf("model %s: token: %w", modelName, err)
	}
	params := openai.ChatCompletionNewParams{Model: shared.ChatModel(modelName), Messages: messages}
	for _, t := range tools {
		fn := shared.FunctionDefinitionParam{Name: t.Name, Parameters: shared.FunctionParameters(t.Parameters)}
		if t.Description != "" {
			fn.Description = openai.String(t.Description)
		}
		params.Tools = append(params.Tools, openai.ChatCompletionFunctionTool(fn))
	}
	// The API key rides on the request, not the client: each call presents
	// the token the source holds now, refreshed when it nears expiry.
	completion, err := c.oc.Chat.Completions.New(ctx, params, option.WithAPIKey(tok))
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", modelName, classify(err))
	}
	if len(completion.Choices) == 0 {
		return nil, fmt.Errorf("model %s: the response has no choices", modelName)
	}
	return completion, nil
}

// ListModels lists the models the gateway lets the agent see (GET /v1/models), by id. A listing
// the gateway denies returns a *denial.Error.
func (c *Client) ListModels(ctx context.Context) ([]string, error) {
	tok, err := c.token(ctx)
	if err != nil {
		return nil, fmt.Errorf("list models: token: %w", err)
	}
	page, err := c.oc.Models.List(ctx, option.WithAPIKey(tok))
	if err != nil {
		return nil, fmt.Errorf("list models: %w", classify(err))
	}
	ids := make([]string, 0, len(page.Data))
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

// classify turns an API error into a *denial.Error when the gateway denied
// the call, and otherwise into an error whose text carries the API's message
// (openai.Error's own text is only the HTTP status).
func classify(err error) error {
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		return err
	}
	if d, ok := DenialOf(apiErr); ok {
		return &denial.Error{Denial: d, Err: err}
	}
	msg := apiErr.Message
	if apiErr.Code != "" {
		msg = apiErr.Code + ": " + msg
	}
	return &APIError{StatusCode: apiErr.StatusCode, Message: msg, Err: err}
}

// APIError is a model call the API refused for a reason other than policy.
type APIError struct {
	StatusCode int
	Message    string
	Err        error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

func (e *APIError) Unwrap() error { return e.Err }

// DenialOf reads a gateway denial from an API error: the policy output in the
// error body's "hopguard" field, or, when the response carries the gateway's
// denial header without one, the error's own message and code. A refusal by
// the provider itself (a 401 for a bad key, a 404 for an unknown model) is
// not a denial.
func DenialOf(apiErr *openai.Error) (denial.Denial, bool) {
	var decisionID string
	marked := false
	if apiErr.Response != nil {
		decisionID = apiErr.Response.Header.Get(denial.DecisionIDHeader)
		marked = strings.EqualFold(apiErr.Response.Header.Get(denial.DecisionHeader), "deny")
	}
	if f, ok := apiErr.JSON.ExtraFields[DenialField]; ok {
		if d, err := denial.Parse([]byte(f.Raw())); err == nil {
			if decisionID != "" {
				d.DecisionID = decisionID
			}
			return d, true
		}
	}
	if !marked {
		return denial.Denial{}, false
	}
	reason := apiErr.Message
	if reason == "" {
		reason = fmt.Sprintf("denied by the gateway (HTTP %d)", apiErr.StatusCode)
	}
	code := apiErr.Code
	if code == "" && apiErr.Response != nil {
		// A gateway that cannot give its own fail-closed reply a body (agentgateway v1.4.1)
		// still names the code in a header.
		code = apiErr.Response.Header.Get(denial.CodeHeader)
	}
	return denial.Denial{Reason: reason, Code: code, DecisionID: decisionID}, true
}

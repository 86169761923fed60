package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/mockservers/llm"
)

const providerKey = llm.DefaultProviderKey

// A JWT-shaped agent token (ES256 header; payload and signature are dummies).
const agentToken = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"

func startLLM(t *testing.T) (*llm.Server, *httptest.Server) {
	t.Helper()
	s, err := llm.New(llm.Config{ProviderKey: providerKey, Models: llm.DefaultModels()})
	require.NoError(t, err)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

func openAIClient(hs *httptest.Server, key string) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(hs.URL+"/v1/"),
		option.WithAPIKey(key),
		option.WithHTTPClient(hs.Client()),
		option.WithMaxRetries(0),
	)
}

func demoTools() []openai.ChatCompletionToolUnionParam {
	var tools []openai.ChatCompletionToolUnionParam
	for _, name := range []string{"get_ticket", "get_customer", "refund_issue", "update_ticket"} {
		tools = append(tools, openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:       name,
			Parameters: shared.FunctionParameters{"type": "object"},
		}))
	}
	return tools
}

func TestChatCompletionToolCall(t *testing.T) {
	_, hs := startLLM(t)
	client := openAIClient(hs, providerKey)
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Work ticket T-1001")},
		Tools:    demoTools(),
	})
	require.NoError(t, err)
	require.Len(t, resp.Choices, 1)
	assert.Equal(t, "tool_calls", resp.Choices[0].FinishReason)
	assert.Equal(t, "gpt-4o", resp.Model)
	require.Len(t, resp.Choices[0].Message.ToolCalls, 1)
	call := resp.Choices[0].Message.ToolCalls[0]
	assert.Equal(t, "get_ticket", call.Function.Name)
	assert.JSONEq(t, `{"ticket_id":"T-1001"}`, call.Function.Arguments)
	assert.NotEmpty(t, call.ID)
	assert.Positive(t, resp.Usage.TotalTokens)
}

func TestChatCompletionStreaming(t *testing.T) {
	_, hs := startLLM(t)
	client := openAIClient(hs, providerKey)

	for _, tc := range []struct {
		name     string
		messages []openai.ChatCompletionMessageParamUnion
		wantTool string
		wantText string
	}{
		{name: "tool call", messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Work ticket T-1002")}, wantTool: "get_ticket"},
		{name: "text", messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello there")}, wantText: `Which ticket should I work on? Say for example "Work ticket T-1001".`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
				Model:         "gpt-4o-mini",
				Messages:      tc.messages,
				Tools:         demoTools(),
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			acc := openai.ChatCompletionAccumulator{}
			chunks := 0
			for stream.Next() {
				require.True(t, acc.AddChunk(stream.Current()))
				chunks++
			}
			require.NoError(t, stream.Err())
			assert.Greater(t, chunks, 3, "the reply arrives in several chunks")
			require.Len(t, acc.Choices, 1)
			msg := acc.Choices[0].Message
			if tc.wantTool != "" {
				assert.Equal(t, "tool_calls", acc.Choices[0].FinishReason)
				require.Len(t, msg.ToolCalls, 1)
				assert.Equal(t, tc.wantTool, msg.ToolCalls[0].Function.Name)
				assert.JSONEq(t, `{"ticket_id":"T-1002"}`, msg.ToolCalls[0].Function.Arguments)
			} else {
				assert.Equal(t, "stop", acc.Choices[0].FinishReason)
				assert.Equal(t, tc.wantText, msg.Content)
			}
			assert.Positive(t, acc.Usage.TotalTokens)
		})
	}
}

func TestModels(t *testing.T) {
	_, hs := startLLM(t)
	client := openAIClient(hs, providerKey)
	page, err := client.Models.List(context.Background())
	require.NoError(t, err)
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	assert.Equal(t, []string{"gpt-4o", "gpt-4o-mini"}, ids)

	m, err := client.Models.Get(context.Background(), "gpt-4o-mini")
	require.NoError(t, err)
	assert.Equal(t, "gpt-4o-mini", m.ID)
}

func TestRefusals(t *testing.T) {
	_, hs := startLLM(t)
	tests := []struct {
		name       string
		key        string
		model      string
		wantStatus int
		wantCode   string
	}{
		{"wrong key", "sk-wrong", "gpt-4o", http.StatusUnauthorized, "invalid_api_key"},
		{"agent token instead of the key", agentToken, "gpt-4o", http.StatusUnauthorized, "invalid_api_key"},
		{"unknown model", providerKey, "gpt-5", http.StatusNotFound, "model_not_found"},
		{"model names are not case-folded", providerKey, "GPT-4o", http.StatusNotFound, "model_not_found"},
		{"credential is checked before the model", "sk-wrong", "gpt-5", http.StatusUnauthorized, "invalid_api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := openAIClient(hs, tt.key)
			_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:    tt.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Work ticket T-1001")},
			})
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "want *openai.Error, got %v", err)
			assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
			assert.Equal(t, tt.wantCode, apiErr.Code)
		})
	}
}

func TestCredentialRules(t *testing.T) {
	_, hs := startLLM(t)
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"no credential", nil, http.StatusUnauthorized},
		{"bearer key", map[string]string{"Authorization": "Bearer " + providerKey}, http.StatusOK},
		{"x-api-key", map[string]string{"X-Api-Key": providerKey}, http.StatusOK},
		{"key plus the agent's token", map[string]string{"X-Api-Key": providerKey, "Authorization": "Bearer " + agentToken}, http.StatusUnauthorized},
		{"basic scheme", map[string]string{"Authorization": "Basic " + providerKey}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, hs.URL+"/v1/chat/completions", strings.NewReader(body))
			require.NoError(t, err)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := hs.Client().Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, tt.want, resp.StatusCode)
		})
	}
}

func TestBadBodies(t *testing.T) {
	_, hs := startLLM(t)
	for _, tc := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":`},
		{"/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`},
		{"/v1/chat/completions", `{"model":"gpt-4o","messages":"nope"}`},
		{"/v1/responses", `{"model":"gpt-4o","input":42}`},
		{"/v1/messages", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`},
	} {
		req, err := http.NewRequest(http.MethodPost, hs.URL+tc.path, strings.NewReader(tc.body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+providerKey)
		resp, err := hs.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s", tc.path, tc.body)
	}
}

func TestResponsesAPI(t *testing.T) {
	_, hs := startLLM(t)
	client := openAIClient(hs, providerKey)
	tools := []responses.ToolUnionParam{
		responses.ToolParamOfFunction("get_ticket", map[string]any{"type": "object"}, false),
		responses.ToolParamOfFunction("get_customer", map[string]any{"type": "object"}, false),
	}
	resp, err := client.Responses.New(context.Background(), responses.ResponseNewParams{
		Model: "gpt-4o",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Work ticket T-1001")},
		Tools: tools,
	})
	require.NoError(t, err)
	require.Len(t, resp.Output, 1)
	call := resp.Output[0].AsFunctionCall()
	assert.Equal(t, "get_ticket", call.Name)
	assert.JSONEq(t, `{"ticket_id":"T-1001"}`, call.Arguments)

	// Feed the call and a result back, streaming this time.
	output := responses.ResponseInputItemParamOfFunctionCallOutput(`{"id":"T-1001","customer_id":"C-100"}`)
	output.OfFunctionCallOutput.CallID = openai.String(call.CallID)
	stream := client.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
		Model: "gpt-4o",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("Work ticket T-1001", responses.EasyInputMessageRoleUser),
			responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name),
			output,
		}},
		Tools: tools,
	})
	var completed *responses.Response
	var types []string
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if ev.Type == "response.completed" {
			r := ev.AsResponseCompleted().Response
			completed = &r
		}
	}
	require.NoError(t, stream.Err())
	require.NotNil(t, completed, "events: %v", types)
	require.Len(t, completed.Output, 1)
	assert.Equal(t, "get_customer", completed.Output[0].AsFunctionCall().Name)
	assert.Equal(t, "response.created", types[0])
}

func TestJournalRecordsModelAndCredential(t *testing.T) {
	s, hs := startLLM(t)
	for _, call := range []struct{ key, model string }{{providerKey, "gpt-4o-mini"}, {agentToken, "gpt-4o"}} {
		client := openAIClient(hs, call.key)
		_, _ = client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: call.model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
	}
	entries := s.Journal().Entries()
	require.Len(t, entries, 2)
	assert.Equal(t, "gpt-4o-mini", entries[0].Model)
	assert.Equal(t, journal.CredentialProviderKey, entries[0].Credential)
	assert.Equal(t, "/v1/chat/completions", entries[0].Path)
	assert.Equal(t, journal.CredentialBearerJWT, entries[1].Credential, "a refused request still reached the mock")

	raw, err := json.Marshal(entries)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), providerKey, "the journal never holds a secret")
}

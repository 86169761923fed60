package mcpconformance

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The contents the framework's scenarios check. Names and texts follow the framework's scenario
// descriptions and its reference server (examples/servers/typescript/everything-server.ts).
const (
	// TestImagePNG is a base64 1x1 PNG.
	TestImagePNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
	// TestAudioWAV is a base64 WAV file with one silent sample.
	TestAudioWAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

	SimpleText          = "This is a simple text response for testing."
	ErrorText           = "This tool intentionally returns an error for testing"
	StaticText          = "This is the content of the static text resource."
	WatchedResourceText = "Watched resource content"
	SimplePromptText    = "This is a simple prompt for testing."
	EmbeddedPromptText  = "Embedded resource content for testing."

	// LoggerName is the logger of the log notifications the fixture sends.
	LoggerName = "conformance-test-server"
	// JSONSchemaDialect is the $schema of json_schema_2020_12_tool's input schema.
	JSONSchemaDialect = "https://json-schema.org/draft/2020-12/schema"
)

// Fixture URIs.
const (
	StaticTextURI      = "test://static-text"
	StaticBinaryURI    = "test://static-binary"
	WatchedResourceURI = "test://watched-resource"
	TemplateURI        = "test://template/{id}/data"
)

// notificationStep is the pause between the notifications of test_tool_with_logging and
// test_tool_with_progress (the scenarios ask for ~50ms).
const notificationStep = 50 * time.Millisecond

// notificationSettle is how long those tools wait after their last notification before they
// return. mcp-go v1.2.1 (server/streamable_http.go, handlePost) loses or reorders a notification
// sent just before a tool returns, in two ways:
//   - a session's notifications go to one channel that both the POST handling the call and the
//     session's standalone GET stream read, so one may leave on the GET stream and reach the
//     client after the response, when the client has dropped the call's progress handler;
//   - the POST's forwarder goroutine may take a notification off the channel while the handler
//     drains it to write the response, then find the request done and drop it.
//
// Without this pause the framework's tools-call-with-progress scenario failed 19 times in 40
// and tools-call-with-logging about once in 40; with it, none in hundreds of runs.
const notificationSettle = 50 * time.Millisecond

// ToolNames lists the fixture's tools, in the order tools/list returns them.
func ToolNames() []string {
	names := make([]string, 0, len(fixtureTools(nil)))
	for _, t := range fixtureTools(nil) {
		names = append(names, t.Tool.Name)
	}
	slices.Sort(names)
	return names
}

func newMCPServer(logger *slog.Logger) *server.MCPServer {
	s := server.NewMCPServer(Name, Version,
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(true, false),
		server.WithPromptCapabilities(false),
		server.WithLogging(),
		server.WithCompletions(),
		server.WithPromptCompletionProvider(promptCompletions{}),
		server.WithElicitation(),
		server.WithRecovery(),
		server.WithLogger(logger),
		server.WithInstructions("Fixture for the MCP conformance framework's server scenarios."),
	)
	s.EnableSampling()
	s.AddTools(fixtureTools(s)...)
	s.AddResources(fixtureResources()...)
	s.AddResourceTemplate(mcp.NewResourceTemplate(TemplateURI, "template",
		mcp.WithTemplateDescription("A resource template with parameter substitution"),
		mcp.WithTemplateMIMEType("application/json")), readTemplate)
	s.AddPrompts(fixturePrompts()...)
	return s
}

func textResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(text)}}
}

func noArgs(name, description string) mcp.Tool {
	return mcp.NewTool(name, mcp.WithDescription(description),
		mcp.WithReadOnlyHintAnnotation(true), mcp.WithDestructiveHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false))
}

// fixtureTools returns the tools; s is the server they call back into (sampling, elicitation,
// notifications), nil only to list their definitions.
func fixtureTools(s *server.MCPServer) []server.ServerTool {
	return []server.ServerTool{
		{Tool: noArgs("test_simple_text", "Returns simple text content"),
			Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return textResult(SimpleText), nil
			}},
		{Tool: noArgs("test_image_content", "Returns image content (a 1x1 PNG)"),
			Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewImageContent(TestImagePNG, "image/png")}}, nil
			}},
		{Tool: noArgs("test_audio_content", "Returns audio content (a one-sample WAV)"),
			Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewAudioContent(TestAudioWAV, "audio/wav")}}, nil
			}},
		{Tool: noArgs("test_embedded_resource", "Returns an embedded text resource"),
			Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewEmbeddedResource(mcp.TextResourceContents{
					URI: "test://embedded-resource", MIMEType: "text/plain", Text: "This is an embedded resource content.",
				})}}, nil
			}},
		{Tool: noArgs("test_multiple_content_types", "Returns text, image and embedded resource content"),
			Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{
					mcp.NewTextContent("Multiple content types test:"),
					mcp.NewImageContent(TestImagePNG, "image/png"),
					mcp.NewEmbeddedResource(mcp.TextResourceContents{
						URI: "test://mixed-content-resource", MIMEType: "application/json", Text: `{"test":"data","value":123}`,
					}),
				}}, nil
			}},
		{Tool: noArgs("test_error_handling", "Always fails with a tool error (isError: true)"),
			Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return mcp.NewToolResultError(ErrorText), nil
			}},
		{Tool: noArgs("test_tool_with_logging", "Sends three info log notifications ~50ms apart while it runs"),
			Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				for i, msg := range []string{"Tool execution started", "Tool processing data", "Tool execution completed"} {
					if i > 0 && !sleep(ctx, notificationStep) {
						return nil, ctx.Err()
					}
					n := mcp.NewLoggingMessageNotification(mcp.LoggingLevelInfo, LoggerName, msg)
					if err := s.SendLogMessageToClient(ctx, n); err != nil {
						return nil, fmt.Errorf("send log notification: %w", err)
					}
				}
				if !sleep(ctx, notificationSettle) {
					return nil, ctx.Err()
				}
				return textResult("Tool with logging executed successfully"), nil
			}},
		{Tool: noArgs("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100, ~50ms apart, to the request's progressToken"),
			Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				var token mcp.ProgressToken
				if req.Params.Meta != nil {
					token = req.Params.Meta.ProgressToken
				}
				for i, progress := range []int{0, 50, 100} {
					if i > 0 && !sleep(ctx, notificationStep) {
						return nil, ctx.Err()
					}
					if token == nil {
						continue
					}
					err := s.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), map[string]any{
						"progressToken": token,
						"progress":      progress,
						"total":         100,
						"message":       fmt.Sprintf("Completed step %d of 100", progress),
					})
					if err != nil {
						return nil, fmt.Errorf("send progress notification: %w", err)
					}
				}
				if !sleep(ctx, notificationSettle) {
					return nil, ctx.Err()
				}
				if token == nil {
					return textResult("no progressToken in the request: no progress reported"), nil
				}
				return textResult(fmt.Sprint(token)), nil
			}},
		{Tool: mcp.NewTool("test_sampling",
			mcp.WithDescription("Asks the client's LLM (sampling/createMessage, maxTokens 100) to answer the prompt"),
			mcp.WithString("prompt", mcp.Required(), mcp.Description("The prompt to send to the LLM"))),
			Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				prompt, err := req.RequireString("prompt")
				if err != nil {
					return mcp.NewToolResultError(err.Error()), nil
				}
				return sample(ctx, s, prompt), nil
			}},
		{Tool: mcp.NewTool("test_elicitation",
			mcp.WithDescription("Asks the user (elicitation/create) for a username and an email address"),
			mcp.WithString("message", mcp.Required(), mcp.Description("The message to show the user"))),
			Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				message, err := req.RequireString("message")
				if err != nil {
					return mcp.NewToolResultError(err.Error()), nil
				}
				return elicit(ctx, s, "User response", message, map[string]any{
					"type": "object",
					"properties": map[string]any{
						"username": map[string]any{"type": "string", "description": "User's response"},
						"email":    map[string]any{"type": "string", "description": "User's email address"},
					},
					"required": []string{"username", "email"},
				}), nil
			}},
		{Tool: noArgs("test_elicitation_sep1034_defaults", "Elicits a form whose string, integer, number, enum and boolean fields have defaults (SEP-1034)"),
			Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return elicit(ctx, s, "Elicitation completed", "Please review and update the form fields with defaults", sep1034Schema()), nil
			}},
		{Tool: noArgs("test_elicitation_sep1330_enums", "Elicits a form with the five enum schema variants (SEP-1330)"),
			Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return elicit(ctx, s, "Elicitation completed", "Please select options from the enum fields", sep1330Schema()), nil
			}},
		{Tool: mcp.NewToolWithRawSchema("json_schema_2020_12_tool",
			"Tool with JSON Schema 2020-12 features ($schema, $defs, additionalProperties) for conformance testing (SEP-1613)",
			json.RawMessage(jsonSchema2020_12)),
			Handler: func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				args, err := json.Marshal(req.GetArguments())
				if err != nil {
					return mcp.NewToolResultError(err.Error()), nil
				}
				return textResult("JSON Schema 2020-12 tool called with: " + string(args)), nil
			}},
		reconnectTool(),
	}
}

// jsonSchema2020_12 is the input schema the json-schema-2020-12 scenario expects to see intact.
const jsonSchema2020_12 = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "$defs": {
    "address": {
      "type": "object",
      "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
    }
  },
  "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
  "additionalProperties": false
}`

func sep1034Schema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"name":     map[string]any{"type": "string", "description": "User name", "default": "John Doe"},
			"age":      map[string]any{"type": "integer", "description": "User age", "default": 30},
			"score":    map[string]any{"type": "number", "description": "User score", "default": 95.5},
			"status":   map[string]any{"type": "string", "description": "User status", "enum": []string{"active", "inactive", "pending"}, "default": "active"},
			"verified": map[string]any{"type": "boolean", "description": "Verification status", "default": true},
		},
		"required": []string{},
	}
}

func titled(key string, pairs ...string) []any {
	out := make([]any, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, map[string]any{"const": pairs[i], key: pairs[i+1]})
	}
	return out
}

func sep1330Schema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"untitledSingle": map[string]any{"type": "string", "description": "Select one option",
				"enum": []string{"option1", "option2", "option3"}},
			"titledSingle": map[string]any{"type": "string", "description": "Select one option with titles",
				"oneOf": titled("title", "value1", "First Option", "value2", "Second Option", "value3", "Third Option")},
			"legacyEnum": map[string]any{"type": "string", "description": "Select one option (legacy)",
				"enum": []string{"opt1", "opt2", "opt3"}, "enumNames": []string{"Option One", "Option Two", "Option Three"}},
			"untitledMulti": map[string]any{"type": "array", "description": "Select multiple options", "minItems": 1, "maxItems": 3,
				"items": map[string]any{"type": "string", "enum": []string{"option1", "option2", "option3"}}},
			"titledMulti": map[string]any{"type": "array", "description": "Select multiple options with titles", "minItems": 1, "maxItems": 3,
				"items": map[string]any{"anyOf": titled("title", "value1", "First Choice", "value2", "Second Choice", "value3", "Third Choice")}},
		},
		"required": []string{},
	}
}

// sample asks the client's LLM to answer prompt. A client that cannot sample gets a tool error.
func sample(ctx context.Context, s *server.MCPServer, prompt string) *mcp.CallToolResult {
	if server.ClientSessionFromContext(ctx) == nil {
		return mcp.NewToolResultError(errNoSession.Error())
	}
	result, err := s.RequestSampling(ctx, mcp.CreateMessageRequest{
		Request: mcp.Request{Method: string(mcp.MethodSamplingCreateMessage)},
		CreateMessageParams: mcp.CreateMessageParams{
			Messages:  []mcp.SamplingMessage{{Role: mcp.RoleUser, Content: mcp.NewTextContent(prompt)}},
			MaxTokens: 100,
		},
	})
	if err != nil {
		return mcp.NewToolResultError("sampling failed: " + err.Error())
	}
	text := "No response"
	if c, ok := result.Content.(mcp.TextContent); ok {
		text = c.Text
	}
	return textResult("LLM response: " + text)
}

// elicit asks the client's user to fill in schema and reports the answer as "<label>:
// action=…, content=…". A client that cannot elicit gets a tool error.
func elicit(ctx context.Context, s *server.MCPServer, label, message string, schema map[string]any) *mcp.CallToolResult {
	if server.ClientSessionFromContext(ctx) == nil {
		return mcp.NewToolResultError(errNoSession.Error())
	}
	result, err := s.RequestElicitation(ctx, mcp.ElicitationRequest{
		Request: mcp.Request{Method: string(mcp.MethodElicitationCreate)},
		Params:  mcp.ElicitationParams{Message: message, RequestedSchema: schema},
	})
	if err != nil {
		return mcp.NewToolResultError("elicitation failed: " + err.Error())
	}
	content := result.Content
	if content == nil {
		content = map[string]any{}
	}
	b, err := json.Marshal(content)
	if err != nil {
		return mcp.NewToolResultError("elicitation answer: " + err.Error())
	}
	return textResult(fmt.Sprintf("%s: action=%s, content=%s", label, result.Action, b))
}

// sleep waits d, or until ctx ends; it reports whether the wait ran its course.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func fixtureResources() []server.ServerResource {
	static := func(contents mcp.ResourceContents) server.ResourceHandlerFunc {
		return func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{contents}, nil
		}
	}
	return []server.ServerResource{
		{Resource: mcp.NewResource(StaticTextURI, "static-text",
			mcp.WithResourceTitle("Static Text Resource"),
			mcp.WithResourceDescription("A static text resource for testing"), mcp.WithMIMEType("text/plain")),
			Handler: static(mcp.TextResourceContents{URI: StaticTextURI, MIMEType: "text/plain", Text: StaticText})},
		{Resource: mcp.NewResource(StaticBinaryURI, "static-binary",
			mcp.WithResourceTitle("Static Binary Resource"),
			mcp.WithResourceDescription("A static binary resource (image) for testing"), mcp.WithMIMEType("image/png")),
			Handler: static(mcp.BlobResourceContents{URI: StaticBinaryURI, MIMEType: "image/png", Blob: TestImagePNG})},
		{Resource: mcp.NewResource(WatchedResourceURI, "watched-resource",
			mcp.WithResourceTitle("Watched Resource"),
			mcp.WithResourceDescription("A resource clients may subscribe to (resources/subscribe)"), mcp.WithMIMEType("text/plain")),
			Handler: static(mcp.TextResourceContents{URI: WatchedResourceURI, MIMEType: "text/plain", Text: WatchedResourceText})},
	}
}

// readTemplate serves test://template/{id}/data with the id substituted.
func readTemplate(_ context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	id := templateID(req)
	text, err := json.Marshal(struct {
		ID           string `json:"id"`
		TemplateTest bool   `json:"templateTest"`
		Data         string `json:"data"`
	}{id, true, "Data for ID: " + id})
	if err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "application/json", Text: string(text)}}, nil
}

// templateID is the {id} that mcp-go matched in the template, or failing that the path segment.
func templateID(req mcp.ReadResourceRequest) string {
	switch v := req.Params.Arguments["id"].(type) {
	case string:
		return v
	case []string:
		if len(v) > 0 {
			return v[0]
		}
	}
	rest := strings.TrimPrefix(req.Params.URI, "test://template/")
	id, _, _ := strings.Cut(rest, "/")
	return id
}

func fixturePrompts() []server.ServerPrompt {
	return []server.ServerPrompt{
		{Prompt: mcp.NewPrompt("test_simple_prompt",
			mcp.WithPromptTitle("Simple Test Prompt"), mcp.WithPromptDescription("A simple prompt without arguments")),
			Handler: func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
					mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(SimplePromptText)),
				}}, nil
			}},
		{Prompt: mcp.NewPrompt("test_prompt_with_arguments",
			mcp.WithPromptTitle("Prompt With Arguments"), mcp.WithPromptDescription("A prompt with required arguments"),
			mcp.WithArgument("arg1", mcp.ArgumentDescription("First test argument"), mcp.RequiredArgument()),
			mcp.WithArgument("arg2", mcp.ArgumentDescription("Second test argument"), mcp.RequiredArgument())),
			Handler: func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				args := req.Params.Arguments
				text := fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", args["arg1"], args["arg2"])
				return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
					mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(text)),
				}}, nil
			}},
		{Prompt: mcp.NewPrompt("test_prompt_with_embedded_resource",
			mcp.WithPromptTitle("Prompt With Embedded Resource"), mcp.WithPromptDescription("A prompt that includes an embedded resource"),
			mcp.WithArgument("resourceUri", mcp.ArgumentDescription("URI of the resource to embed"), mcp.RequiredArgument())),
			Handler: func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				uri := req.Params.Arguments["resourceUri"]
				if uri == "" {
					return nil, fmt.Errorf("argument resourceUri is required")
				}
				return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
					mcp.NewPromptMessage(mcp.RoleUser, mcp.NewEmbeddedResource(mcp.TextResourceContents{
						URI: uri, MIMEType: "text/plain", Text: EmbeddedPromptText,
					})),
					mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("Please process the embedded resource above.")),
				}}, nil
			}},
		{Prompt: mcp.NewPrompt("test_prompt_with_image",
			mcp.WithPromptTitle("Prompt With Image"), mcp.WithPromptDescription("A prompt that includes image content")),
			Handler: func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
					mcp.NewPromptMessage(mcp.RoleUser, mcp.NewImageContent(TestImagePNG, "image/png")),
					mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("Please analyze the image above.")),
				}}, nil
			}},
	}
}

// completionValues are the candidates completion/complete offers for the arguments of
// test_prompt_with_arguments.
var completionValues = []string{"paris", "park", "party", "test", "testValue1", "testValue2"}

// promptCompletions completes the arguments of test_prompt_with_arguments by prefix; every other
// argument gets an empty list.
type promptCompletions struct{}

func (promptCompletions) CompletePromptArgument(_ context.Context, prompt string, arg mcp.CompleteArgument, _ mcp.CompleteContext) (*mcp.Completion, error) {
	values := []string{}
	if prompt == "test_prompt_with_arguments" && (arg.Name == "arg1" || arg.Name == "arg2") {
		for _, v := range completionValues {
			if strings.HasPrefix(v, arg.Value) {
				values = append(values, v)
			}
		}
	}
	return &mcp.Completion{Values: values, Total: len(values)}, nil
}

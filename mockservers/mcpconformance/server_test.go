package mcpconformance

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The protocol version the conformance framework's client (TypeScript SDK 1.32) speaks.
const frameworkProtocol = "2025-11-25"

// quietClient keeps mcp-go's client transport from logging to the test output.
var quietClient = transport.WithHTTPLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

func newFixture(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close(context.Background())
		ts.Close()
	})
	return srv, ts.URL
}

// answers is a client that answers the fixture's sampling and elicitation requests the way the
// framework's client does, and records them.
type answers struct {
	mu          sync.Mutex
	sampling    []mcp.CreateMessageRequest
	elicitation []mcp.ElicitationRequest
	content     map[string]any
}

func (a *answers) CreateMessage(_ context.Context, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	a.mu.Lock()
	a.sampling = append(a.sampling, req)
	a.mu.Unlock()
	return &mcp.CreateMessageResult{
		SamplingMessage: mcp.SamplingMessage{Role: mcp.RoleAssistant, Content: mcp.NewTextContent("This is a test response from the client")},
		Model:           "test-model",
		StopReason:      "endTurn",
	}, nil
}

func (a *answers) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	a.mu.Lock()
	a.elicitation = append(a.elicitation, req)
	a.mu.Unlock()
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action: mcp.ElicitationResponseActionAccept, Content: a.content,
	}}, nil
}

func (a *answers) lastElicitation(t *testing.T) mcp.ElicitationRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	require.NotEmpty(t, a.elicitation, "the fixture sent no elicitation/create")
	return a.elicitation[len(a.elicitation)-1]
}

// notes collects the notifications a client receives.
type notes struct {
	mu   sync.Mutex
	list []mcp.JSONRPCNotification
}

func (n *notes) add(m mcp.JSONRPCNotification) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.list = append(n.list, m)
}

func (n *notes) params(method string) []map[string]any {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []map[string]any
	for _, m := range n.list {
		if m.Method == method {
			out = append(out, m.Params.AdditionalFields)
		}
	}
	return out
}

// connect opens a session like the framework's client: initialize at 2025-11-25 with the
// sampling and elicitation capabilities, and a standalone GET stream.
func connect(t *testing.T, url string, a *answers) (*client.Client, *notes) {
	t.Helper()
	if a == nil {
		a = &answers{}
	}
	tr, err := transport.NewStreamableHTTP(url+EndpointPath, transport.WithContinuousListening(), quietClient)
	require.NoError(t, err)
	c := client.NewClient(tr, client.WithSamplingHandler(a), client.WithElicitationHandler(a))
	t.Cleanup(func() { _ = c.Close() })
	n := &notes{}
	c.OnNotification(n.add)
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))
	init, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: frameworkProtocol,
		ClientInfo:      mcp.Implementation{Name: "conformance-test-client", Version: "1.0.0"},
		Capabilities:    mcp.ClientCapabilities{Sampling: &mcp.SamplingCapability{}, Elicitation: &mcp.ElicitationCapability{}},
	}})
	require.NoError(t, err)
	require.Equal(t, frameworkProtocol, init.ProtocolVersion)
	require.NotEmpty(t, c.GetSessionId(), "the fixture is stateful: the SSE scenarios need a session ID")
	return c, n
}

func callTool(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	require.NoError(t, err)
	return res
}

func onlyText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	require.Len(t, res.Content, 1)
	text, ok := res.Content[0].(mcp.TextContent)
	require.True(t, ok, "content %#v", res.Content[0])
	return text.Text
}

func TestInitializeDeclaresWhatTheScenariosUse(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, _ := connect(t, url, nil)
	caps := c.GetServerCapabilities()
	assert.NotNil(t, caps.Tools)
	require.NotNil(t, caps.Resources)
	assert.True(t, caps.Resources.Subscribe)
	assert.NotNil(t, caps.Prompts)
	assert.NotNil(t, caps.Logging)
	assert.NotNil(t, caps.Completions)
	require.NoError(t, c.Ping(context.Background()))
}

func TestToolsList(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, _ := connect(t, url, nil)
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	require.NoError(t, err)

	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		assert.NotEmpty(t, tool.Description, tool.Name)
	}
	assert.ElementsMatch(t, ToolNames(), names)
	for _, want := range []string{"test_simple_text", "test_image_content", "test_audio_content", "test_embedded_resource",
		"test_multiple_content_types", "test_tool_with_logging", "test_error_handling", "test_tool_with_progress",
		"test_sampling", "test_elicitation", "test_elicitation_sep1034_defaults", "test_elicitation_sep1330_enums",
		"json_schema_2020_12_tool", "test_reconnection"} {
		assert.Contains(t, names, want)
	}

	// Every input schema is an object schema, and the SEP-1613 tool's keeps its 2020-12 keywords
	// (on the wire: mcp-go's client drops $schema and $defs when it decodes a tool).
	status, raw := post(t, url, c.GetSessionId(), `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`, nil)
	require.Equal(t, http.StatusOK, status, raw)
	var listed struct {
		Result struct {
			Tools []struct {
				Name        string         `json:"name"`
				InputSchema map[string]any `json:"inputSchema"`
			} `json:"tools"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &listed), raw)
	require.Len(t, listed.Result.Tools, len(names))
	for _, tool := range listed.Result.Tools {
		assert.Equal(t, "object", tool.InputSchema["type"], tool.Name)
		if tool.Name == "json_schema_2020_12_tool" {
			assert.Equal(t, JSONSchemaDialect, tool.InputSchema["$schema"])
			assert.Contains(t, tool.InputSchema["$defs"], "address")
			assert.Equal(t, false, tool.InputSchema["additionalProperties"])
		}
	}
}

func TestCallToolContent(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, _ := connect(t, url, nil)
	tests := []struct {
		tool    string
		args    map[string]any
		isError bool
		check   func(t *testing.T, content []mcp.Content)
	}{
		{tool: "test_simple_text", check: func(t *testing.T, content []mcp.Content) {
			require.Len(t, content, 1)
			assert.Equal(t, mcp.NewTextContent(SimpleText), content[0])
		}},
		{tool: "test_image_content", check: func(t *testing.T, content []mcp.Content) {
			require.Len(t, content, 1)
			assert.Equal(t, mcp.NewImageContent(TestImagePNG, "image/png"), content[0])
		}},
		{tool: "test_audio_content", check: func(t *testing.T, content []mcp.Content) {
			require.Len(t, content, 1)
			assert.Equal(t, mcp.NewAudioContent(TestAudioWAV, "audio/wav"), content[0])
		}},
		{tool: "test_embedded_resource", check: func(t *testing.T, content []mcp.Content) {
			require.Len(t, content, 1)
			res, ok := content[0].(mcp.EmbeddedResource)
			require.True(t, ok, "%#v", content[0])
			assert.Equal(t, mcp.TextResourceContents{URI: "test://embedded-resource", MIMEType: "text/plain",
				Text: "This is an embedded resource content."}, res.Resource)
		}},
		{tool: "test_multiple_content_types", check: func(t *testing.T, content []mcp.Content) {
			require.Len(t, content, 3)
			assert.IsType(t, mcp.TextContent{}, content[0])
			assert.IsType(t, mcp.ImageContent{}, content[1])
			res, ok := content[2].(mcp.EmbeddedResource)
			require.True(t, ok, "%#v", content[2])
			assert.Equal(t, "test://mixed-content-resource", res.Resource.(mcp.TextResourceContents).URI)
		}},
		{tool: "test_error_handling", isError: true, check: func(t *testing.T, content []mcp.Content) {
			require.Len(t, content, 1)
			assert.Equal(t, mcp.NewTextContent(ErrorText), content[0])
		}},
		{tool: "test_tool_with_progress", check: func(t *testing.T, content []mcp.Content) {
			assert.Equal(t, []mcp.Content{mcp.NewTextContent("no progressToken in the request: no progress reported")}, content)
		}},
		{tool: "json_schema_2020_12_tool", args: map[string]any{"name": "n", "address": map[string]any{"city": "c"}},
			check: func(t *testing.T, content []mcp.Content) {
				assert.Equal(t, []mcp.Content{mcp.NewTextContent(
					`JSON Schema 2020-12 tool called with: {"address":{"city":"c"},"name":"n"}`)}, content)
			}},
		{tool: "test_sampling", isError: true, check: func(t *testing.T, content []mcp.Content) {
			assert.Contains(t, content[0].(mcp.TextContent).Text, "prompt")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			res := callTool(t, c, tt.tool, tt.args)
			assert.Equal(t, tt.isError, res.IsError)
			tt.check(t, res.Content)
		})
	}
}

func TestCallUnknownToolIsAnError(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, _ := connect(t, url, nil)
	_, err := c.CallTool(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "test_nope"}})
	require.Error(t, err)
}

// The logging and progress scenarios count the notifications a call produced; mcp-go may send
// them on the POST stream or the GET stream.
func TestToolNotifications(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, n := connect(t, url, nil)
	ctx := context.Background()

	require.NoError(t, c.SetLevel(ctx, mcp.SetLevelRequest{Params: mcp.SetLevelParams{Level: mcp.LoggingLevelDebug}}))
	assert.Equal(t, []mcp.Content{mcp.NewTextContent("Tool with logging executed successfully")},
		callTool(t, c, "test_tool_with_logging", nil).Content)
	var logs []any
	require.Eventually(t, func() bool {
		logs = logs[:0]
		for _, p := range n.params(string(mcp.MethodNotificationMessage)) {
			assert.Equal(t, "info", p["level"])
			assert.Equal(t, LoggerName, p["logger"])
			logs = append(logs, p["data"])
		}
		return len(logs) >= 3
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, []any{"Tool execution started", "Tool processing data", "Tool execution completed"}, logs)

	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{
		Name: "test_tool_with_progress", Meta: &mcp.Meta{ProgressToken: "progress-test-1"},
	}})
	require.NoError(t, err)
	assert.Equal(t, "progress-test-1", onlyText(t, res))
	var progress []any
	require.Eventually(t, func() bool {
		progress = progress[:0]
		for _, p := range n.params(string(mcp.MethodNotificationProgress)) {
			assert.Equal(t, "progress-test-1", p["progressToken"])
			assert.EqualValues(t, 100, p["total"])
			progress = append(progress, p["progress"])
		}
		return len(progress) >= 3
	}, 5*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, []any{0.0, 50.0, 100.0}, progress)
}

func TestLoggingLevelFilters(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, n := connect(t, url, nil)
	require.NoError(t, c.SetLevel(context.Background(), mcp.SetLevelRequest{Params: mcp.SetLevelParams{Level: mcp.LoggingLevelError}}))
	callTool(t, c, "test_tool_with_logging", nil)
	time.Sleep(100 * time.Millisecond)
	assert.Empty(t, n.params(string(mcp.MethodNotificationMessage)), "info messages are below the error level")
}

func TestSampling(t *testing.T) {
	_, url := newFixture(t, Config{})
	a := &answers{}
	c, _ := connect(t, url, a)
	res := callTool(t, c, "test_sampling", map[string]any{"prompt": "Test prompt for sampling"})
	require.False(t, res.IsError, "%v", res.Content)
	assert.Equal(t, "LLM response: This is a test response from the client", onlyText(t, res))

	a.mu.Lock()
	defer a.mu.Unlock()
	require.Len(t, a.sampling, 1)
	req := a.sampling[0]
	assert.Equal(t, 100, req.MaxTokens)
	require.Len(t, req.Messages, 1)
	assert.Equal(t, mcp.RoleUser, req.Messages[0].Role)
	assert.Equal(t, mcp.NewTextContent("Test prompt for sampling"), req.Messages[0].Content)
}

func TestElicitation(t *testing.T) {
	tests := []struct {
		tool     string
		args     map[string]any
		content  map[string]any
		wantText string
		// schema checks the requested schema's properties.
		schema func(t *testing.T, props map[string]any)
	}{
		{
			tool: "test_elicitation", args: map[string]any{"message": "Please provide your information"},
			content:  map[string]any{"username": "testuser", "email": "test@example.com"},
			wantText: `User response: action=accept, content={"email":"test@example.com","username":"testuser"}`,
			schema: func(t *testing.T, props map[string]any) {
				assert.Equal(t, map[string]any{"type": "string", "description": "User's email address"}, props["email"])
				assert.Contains(t, props, "username")
			},
		},
		{
			tool: "test_elicitation_sep1034_defaults", content: map[string]any{"name": "Jane Smith"},
			wantText: `Elicitation completed: action=accept, content={"name":"Jane Smith"}`,
			schema: func(t *testing.T, props map[string]any) {
				for field, want := range map[string][2]any{
					"name": {"string", "John Doe"}, "age": {"integer", 30.0}, "score": {"number", 95.5},
					"status": {"string", "active"}, "verified": {"boolean", true},
				} {
					p := props[field].(map[string]any)
					assert.Equal(t, want[0], p["type"], field)
					assert.Equal(t, want[1], p["default"], field)
				}
				assert.Equal(t, []any{"active", "inactive", "pending"}, props["status"].(map[string]any)["enum"])
			},
		},
		{
			tool: "test_elicitation_sep1330_enums", content: map[string]any{"untitledSingle": "option1"},
			wantText: `Elicitation completed: action=accept, content={"untitledSingle":"option1"}`,
			schema: func(t *testing.T, props map[string]any) {
				get := func(k string) map[string]any { return props[k].(map[string]any) }
				assert.Contains(t, get("untitledSingle"), "enum")
				assert.NotContains(t, get("untitledSingle"), "oneOf")
				assert.NotContains(t, get("titledSingle"), "enum")
				assert.Equal(t, map[string]any{"const": "value1", "title": "First Option"}, get("titledSingle")["oneOf"].([]any)[0])
				assert.Len(t, get("legacyEnum")["enumNames"], 3)
				assert.Equal(t, "array", get("untitledMulti")["type"])
				assert.Equal(t, "string", get("untitledMulti")["items"].(map[string]any)["type"])
				items := get("titledMulti")["items"].(map[string]any)
				assert.NotContains(t, items, "enum")
				assert.Equal(t, map[string]any{"const": "value1", "title": "First Choice"}, items["anyOf"].([]any)[0])
			},
		},
	}
	_, url := newFixture(t, Config{})
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			a := &answers{content: tt.content}
			c, _ := connect(t, url, a)
			res := callTool(t, c, tt.tool, tt.args)
			require.False(t, res.IsError, "%v", res.Content)
			assert.Equal(t, tt.wantText, onlyText(t, res))

			req := a.lastElicitation(t)
			if msg, ok := tt.args["message"]; ok {
				assert.Equal(t, msg, req.Params.Message)
			}
			raw, err := json.Marshal(req.Params.RequestedSchema)
			require.NoError(t, err)
			var schema struct {
				Type       string         `json:"type"`
				Properties map[string]any `json:"properties"`
			}
			require.NoError(t, json.Unmarshal(raw, &schema))
			assert.Equal(t, "object", schema.Type)
			tt.schema(t, schema.Properties)
		})
	}
}

// A client without the elicitation capability gets a tool error, not a hang.
func TestElicitationWithoutCapabilityIsAToolError(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, err := client.NewStreamableHttpClient(url+EndpointPath, quietClient)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))
	_, err = c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: frameworkProtocol}})
	require.NoError(t, err)
	res := callTool(t, c, "test_elicitation", map[string]any{"message": "hi"})
	assert.True(t, res.IsError, "%v", res.Content)
}

func TestResources(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, _ := connect(t, url, nil)
	ctx := context.Background()

	list, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
	require.NoError(t, err)
	var uris []string
	for _, r := range list.Resources {
		uris = append(uris, r.URI)
		assert.NotEmpty(t, r.Name, r.URI)
		assert.NotEmpty(t, r.Description, r.URI)
	}
	assert.ElementsMatch(t, []string{StaticTextURI, StaticBinaryURI, WatchedResourceURI}, uris)

	templates, err := c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
	require.NoError(t, err)
	require.Len(t, templates.ResourceTemplates, 1)
	assert.Equal(t, TemplateURI, templates.ResourceTemplates[0].URITemplate.Raw())

	tests := []struct {
		uri  string
		want mcp.ResourceContents
	}{
		{StaticTextURI, mcp.TextResourceContents{URI: StaticTextURI, MIMEType: "text/plain", Text: StaticText}},
		{StaticBinaryURI, mcp.BlobResourceContents{URI: StaticBinaryURI, MIMEType: "image/png", Blob: TestImagePNG}},
		{WatchedResourceURI, mcp.TextResourceContents{URI: WatchedResourceURI, MIMEType: "text/plain", Text: WatchedResourceText}},
		{"test://template/123/data", mcp.TextResourceContents{URI: "test://template/123/data", MIMEType: "application/json",
			Text: `{"id":"123","templateTest":true,"data":"Data for ID: 123"}`}},
		{"test://template/abc/data", mcp.TextResourceContents{URI: "test://template/abc/data", MIMEType: "application/json",
			Text: `{"id":"abc","templateTest":true,"data":"Data for ID: abc"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			res, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: tt.uri}})
			require.NoError(t, err)
			assert.Equal(t, []mcp.ResourceContents{tt.want}, res.Contents)
		})
	}

	_, err = c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "test://nope"}})
	assert.Error(t, err)
}

// resources/subscribe and unsubscribe answer {} (the client library hides the body, so post them
// raw).
func TestSubscribeAndUnsubscribeAnswerEmptyObjects(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, _ := connect(t, url, nil)
	for i, method := range []string{"resources/subscribe", "resources/unsubscribe"} {
		body := `{"jsonrpc":"2.0","id":` + string(rune('7'+i)) + `,"method":"` + method + `","params":{"uri":"` + WatchedResourceURI + `"}}`
		status, got := post(t, url, c.GetSessionId(), body, nil)
		require.Equal(t, http.StatusOK, status, got)
		var msg struct {
			Result map[string]any `json:"result"`
			Error  any            `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(got), &msg), got)
		assert.Nil(t, msg.Error)
		assert.Equal(t, map[string]any{}, msg.Result, method)
	}
}

func TestPrompts(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, _ := connect(t, url, nil)
	ctx := context.Background()

	list, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{})
	require.NoError(t, err)
	var names []string
	for _, p := range list.Prompts {
		names = append(names, p.Name)
		assert.NotEmpty(t, p.Description, p.Name)
	}
	assert.ElementsMatch(t, []string{"test_simple_prompt", "test_prompt_with_arguments",
		"test_prompt_with_embedded_resource", "test_prompt_with_image"}, names)

	tests := []struct {
		name string
		args map[string]string
		want []mcp.PromptMessage
	}{
		{name: "test_simple_prompt", want: []mcp.PromptMessage{{Role: mcp.RoleUser, Content: mcp.NewTextContent(SimplePromptText)}}},
		{name: "test_prompt_with_arguments", args: map[string]string{"arg1": "testValue1", "arg2": "testValue2"},
			want: []mcp.PromptMessage{{Role: mcp.RoleUser,
				Content: mcp.NewTextContent("Prompt with arguments: arg1='testValue1', arg2='testValue2'")}}},
		{name: "test_prompt_with_embedded_resource", args: map[string]string{"resourceUri": "test://example-resource"},
			want: []mcp.PromptMessage{
				{Role: mcp.RoleUser, Content: mcp.NewEmbeddedResource(mcp.TextResourceContents{
					URI: "test://example-resource", MIMEType: "text/plain", Text: EmbeddedPromptText})},
				{Role: mcp.RoleUser, Content: mcp.NewTextContent("Please process the embedded resource above.")},
			}},
		{name: "test_prompt_with_image", want: []mcp.PromptMessage{
			{Role: mcp.RoleUser, Content: mcp.NewImageContent(TestImagePNG, "image/png")},
			{Role: mcp.RoleUser, Content: mcp.NewTextContent("Please analyze the image above.")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.GetPrompt(ctx, mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: tt.name, Arguments: tt.args}})
			require.NoError(t, err)
			assert.Equal(t, tt.want, res.Messages)
		})
	}
}

func TestCompletion(t *testing.T) {
	_, url := newFixture(t, Config{})
	c, _ := connect(t, url, nil)
	tests := []struct {
		prompt, arg, value string
		want               []string
	}{
		{"test_prompt_with_arguments", "arg1", "pa", []string{"paris", "park", "party"}},
		{"test_prompt_with_arguments", "arg2", "test", []string{"test", "testValue1", "testValue2"}},
		{"test_prompt_with_arguments", "arg1", "zzz", []string{}},
		{"test_simple_prompt", "arg1", "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.prompt+"/"+tt.arg+"="+tt.value, func(t *testing.T) {
			res, err := c.Complete(context.Background(), mcp.CompleteRequest{Params: mcp.CompleteParams{
				Ref:      mcp.PromptReference{Type: "ref/prompt", Name: tt.prompt},
				Argument: mcp.CompleteArgument{Name: tt.arg, Value: tt.value},
			}})
			require.NoError(t, err)
			assert.Equal(t, tt.want, res.Completion.Values)
		})
	}
}

// post sends one JSON-RPC message to the fixture and returns the status and body.
func post(t *testing.T, url, session, body string, edit func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+EndpointPath, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", frameworkProtocol)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",` +
	`"capabilities":{},"clientInfo":{"name":"conformance-dns-rebinding-test","version":"1.0.0"}}}`

// The dns-rebinding-protection scenario sends Host and Origin together; each is checked alone.
func TestHostAndOriginGuard(t *testing.T) {
	_, url := newFixture(t, Config{AllowedHosts: []string{"mcp.internal", "gw.internal:8443"}})
	port := url[strings.LastIndex(url, ":")+1:]
	tests := []struct {
		name, host, origin string
		want               int
	}{
		{name: "loopback address", host: "127.0.0.1:" + port, origin: "http://127.0.0.1:" + port, want: http.StatusOK},
		{name: "localhost", host: "localhost:" + port, origin: "http://localhost:" + port, want: http.StatusOK},
		{name: "ipv6 loopback", host: "[::1]:" + port, want: http.StatusOK},
		{name: "no origin", host: "127.0.0.1:" + port, want: http.StatusOK},
		{name: "rebinding", host: "evil.example.com", origin: "http://evil.example.com", want: http.StatusForbidden},
		{name: "foreign host", host: "evil.example.com:" + port, want: http.StatusForbidden},
		{name: "foreign origin", host: "127.0.0.1:" + port, origin: "http://evil.example.com", want: http.StatusForbidden},
		{name: "null origin", host: "127.0.0.1:" + port, origin: "null", want: http.StatusForbidden},
		{name: "allowed host any port", host: "mcp.internal:9000", origin: "https://mcp.internal", want: http.StatusOK},
		{name: "allowed host and port", host: "gw.internal:8443", want: http.StatusOK},
		{name: "allowed host, other port", host: "gw.internal:9000", want: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, url, "", initializeBody, func(r *http.Request) {
				r.Host = tt.host
				if tt.origin != "" {
					r.Header.Set("Origin", tt.origin)
				}
			})
			assert.Equal(t, tt.want, status, body)
			if tt.want == http.StatusForbidden {
				assert.Contains(t, body, `"code":-32000`)
			} else {
				assert.Contains(t, body, `"protocolVersion":"2025-11-25"`)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "empty allowed host", cfg: Config{AllowedHosts: []string{""}}, wantErr: "allowed host"},
		{name: "URL as allowed host", cfg: Config{AllowedHosts: []string{"http://x/"}}, wantErr: "allowed host"},
		{name: "negative TTL", cfg: Config{SessionIdleTTL: -time.Second}, wantErr: "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestJournalRecordsCalls(t *testing.T) {
	srv, url := newFixture(t, Config{})
	c, _ := connect(t, url, nil)
	callTool(t, c, "test_simple_text", nil)
	_, err := c.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: StaticTextURI}})
	require.NoError(t, err)

	var got [][3]string
	for _, e := range srv.Journal().Entries() {
		if e.MCPMethod != "" {
			got = append(got, [3]string{e.MCPMethod, e.Tool, e.Resource})
		}
	}
	assert.Subset(t, got, [][3]string{
		{"initialize", "", ""}, {"tools/call", "test_simple_text", ""}, {"resources/read", "", StaticTextURI},
	})
}

// Close ends the sessions' GET streams, so that a server shutdown is not held up by them.
func TestCloseEndsGetStreams(t *testing.T) {
	srv, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c, _ := connect(t, ts.URL, nil)
	require.NoError(t, c.Ping(context.Background()))
	require.Eventually(t, func() bool {
		for _, e := range srv.Journal().Entries() {
			if e.HTTPMethod == http.MethodGet {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "the client opened its GET stream")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ts.Config.Shutdown(ctx) }()
	for {
		srv.Close(ctx)
		select {
		case err := <-done:
			require.NoError(t, err)
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

package llm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

// capDenial is the policy output a gateway returns for a tier-1 refund over
// the cap (CONTRACTS.md "Policy output on deny").
const capDenial = `{"decision":"deny","reason":"tier-1-support refund cap exceeded","code":"refund_cap_exceeded","remediation":{"type":"step_up","approvers_role":"tier-2-lead"}}`

// demoEnv is the mock LLM and three MCP servers, with a scripted agent loop
// in between that plays the gateway's refund cap.
type demoEnv struct {
	llm     openai.Client
	servers map[mcpserver.Name]*mcpserver.Server
	clients map[string]*mcpclient.Client // tool name -> client of its server
	tools   []openai.ChatCompletionToolUnionParam
}

func newDemoEnv(t *testing.T) *demoEnv {
	t.Helper()
	_, hs := startLLM(t)
	env := &demoEnv{
		llm:     openAIClient(hs, providerKey),
		servers: map[mcpserver.Name]*mcpserver.Server{},
		clients: map[string]*mcpclient.Client{},
	}
	ctx := context.Background()
	for _, name := range []mcpserver.Name{mcpserver.Tickets, mcpserver.CRM, mcpserver.Payments} {
		s, err := mcpserver.New(mcpserver.Config{Name: name})
		require.NoError(t, err)
		ms := httptest.NewServer(s)
		t.Cleanup(ms.Close)
		env.servers[name] = s

		c, err := mcpclient.NewStreamableHttpClient(ms.URL + mcpserver.EndpointPath)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		require.NoError(t, c.Start(ctx))
		_, err = c.Initialize(ctx, mcp.InitializeRequest{})
		require.NoError(t, err)
		listed, err := c.ListTools(ctx, mcp.ListToolsRequest{})
		require.NoError(t, err)
		for _, tool := range listed.Tools {
			schema, err := json.Marshal(tool.InputSchema)
			require.NoError(t, err)
			var params shared.FunctionParameters
			require.NoError(t, json.Unmarshal(schema, &params))
			env.tools = append(env.tools, openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
				Name: tool.Name, Description: openai.String(tool.Description), Parameters: params,
			}))
			env.clients[tool.Name] = c
		}
	}
	return env
}

// work runs the agent loop on a ticket and returns the final answer and the
// tools called, in order. Refunds above capCents get the policy denial as
// their tool result and never reach payments, as behind the gateway.
func (env *demoEnv) work(t *testing.T, ticketID string, capCents int64) (string, []string) {
	t.Helper()
	ctx := context.Background()
	messages := []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("You are a tier-1 support agent."),
		openai.UserMessage("Work ticket " + ticketID),
	}
	var called []string
	for range 10 {
		resp, err := env.llm.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "gpt-4o", Messages: messages, Tools: env.tools,
		})
		require.NoError(t, err)
		msg := resp.Choices[0].Message
		if len(msg.ToolCalls) == 0 {
			return msg.Content, called
		}
		messages = append(messages, msg.ToParam())
		for _, call := range msg.ToolCalls {
			called = append(called, call.Function.Name)
			messages = append(messages, openai.ToolMessage(env.callTool(t, call.Function.Name, call.Function.Arguments, capCents), call.ID))
		}
	}
	t.Fatal("the conversation did not end")
	return "", nil
}

func (env *demoEnv) callTool(t *testing.T, name, arguments string, capCents int64) string {
	var args map[string]any
	require.NoError(t, json.Unmarshal([]byte(arguments), &args))
	if amount, _ := args["amount_cents"].(float64); name == "refund_issue" && int64(amount) > capCents {
		return "denied: tier-1-support refund cap exceeded " + capDenial
	}
	c, ok := env.clients[name]
	require.True(t, ok, "the model called %q, which was not offered", name)
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(context.Background(), req)
	require.NoError(t, err)
	var texts []string
	for _, content := range res.Content {
		if text, ok := mcp.AsTextContent(content); ok {
			texts = append(texts, text.Text)
		}
	}
	return strings.Join(texts, "\n")
}

func (env *demoEnv) toolCallsReaching(name mcpserver.Name) []string {
	var tools []string
	for _, e := range env.servers[name].Journal().Entries() {
		if e.MCPMethod == "tools/call" {
			tools = append(tools, e.Tool)
		}
	}
	return tools
}

func TestScenarioRefundOverCapIsEscalated(t *testing.T) {
	env := newDemoEnv(t)
	final, called := env.work(t, "T-1001", 5000)

	assert.Equal(t, []string{"get_ticket", "get_customer", "refund_issue", "update_ticket"}, called)
	assert.Empty(t, env.toolCallsReaching(mcpserver.Payments), "the denied refund never reached payments")
	assert.Empty(t, env.servers[mcpserver.Payments].Store().Refunds())

	ticket, err := env.servers[mcpserver.Tickets].Store().Ticket("T-1001")
	require.NoError(t, err)
	assert.Equal(t, mcpserver.StatusEscalated, ticket.Status)
	require.Len(t, ticket.Comments, 1)
	assert.Contains(t, ticket.Comments[0].Body, "$9,000.00")
	assert.Contains(t, ticket.Comments[0].Body, "tier-2 approval")
	assert.Contains(t, final, "escalated the ticket for tier-2 approval")
	assert.Contains(t, final, "refund_cap_exceeded")
}

func TestScenarioRefundUnderCapIsIssued(t *testing.T) {
	env := newDemoEnv(t)
	final, called := env.work(t, "T-1002", 5000)

	assert.Equal(t, []string{"get_ticket", "get_customer", "refund_issue", "update_ticket"}, called)
	assert.Equal(t, []string{"refund_issue"}, env.toolCallsReaching(mcpserver.Payments))
	refunds := env.servers[mcpserver.Payments].Store().Refunds()
	require.Len(t, refunds, 1)
	assert.EqualValues(t, 4000, refunds[0].AmountCents)

	ticket, err := env.servers[mcpserver.Tickets].Store().Ticket("T-1002")
	require.NoError(t, err)
	assert.Equal(t, mcpserver.StatusResolved, ticket.Status)
	assert.Contains(t, final, fmt.Sprintf("refund %s", refunds[0].ID))
}

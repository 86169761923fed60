package mcpserver_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/mockservers/mcpserver"
)

func TestKnowledgeServesEveryDocument(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		_, hs := startServer(t, mcpserver.Knowledge)
		c := connect(t, hs.URL, legacy, nil)
		ctx := context.Background()

		listed, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
		require.NoError(t, err)
		var uris []string
		for _, r := range listed.Resources {
			uris = append(uris, r.URI)
		}
		assert.ElementsMatch(t, []string{mcpserver.RefundPolicyURI, mcpserver.EscalationURI, mcpserver.SalaryTableURI}, uris)

		for _, d := range mcpserver.KnowledgeDocuments() {
			req := mcp.ReadResourceRequest{}
			req.Params.URI = d.URI
			res, err := c.ReadResource(ctx, req)
			require.NoError(t, err, d.URI)
			require.Len(t, res.Contents, 1)
			text, ok := res.Contents[0].(mcp.TextResourceContents)
			require.True(t, ok, "%s is text", d.URI)
			assert.Equal(t, d.Text, text.Text)
			assert.Equal(t, d.MIMEType, text.MIMEType)
		}

		req := mcp.ReadResourceRequest{}
		req.Params.URI = "kb://policies/nothing"
		_, err = c.ReadResource(ctx, req)
		assert.Error(t, err, "a document that does not exist is a protocol error")
	}
}

func TestKnowledgePrompts(t *testing.T) {
	tests := []struct {
		prompt  string
		args    map[string]string
		wantErr bool
	}{
		{mcpserver.TriageSummaryPrompt, map[string]string{"ticket_id": "T-1001"}, false},
		{mcpserver.TriageSummaryPrompt, map[string]string{"ticket_id": "T-1001; drop"}, true},
		{mcpserver.TriageSummaryPrompt, nil, true},
		{mcpserver.CompensationLetterPrompt, map[string]string{"employee_id": "E-001"}, false},
		{mcpserver.CompensationLetterPrompt, map[string]string{"employee_id": "T-1001"}, true},
	}
	_, hs := startServer(t, mcpserver.Knowledge)
	c := connect(t, hs.URL, false, nil)
	for _, tt := range tests {
		req := mcp.GetPromptRequest{}
		req.Params.Name, req.Params.Arguments = tt.prompt, tt.args
		res, err := c.GetPrompt(context.Background(), req)
		if tt.wantErr {
			assert.Error(t, err, "%s %v", tt.prompt, tt.args)
			continue
		}
		require.NoError(t, err, "%s %v", tt.prompt, tt.args)
		require.NotEmpty(t, res.Messages)
	}
}

func TestKnowledgeJournalNamesResourceAndPrompt(t *testing.T) {
	_, hs := startServer(t, mcpserver.Knowledge)
	c := connect(t, hs.URL, false, nil)
	ctx := context.Background()
	read := mcp.ReadResourceRequest{}
	read.Params.URI = mcpserver.SalaryTableURI
	_, err := c.ReadResource(ctx, read)
	require.NoError(t, err)
	get := mcp.GetPromptRequest{}
	get.Params.Name, get.Params.Arguments = mcpserver.TriageSummaryPrompt, map[string]string{"ticket_id": "T-2001"}
	_, err = c.GetPrompt(ctx, get)
	require.NoError(t, err)
	search := callTool(t, c, "search_articles", map[string]any{"query": "refund"})
	var found mcpserver.ArticleList
	require.NoError(t, json.Unmarshal([]byte(resultText(t, search)), &found))
	assert.Equal(t, []string{mcpserver.RefundPolicyURI}, found.URIs)

	entries, err := journal.NewClient(hs.URL, hs.Client()).Entries(ctx)
	require.NoError(t, err)
	got := map[string]string{}
	for _, e := range entries {
		switch e.MCPMethod {
		case "resources/read":
			got[e.MCPMethod] = e.Resource
		case "prompts/get":
			got[e.MCPMethod] = e.Prompt
		}
	}
	assert.Equal(t, map[string]string{"resources/read": mcpserver.SalaryTableURI, "prompts/get": mcpserver.TriageSummaryPrompt}, got)
}

type answeringClient struct{}

func (answeringClient) Elicit(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"approve": true}}}, nil
}

func (answeringClient) CreateMessage(context.Context, mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	return &mcp.CreateMessageResult{SamplingMessage: mcp.SamplingMessage{Role: mcp.RoleAssistant, Content: mcp.NewTextContent("We are on it.")}, Model: "gpt-4o-mini"}, nil
}

// TestKnowledgeToolsAskTheClient: the tools ask the client mid-call with 2026-07-28's multi
// round-trip requests. (mcp-go's older server-initiated requests over streamable HTTP are not
// exercised here: its client does not answer them without a standalone event stream.)
func TestKnowledgeToolsAskTheClient(t *testing.T) {
	_, hs := startServer(t, mcpserver.Knowledge)
	opts := []client.ClientOption{client.WithElicitationHandler(answeringClient{}), client.WithSamplingHandler(answeringClient{})}
	tr, err := transport.NewStreamableHTTP(hs.URL + mcpserver.EndpointPath)
	require.NoError(t, err)
	c := client.NewClient(tr, opts...)
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() { _ = c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "hopguard-test", Version: "0"}
	_, err = c.Initialize(ctx, init)
	require.NoError(t, err)

	confirmed := callTool(t, c, mcpserver.ConfirmEscalationTool, map[string]any{"ticket_id": "T-2001"})
	assert.Equal(t, "escalation of T-2001 confirmed", resultText(t, confirmed))
	drafted := callTool(t, c, mcpserver.DraftReplyTool, map[string]any{"ticket_id": "T-2001"})
	assert.Equal(t, "draft for T-2001: We are on it.", resultText(t, drafted))
}

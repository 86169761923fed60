package mcpserver_test

import (
	"context"
	"encoding/json"
	"testing"

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

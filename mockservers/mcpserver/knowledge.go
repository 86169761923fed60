package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Document is one resource of the knowledge base.
type Document struct {
	URI      string
	Name     string
	MIMEType string
	Text     string
}

// The knowledge base's documents: support's own policies, which every support principal may
// read, and HR's salary table, which no support agent may (policies/ decides; the mock serves
// whatever reaches it).
const (
	RefundPolicyURI = "kb://policies/refunds"
	EscalationURI   = "kb://policies/escalation"
	SalaryTableURI  = "kb://hr/salaries"
)

// The knowledge base's prompts.
const (
	TriageSummaryPrompt      = "triage_summary"
	CompensationLetterPrompt = "compensation_letter"
)

// KnowledgeDocuments are the documents the knowledge server holds, in a stable order.
func KnowledgeDocuments() []Document {
	return []Document{
		{URI: RefundPolicyURI, Name: "Refund policy", MIMEType: "text/markdown", Text: "# Refunds\n\n" +
			"- Tier-1 support may refund up to $50 per order.\n" +
			"- Tier-2 leads may refund up to $500 per order.\n" +
			"- Anything larger is escalated to a tier-2 lead with the customer told on the ticket.\n"},
		{URI: EscalationURI, Name: "Escalation guide", MIMEType: "text/markdown", Text: "# Escalation\n\n" +
			"Set the ticket to escalated, say why in a comment, and name what the customer asked for.\n"},
		{URI: SalaryTableURI, Name: "Salary table", MIMEType: "text/csv", Text: "employee_id,name,salary_usd\n" +
			"E-001,Ana Lopez,98000\nE-002,Ben Okafor,112000\nE-003,Chen Wei,87000\n"},
	}
}

// knowledgeResources serves every document as it is: what an agent may read is decided before a
// request reaches here.
func knowledgeResources() []server.ServerResource {
	var out []server.ServerResource
	for _, d := range KnowledgeDocuments() {
		out = append(out, server.ServerResource{
			Resource: mcp.NewResource(d.URI, d.Name, mcp.WithMIMEType(d.MIMEType)),
			Handler: func(_ context.Context, _ mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
				return []mcp.ResourceContents{mcp.TextResourceContents{URI: d.URI, MIMEType: d.MIMEType, Text: d.Text}}, nil
			},
		})
	}
	return out
}

func knowledgePrompts() []server.ServerPrompt {
	return []server.ServerPrompt{
		{
			Prompt: mcp.NewPrompt(TriageSummaryPrompt,
				mcp.WithPromptDescription("Summarise a ticket for triage: what the customer asks, and who should act."),
				mcp.WithArgument("ticket_id", mcp.ArgumentDescription("Ticket id, e.g. T-1001"), mcp.RequiredArgument()),
			),
			Handler: func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				ticket := req.Params.Arguments["ticket_id"]
				if !ticketIDPattern.MatchString(ticket) {
					return nil, fmt.Errorf("ticket_id %q is not a ticket id (T-1234)", ticket)
				}
				return mcp.NewGetPromptResult("Triage summary for "+ticket, []mcp.PromptMessage{
					mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("Read ticket "+ticket+" and its customer's orders. "+
						"Say in three lines what the customer asks, what our refund policy ("+RefundPolicyURI+") allows, and who should act.")),
				}), nil
			},
		},
		{
			Prompt: mcp.NewPrompt(CompensationLetterPrompt,
				mcp.WithPromptDescription("Draft a letter telling an employee their new salary."),
				mcp.WithArgument("employee_id", mcp.ArgumentDescription("Employee id, e.g. E-001"), mcp.RequiredArgument()),
			),
			Handler: func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				employee := req.Params.Arguments["employee_id"]
				if !employeeIDPattern.MatchString(employee) {
					return nil, fmt.Errorf("employee_id %q is not an employee id (E-001)", employee)
				}
				return mcp.NewGetPromptResult("Compensation letter for "+employee, []mcp.PromptMessage{
					mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("Using "+SalaryTableURI+", draft a letter to "+employee+" stating their salary.")),
				}), nil
			},
		},
	}
}

type searchArgs struct {
	Query string `json:"query"`
}

// ArticleList is the result of search_articles.
type ArticleList struct {
	URIs []string `json:"uris"`
}

// The knowledge server's tools that ask the client for something mid-call: a confirmation
// (elicitation) and a draft from the client's model (sampling). Each is written once as a multi
// round-trip request (protocol 2026-07-28); mcp-go sends older clients the server-initiated
// request instead.
const (
	ConfirmEscalationTool = "confirm_escalation"
	DraftReplyTool        = "draft_reply"
)

// knowledgeTools: a search, so that the knowledge server is an MCP server like the others to an
// agent that knows only tools, and the two tools that ask the client.
func knowledgeTools() []server.ServerTool {
	return []server.ServerTool{askingTool(ConfirmEscalationTool), askingTool(DraftReplyTool), {
		Tool: mcp.NewTool("search_articles",
			mcp.WithDescription("Find the knowledge base's documents whose name or text holds a word."),
			mcp.WithString("query", mcp.Required(), mcp.Description("A word to look for"), mcp.MinLength(1), mcp.MaxLength(100)),
			mcp.WithReadOnlyHintAnnotation(true),
		),
		Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args searchArgs) (ArticleList, error) {
			query := strings.ToLower(strings.TrimSpace(args.Query))
			if query == "" {
				return ArticleList{}, fmt.Errorf("query must not be empty")
			}
			found := ArticleList{URIs: []string{}}
			for _, d := range KnowledgeDocuments() {
				if strings.Contains(strings.ToLower(d.Name+"\n"+d.Text), query) {
					found.URIs = append(found.URIs, d.URI)
				}
			}
			slices.Sort(found.URIs)
			return found, nil
		}),
	}}
}

// askingTool is a tool that needs the client's answer before it completes.
func askingTool(name string) server.ServerTool {
	tool := mcp.NewTool(name, mcp.WithString("ticket_id", mcp.Required(), mcp.Description("Ticket id, e.g. T-1001"),
		mcp.Pattern(ticketIDPattern.String())))
	const key = "answer"
	switch name {
	case ConfirmEscalationTool:
		tool.Description = "Escalate a ticket to a tier-2 lead once the person behind the agent confirms (elicitation)."
		return server.ServerTool{Tool: tool, Handler: func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			ticket := req.GetString("ticket_id", "")
			if !ticketIDPattern.MatchString(ticket) {
				return mcp.NewToolResultError("ticket_id must be a ticket id (T-1234)"), nil
			}
			if answer := server.ElicitationResponse(req.Params.InputResponses, key); answer != nil {
				content, _ := answer.Content.(map[string]any)
				if approved, _ := content["approve"].(bool); answer.Action != mcp.ElicitationResponseActionAccept || !approved {
					return mcp.NewToolResultText("escalation of " + ticket + " not confirmed"), nil
				}
				return mcp.NewToolResultText("escalation of " + ticket + " confirmed"), nil
			}
			return server.NewInputRequestBuilder(ticket).Elicit(key, mcp.ElicitationParams{
				Mode:    mcp.ElicitationModeForm,
				Message: "Escalate " + ticket + " to a tier-2 lead?",
				RequestedSchema: map[string]any{
					"type":       "object",
					"properties": map[string]any{"approve": map[string]any{"type": "boolean"}},
					"required":   []string{"approve"},
				},
			}).ToolResult(), nil
		}}
	default:
		tool.Description = "Draft a reply to a ticket's customer with the client's own model (sampling)."
		return server.ServerTool{Tool: tool, Handler: func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			ticket := req.GetString("ticket_id", "")
			if !ticketIDPattern.MatchString(ticket) {
				return mcp.NewToolResultError("ticket_id must be a ticket id (T-1234)"), nil
			}
			if answer := server.SamplingResponse(req.Params.InputResponses, key); answer != nil {
				text, ok := samplingText(answer.Content)
				if !ok {
					return mcp.NewToolResultError("the client's model answered no text"), nil
				}
				return mcp.NewToolResultText("draft for " + ticket + ": " + text), nil
			}
			return server.NewInputRequestBuilder(ticket).Sample(key, mcp.CreateMessageParams{
				Messages:  []mcp.SamplingMessage{{Role: mcp.RoleUser, Content: mcp.NewTextContent("Draft a short reply to the customer of " + ticket + ".")}},
				MaxTokens: 200,
			}).ToolResult(), nil
		}}
	}
}

// samplingText is the text a sampling answer's content holds: a decoded answer's content is
// JSON as it came (an object), a built one is mcp.TextContent.
func samplingText(content any) (string, bool) {
	raw, err := json.Marshal(content)
	if err != nil {
		return "", false
	}
	var text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &text) != nil || text.Type != "text" {
		return "", false
	}
	return text.Text, true
}

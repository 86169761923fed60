package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// MaxListed bounds how many resources or prompts one server may list, like MaxToolsPerServer.
const MaxListed = 256

// ListResources lists the documents the server shows this agent (the gateway may have taken some
// out: synapse/visibility).
func (s *Session) ListResources(ctx context.Context) ([]mcp.Resource, error) {
	s.observer.take()
	res, err := s.client.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		return nil, fmt.Errorf("mcp %s: resources/list: %w", s.name, s.classify(err))
	}
	if len(res.Resources) > MaxListed {
		return nil, fmt.Errorf("mcp %s: resources/list: %d resources, more than the %d allowed", s.name, len(res.Resources), MaxListed)
	}
	return res.Resources, nil
}

// ReadResource reads one document and returns its text parts joined; a denial comes back as a
// *denial.Error.
func (s *Session) ReadResource(ctx context.Context, uri string) (string, error) {
	req := mcp.ReadResourceRequest{}
	req.Params.URI = uri
	s.observer.take()
	res, err := s.client.ReadResource(ctx, req)
	if err != nil {
		return "", fmt.Errorf("mcp %s: resources/read %s: %w", s.name, uri, s.classify(err))
	}
	var texts []string
	for _, c := range res.Contents {
		if t, ok := c.(mcp.TextResourceContents); ok {
			texts = append(texts, t.Text)
		}
	}
	return strings.Join(texts, "\n"), nil
}

// ListPrompts lists the prompts the server shows this agent.
func (s *Session) ListPrompts(ctx context.Context) ([]mcp.Prompt, error) {
	s.observer.take()
	res, err := s.client.ListPrompts(ctx, mcp.ListPromptsRequest{})
	if err != nil {
		return nil, fmt.Errorf("mcp %s: prompts/list: %w", s.name, s.classify(err))
	}
	if len(res.Prompts) > MaxListed {
		return nil, fmt.Errorf("mcp %s: prompts/list: %d prompts, more than the %d allowed", s.name, len(res.Prompts), MaxListed)
	}
	return res.Prompts, nil
}

// GetPrompt gets one prompt with its arguments and returns its messages' text joined; a denial
// comes back as a *denial.Error.
func (s *Session) GetPrompt(ctx context.Context, name string, args map[string]string) (string, error) {
	req := mcp.GetPromptRequest{}
	req.Params.Name, req.Params.Arguments = name, args
	s.observer.take()
	res, err := s.client.GetPrompt(ctx, req)
	if err != nil {
		return "", fmt.Errorf("mcp %s: prompts/get %s: %w", s.name, name, s.classify(err))
	}
	var texts []string
	for _, m := range res.Messages {
		if t, ok := mcp.AsTextContent(m.Content); ok {
			texts = append(texts, t.Text)
		}
	}
	return strings.Join(texts, "\n"), nil
}

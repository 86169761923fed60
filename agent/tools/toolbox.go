package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// Function is one tool as the model sees it.
type Function struct {
	// Name is what the model calls: the tool's own name when no other server
	// offers a tool of that name, "<server>__<tool>" otherwise.
	Name        string
	Description string
	// Parameters is the tool's input JSON Schema.
	Parameters map[string]any
	Server     string
	Tool       string
}

// Toolbox holds the open sessions and the tools the model may call.
type Toolbox struct {
	sessions  []*Session
	functions []Function
	byName    map[string]int
}

// Add puts a session and the tools it listed into the toolbox. Tools whose
// schema cannot be read are left out and reported in the returned error;
// the others are added.
func (b *Toolbox) Add(s *Session, listed []mcp.Tool) error {
	b.sessions = append(b.sessions, s)
	var bad []string
	for _, t := range listed {
		params, err := inputSchema(t)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", t.Name, err))
			continue
		}
		b.functions = append(b.functions, Function{
			Description: t.Description, Parameters: params, Server: s.Name(), Tool: t.Name,
		})
	}
	b.rename()
	if len(bad) > 0 {
		return fmt.Errorf("mcp %s: tools left out: %s", s.Name(), strings.Join(bad, "; "))
	}
	return nil
}

// Functions returns the tools the model may call, in the order the servers
// were added and listed them.
func (b *Toolbox) Functions() []Function { return append([]Function(nil), b.functions...) }

// Lookup finds the tool the model called by name.
func (b *Toolbox) Lookup(name string) (Function, bool) {
	i, ok := b.byName[name]
	if !ok {
		return Function{}, false
	}
	return b.functions[i], true
}

// Call runs the named function on its server.
func (b *Toolbox) Call(ctx context.Context, name string, args json.RawMessage) (Function, Result, error) {
	f, ok := b.Lookup(name)
	if !ok {
		return Function{}, Result{}, fmt.Errorf("the model called %q, which no open server offers", name)
	}
	for _, s := range b.sessions {
		if s.Name() == f.Server {
			res, err := s.Call(ctx, f.Tool, args)
			return f, res, err
		}
	}
	return f, Result{}, fmt.Errorf("no session for server %q", f.Server)
}

// Close ends every session.
func (b *Toolbox) Close() error {
	var errs []error
	for _, s := range b.sessions {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("mcp %s: close: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// functionName is what OpenAI accepts as a function name.
var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9_-]`)

// rename gives every function a model-facing name that is valid and unique:
// the bare tool name when it can be, "<server>__<tool>" otherwise.
func (b *Toolbox) rename() {
	count := map[string]int{}
	for _, f := range b.functions {
		count[f.Tool]++
	}
	b.byName = make(map[string]int, len(b.functions))
	for i := range b.functions {
		f := &b.functions[i]
		name := f.Tool
		if count[name] > 1 || !functionName.MatchString(name) {
			name = unsafeChars.ReplaceAllString(f.Server+"__"+f.Tool, "_")
		}
		if len(name) > 64 {
			name = name[:64]
		}
		for base, n := name, 2; ; n++ {
			if _, taken := b.byName[name]; !taken {
				break
			}
			suffix := fmt.Sprintf("_%d", n)
			name = base[:min(len(base), 64-len(suffix))] + suffix
		}
		f.Name = name
		b.byName[name] = i
	}
}

// inputSchema returns the tool's input schema as the JSON object OpenAI wants.
func inputSchema(t mcp.Tool) (map[string]any, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode tool: %w", err)
	}
	var wire struct {
		InputSchema map[string]any `json:"inputSchema"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	if wire.InputSchema == nil {
		wire.InputSchema = map[string]any{}
	}
	if _, ok := wire.InputSchema["type"]; !ok {
		wire.InputSchema["type"] = "object"
	}
	if wire.InputSchema["type"] != "object" {
		return nil, fmt.Errorf("input schema type %v, want object", wire.InputSchema["type"])
	}
	return wire.InputSchema, nil
}

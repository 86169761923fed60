// Package tools connects the agent to its MCP servers through the gateway:
// one mcp-go client per server, each with its own per-resource token. It
// learns the tools from the handshake and tools/list, runs tool calls, and
// tells a gateway denial apart from a tool's own error and from a failure.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/hopguard/hopguard/agent/denial"
)

// MaxToolsPerServer bounds how many tools one server may hand the model; a
// server listing more is not trusted with the model's context.
const MaxToolsPerServer = 128

// ServerConfig says where one MCP server is and how to authenticate to it.
type ServerConfig struct {
	// Name is the server's name ("payments"); its resource is "mcp:<Name>".
	Name string
	// URL is the server's streamable HTTP endpoint behind the gateway.
	URL string
	// Token returns the bearer token for this server's resource.
	Token func(context.Context) (string, error)
}

// Options are shared by every session.
type Options struct {
	// HTTPClient carries the requests; nil means a default client.
	HTTPClient *http.Client
	// ClientName and ClientVersion are announced in the handshake.
	ClientName    string
	ClientVersion string
	Logger        *slog.Logger
	// Elicitation and Sampling answer what a server asks mid-call (nil: the client does not
	// offer it). Their answers are decided at the gateway like any other message.
	Elicitation client.ElicitationHandler
	Sampling    client.SamplingHandler
}

// Session is an open connection to one MCP server.
type Session struct {
	name     string
	client   *client.Client
	observer *denialObserver
	logger   *slog.Logger
}

// Open connects to the server and performs the handshake. A handshake the
// gateway denies comes back as a *denial.Error (see denial.From); any other
// failure as a plain error.
func Open(ctx context.Context, cfg ServerConfig, opts Options) (*Session, error) {
	if cfg.Name == "" || cfg.URL == "" || cfg.Token == nil {
		return nil, errors.New("mcp server: name, url and token source are required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("mcp_server", cfg.Name)
	// Fail early and clearly when there is no token to present at all.
	if _, err := cfg.Token(ctx); err != nil {
		return nil, fmt.Errorf("mcp %s: token: %w", cfg.Name, err)
	}

	base := http.DefaultTransport
	hc := &http.Client{}
	if opts.HTTPClient != nil {
		*hc = *opts.HTTPClient
		if opts.HTTPClient.Transport != nil {
			base = opts.HTTPClient.Transport
		}
	}
	observer := &denialObserver{next: base}
	hc.Transport = observer

	tr, err := transport.NewStreamableHTTP(cfg.URL,
		transport.WithHTTPBasicClient(hc),
		transport.WithHTTPHeaderFunc(bearer(cfg.Token, logger)),
		transport.WithHTTPLogger(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("mcp %s: transport: %w", cfg.Name, err)
	}
	var copts []client.ClientOption
	if opts.Elicitation != nil {
		copts = append(copts, client.WithElicitationHandler(opts.Elicitation))
	}
	if opts.Sampling != nil {
		copts = append(copts, client.WithSamplingHandler(opts.Sampling))
	}
	c := client.NewClient(tr, copts...)
	if err := c.Start(ctx); err != nil {
		return nil, fmt.Errorf("mcp %s: start: %w", cfg.Name, err)
	}
	s := &Session{name: cfg.Name, client: c, observer: observer, logger: logger}

	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: opts.ClientName, Version: opts.ClientVersion}
	observer.take()
	if _, err := c.Initialize(ctx, init); err != nil {
		err = s.classify(err)
		_ = c.Close()
		return nil, fmt.Errorf("mcp %s: initialize: %w", cfg.Name, err)
	}
	return s, nil
}

// Name is the server's name.
func (s *Session) Name() string { return s.name }

// ListTools returns every tool the server offers.
func (s *Session) ListTools(ctx context.Context) ([]mcp.Tool, error) {
	s.observer.take()
	res, err := s.client.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return nil, fmt.Errorf("mcp %s: tools/list: %w", s.name, s.classify(err))
	}
	if len(res.Tools) > MaxToolsPerServer {
		return nil, fmt.Errorf("mcp %s: tools/list: %d tools, more than the %d allowed", s.name, len(res.Tools), MaxToolsPerServer)
	}
	return res.Tools, nil
}

// Result is what came of a tool call that reached an answer.
type Result struct {
	// Text is what the model reads as the tool's result. For a denial it is
	// the gateway's own text (the reason and the policy output).
	Text string
	// IsError is set when the call failed: denied, or the tool's own error.
	IsError bool
	// Denial is set when the gateway denied the call.
	Denial *denial.Denial
}

// Call runs one tool with the arguments the model produced. args must be a
// JSON object; it is forwarded byte for byte, since the policy judges the
// arguments exactly as the model wrote them.
//
// A denied call is not an error: it returns a Result with Denial set, so the
// model sees the reason as the tool's result. An error means no answer came
// back (transport, protocol, or a denial in the JSON-RPC error form, which
// comes back as a *denial.Error).
func (s *Session) Call(ctx context.Context, tool string, args json.RawMessage) (Result, error) {
	if err := CheckArguments(args); err != nil {
		return Result{}, err
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	s.observer.take()
	res, err := s.client.CallTool(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("mcp %s: tools/call %s: %w", s.name, tool, s.classify(err))
	}
	out := Result{Text: resultText(res), IsError: res.IsError}
	seen, _ := s.observer.take()
	if d, ok := denialIn(res); ok {
		d.DecisionID = firstNonEmpty(seen.DecisionID, d.DecisionID)
		out.Denial, out.IsError = &d, true
		if out.Text == "" {
			out.Text = "denied: " + d.String()
		}
	}
	return out, nil
}

// Close ends the session.
func (s *Session) Close() error { return s.client.Close() }

// CheckArguments reports whether args is a JSON object, the only shape MCP
// tool arguments may take.
func CheckArguments(args json.RawMessage) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(args, &obj); err != nil || obj == nil {
		return fmt.Errorf("tool arguments are not a JSON object: %q", truncate(string(args), 200))
	}
	return nil
}

// classify turns a client error into a *denial.Error when the gateway denied
// the request: from the policy output the observer read, or failing that from
// mcp-go's error text, which is the JSON-RPC error.message ("denied: ...").
func (s *Session) classify(err error) error {
	if d, ok := s.observer.take(); ok {
		return &denial.Error{Denial: d, Err: err}
	}
	if reason, ok := strings.CutPrefix(err.Error(), "denied: "); ok {
		return &denial.Error{Denial: denial.Denial{Reason: reason}, Err: err}
	}
	return err
}

// denialIn reads the policy output of a denied tools/call result: _meta first
// (it cannot be confused with a tool's own output), then structuredContent.
func denialIn(res *mcp.CallToolResult) (denial.Denial, bool) {
	if !res.IsError || res.Meta == nil {
		return denial.Denial{}, false
	}
	raw, ok := res.Meta.AdditionalFields[denial.MetaKey]
	if !ok {
		return denial.Denial{}, false
	}
	d, err := denial.ParseValue(raw)
	if err != nil {
		return denial.Denial{}, false
	}
	return d, true
}

// resultText is what the model reads: the text content, or failing that the
// structured content as JSON.
func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := mcp.AsTextContent(c); ok {
			parts = append(parts, tc.Text)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, "\n")
	}
	if len(res.RawStructuredContent) > 0 {
		return string(res.RawStructuredContent)
	}
	if res.StructuredContent != nil {
		if raw, err := json.Marshal(res.StructuredContent); err == nil {
			return string(raw)
		}
	}
	return ""
}

func bearer(token func(context.Context) (string, error), logger *slog.Logger) transport.HTTPHeaderFunc {
	return func(ctx context.Context) map[string]string {
		tok, err := token(ctx)
		if err != nil {
			// Sent without a credential, the request is denied at the
			// gateway; the denial says more than this log line can.
			logger.WarnContext(ctx, "no token for MCP request", "error", err)
			return nil
		}
		return map[string]string{"Authorization": "Bearer " + tok}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

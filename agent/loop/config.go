// Package loop runs the triage agent on one ticket: it gets its tokens,
// discovers the tools of the MCP servers it may open, and converses with its
// model through the gateway until the model is done, a denial stops it, or the
// step limit is reached. Every hop is recorded.
package loop

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/trace"
)

// Defaults of the demo's gateway layout and of a run.
const (
	DefaultLLMPath     = "/v1"
	DefaultMCPTemplate = "/mcp/{server}"
	DefaultTokenPath   = "/oauth2/token"
	DefaultModel       = "gpt-4o-mini"
	DefaultMaxSteps    = 10
	// ServerPlaceholder is replaced by a server's name in MCPURLTemplate.
	ServerPlaceholder = "{server}"
)

// DefaultServers are the MCP servers the agent tries to open.
func DefaultServers() []string { return []string{"tickets", "crm", "payments", "payroll"} }

// Config is everything one run needs.
type Config struct {
	// GatewayURL is the gateway's base URL; LLMURL and MCPURLTemplate
	// default to paths under it.
	GatewayURL string
	// LLMURL is the OpenAI base URL; default GatewayURL + "/v1".
	LLMURL string
	// MCPURLTemplate is each MCP server's URL with "{server}" for its name;
	// default GatewayURL + "/mcp/{server}".
	MCPURLTemplate string
	// Servers are the MCP servers to try, in order; default DefaultServers().
	Servers []string

	// STSURL is the STS's base URL or its token endpoint: a URL without a
	// path gets "/oauth2/token".
	STSURL string
	// Subject is the bootstrap credential: a user's, or the workload's own.
	Subject identity.ClientCredentials
	// Actor is the agent workload's credential when Subject is a user.
	Actor       *identity.ClientCredentials
	Attestation identity.Attestation

	// Ticket is the one ticket the run works; the task is bound to it.
	Ticket string
	// Model is the model to ask for; default DefaultModel.
	Model string
	// FallbackModel, when set, is asked instead once Model is denied.
	FallbackModel string
	// MaxSteps bounds the model calls; default DefaultMaxSteps.
	MaxSteps int
	// SystemPrompt replaces the default instructions.
	SystemPrompt string
	// ModelRetries is how often openai-go retries a retryable model failure.
	ModelRetries int
	// RequestTimeout bounds each HTTP request; 0 means only ctx bounds it.
	RequestTimeout time.Duration

	// ClientName and ClientVersion are announced in the MCP handshake.
	ClientName    string
	ClientVersion string
	// HTTPClient carries every request; nil means a client whose timeout is
	// RequestTimeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// OnHop, when set, is told about every hop as it happens.
	OnHop func(trace.Hop)
}

var (
	serverName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	ticketID   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)
)

// Validate reports what is wrong with cfg, before any request is made.
func (cfg Config) Validate() error {
	_, err := cfg.withDefaults()
	return err
}

// withDefaults returns cfg with its defaults filled in and validated.
func (cfg Config) withDefaults() (Config, error) {
	gw := strings.TrimSuffix(cfg.GatewayURL, "/")
	if cfg.LLMURL == "" || cfg.MCPURLTemplate == "" {
		if gw == "" {
			return cfg, errors.New("a gateway URL is required (or both an LLM URL and an MCP URL template)")
		}
		if err := checkURL("gateway", gw); err != nil {
			return cfg, err
		}
	}
	if cfg.LLMURL == "" {
		cfg.LLMURL = gw + DefaultLLMPath
	}
	if cfg.MCPURLTemplate == "" {
		cfg.MCPURLTemplate = gw + DefaultMCPTemplate
	}
	if !strings.Contains(cfg.MCPURLTemplate, ServerPlaceholder) {
		return cfg, fmt.Errorf("MCP URL template %q has no %s", cfg.MCPURLTemplate, ServerPlaceholder)
	}
	if err := checkURL("LLM", cfg.LLMURL); err != nil {
		return cfg, err
	}
	if len(cfg.Servers) == 0 {
		cfg.Servers = DefaultServers()
	}
	seen := map[string]bool{}
	for _, s := range cfg.Servers {
		if !serverName.MatchString(s) || seen[s] {
			return cfg, fmt.Errorf("MCP server name %q is not a lower-case name, or is listed twice", s)
		}
		seen[s] = true
	}
	tokenURL, err := tokenEndpoint(cfg.STSURL)
	if err != nil {
		return cfg, err
	}
	cfg.STSURL = tokenURL
	if cfg.Subject.ClientID == "" || (cfg.Subject.ClientSecret == "") == (cfg.Subject.SPIFFE == nil) {
		return cfg, errors.New("a bootstrap client id is required, with a secret or a SPIFFE identity (not both)")
	}
	if !ticketID.MatchString(cfg.Ticket) {
		return cfg, fmt.Errorf("ticket %q is not a ticket id", cfg.Ticket)
	}
	if cfg.Model == "" {
		cfg.Model = DefaultModel
	}
	if cfg.FallbackModel == cfg.Model {
		cfg.FallbackModel = ""
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = DefaultMaxSteps
	}
	if cfg.ClientName == "" {
		cfg.ClientName = "hopguard-agent"
	}
	if cfg.ClientVersion == "" {
		cfg.ClientVersion = cfg.Attestation.HarnessVersion
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.RequestTimeout}
	}
	return cfg, nil
}

// serverURL is the URL of one MCP server.
func (cfg Config) serverURL(server string) string {
	return strings.ReplaceAll(cfg.MCPURLTemplate, ServerPlaceholder, server)
}

func tokenEndpoint(sts string) (string, error) {
	if sts == "" {
		return "", errors.New("an STS URL is required")
	}
	if err := checkURL("STS", sts); err != nil {
		return "", err
	}
	u, _ := url.Parse(sts)
	if u.Path == "" || u.Path == "/" {
		u.Path = DefaultTokenPath
	}
	return u.String(), nil
}

func checkURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s URL: %w", what, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s URL %q: want http(s)://host[:port][/path]", what, raw)
	}
	return nil
}

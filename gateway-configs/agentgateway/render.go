// Package agentgateway renders hopguard's agentgateway configuration and checks it against
// agentgateway's own config schema.
package agentgateway

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

//go:embed config.yaml.tmpl
var configTemplate string

// MCPServer is one MCP upstream: its name is both the route (/mcp/<name>) and the resource
// (mcp:<name>) that synapse is told about.
type MCPServer struct {
	Name string
	Addr string // host:port of the server, which serves MCP at /mcp
}

// Params are what changes between runs: ports, upstream addresses and the provider key.
type Params struct {
	GatewayPort     int
	AdminPort       int
	StatsPort       int
	ReadinessPort   int
	SynapseAddr     string // host:port of synapse's gRPC ext_authz listener: one replica (README.md, "Several synapse replicas")
	LLMAddr         string // host:port of the model provider (the mock LLM, over plaintext)
	ProviderKey     string // the key agentgateway adds after ext_authz allowed the call
	MaxRequestBytes int
	MCPServers      []MCPServer

	// Provider, when set, sends the model route to a real endpoint over TLS by host name,
	// its key from an environment variable, instead of the mock at LLMAddr with ProviderKey
	// (both are then not used). Nil is the mock.
	Provider *Provider

	// WithoutAuthz renders the same gateway without the extAuthz policy of its routes (the
	// gateway-level transformations and everything else stay): nothing is authorized. It exists
	// only as the benchmark's baseline (conformance/bench), so that what governing a hop costs
	// is measured against an otherwise identical agentgateway; never put it in front of anything
	// but the mocks.
	WithoutAuthz bool
}

// Provider kinds: how agentgateway speaks to the endpoint.
const (
	// ProviderOpenAI is an OpenAI-compatible API: requests pass through as the agent sent them
	// (same path, same body) with "Authorization: Bearer <key>".
	ProviderOpenAI = "openAI"
	// ProviderAnthropic is Anthropic's Messages API: a Messages call passes through unchanged;
	// agentgateway translates the agent's OpenAI chat completion into a message (and the answer
	// back) and sends it to /v1/messages; the key goes in x-api-key with the anthropic-version
	// header.
	ProviderAnthropic = "anthropic"
)

// DefaultProviderPort is HTTPS's port.
const DefaultProviderPort = 443

// Provider is a real model endpoint reached over TLS by host name (api.openai.com,
// api.anthropic.com). agentgateway verifies its certificate for Host (also the SNI and the Host
// header) against the system roots, or CAFile when set. The key is never written into the
// config: the rendering says "${KeyEnv}" and agentgateway substitutes the environment variable
// when it loads the file (it expands environment variables in its whole config file), and
// refuses to load it when the variable is not set.
type Provider struct {
	Kind   string // ProviderOpenAI (the default when empty) or ProviderAnthropic
	Host   string // DNS name of the endpoint
	Port   int    // zero means DefaultProviderPort
	CAFile string // PEM bundle the certificate must chain to; empty means the system roots
	KeyEnv string // the environment variable holding the key, e.g. OPENAI_API_KEY
}

// OpenAI is api.openai.com, its key from OPENAI_API_KEY.
func OpenAI() *Provider {
	return &Provider{Kind: ProviderOpenAI, Host: "api.openai.com", KeyEnv: "OPENAI_API_KEY"}
}

// Anthropic is api.anthropic.com, its key from ANTHROPIC_API_KEY.
func Anthropic() *Provider {
	return &Provider{Kind: ProviderAnthropic, Host: "api.anthropic.com", KeyEnv: "ANTHROPIC_API_KEY"}
}

// A provider's host is a lower-case DNS name: no IP address, no port, nothing YAML reads.
var hostNamePattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// An environment variable's name as a shell writes it (and as agentgateway expands it).
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// KeyRef is how the rendered config names the key: "${KeyEnv}", which agentgateway replaces
// with the variable's value when it loads the file.
func (pr Provider) KeyRef() string { return "${" + pr.KeyEnv + "}" }

func (pr Provider) withDefaults() Provider {
	if pr.Kind == "" {
		pr.Kind = ProviderOpenAI
	}
	if pr.Port == 0 {
		pr.Port = DefaultProviderPort
	}
	return pr
}

func (pr Provider) validate() []error {
	var errs []error
	if pr.Kind != ProviderOpenAI && pr.Kind != ProviderAnthropic {
		errs = append(errs, fmt.Errorf("provider kind %q is neither %s nor %s", pr.Kind, ProviderOpenAI, ProviderAnthropic))
	}
	if !hostNamePattern.MatchString(pr.Host) || len(pr.Host) > 253 {
		errs = append(errs, fmt.Errorf("provider host %q is not a lower-case DNS name (no IP address, no port)", pr.Host))
	}
	if pr.Port < 1 || pr.Port > 65535 {
		errs = append(errs, fmt.Errorf("provider port %d is not a TCP port", pr.Port))
	}
	if !envNamePattern.MatchString(pr.KeyEnv) {
		errs = append(errs, fmt.Errorf("provider key variable %q is not an environment variable's name", pr.KeyEnv))
	}
	// agentgateway expands environment variables in the whole file: a "$" in the path would be
	// expanded too.
	if pr.CAFile != "" && (!strings.HasPrefix(pr.CAFile, "/") || strings.ContainsAny(pr.CAFile, "\"'\\$~{}\r\n")) {
		errs = append(errs, fmt.Errorf("provider CA file %q must be an absolute path without quotes, backslashes, $, ~, braces or line breaks", pr.CAFile))
	}
	return errs
}

// DefaultParams are the ports of config.yaml, the rendering committed for readers.
func DefaultParams() Params {
	return Params{
		GatewayPort:     3000,
		AdminPort:       15000,
		StatsPort:       15020,
		ReadinessPort:   15021,
		SynapseAddr:     "127.0.0.1:9191",
		LLMAddr:         "127.0.0.1:8089",
		ProviderKey:     "sk-hopguard-provider",
		MaxRequestBytes: 1 << 20,
		MCPServers: []MCPServer{
			{Name: "tickets", Addr: "127.0.0.1:9001"},
			{Name: "crm", Addr: "127.0.0.1:9002"},
			{Name: "payments", Addr: "127.0.0.1:9003"},
			{Name: "payroll", Addr: "127.0.0.1:9004"},
			{Name: "knowledge", Addr: "127.0.0.1:9005"},
		},
	}
}

// Examples are the committed renderings, by file name: config.yaml (DefaultParams, the
// mocks) and the same gateway with the model route sent to OpenAI (config.openai.yaml, key from
// OPENAI_API_KEY) or Anthropic (config.anthropic.yaml, key from ANTHROPIC_API_KEY).
func Examples() map[string]Params {
	openAI, anthropic := DefaultParams(), DefaultParams()
	openAI.Provider = OpenAI()
	anthropic.Provider = Anthropic()
	return map[string]Params{
		"config.yaml":           DefaultParams(),
		"config.openai.yaml":    openAI,
		"config.anthropic.yaml": anthropic,
	}
}

// Validate rejects parameters that would render a config which opens a hole: a body limit of
// zero makes agentgateway refuse every body, and a server without an address has no upstream.
func (p Params) Validate() error {
	var errs []error
	if p.MaxRequestBytes <= 0 {
		errs = append(errs, errors.New("MaxRequestBytes must be positive: agentgateway answers 413 to every body when it is 0"))
	}
	if p.SynapseAddr == "" {
		errs = append(errs, errors.New("SynapseAddr is required"))
	}
	if p.Provider != nil {
		errs = append(errs, p.Provider.withDefaults().validate()...)
	} else {
		if p.LLMAddr == "" {
			errs = append(errs, errors.New("LLMAddr is required"))
		}
		if p.ProviderKey == "" {
			errs = append(errs, errors.New("ProviderKey is required"))
		}
	}
	for _, s := range p.MCPServers {
		if s.Name == "" || s.Addr == "" {
			errs = append(errs, fmt.Errorf("MCP server %q needs a name and an address", s.Name))
		}
	}
	return errors.Join(errs...)
}

// guard is what the template's "extAuthz" block renders: a route's extAuthz policy.
type guard struct {
	Params
	Resource string // what synapse is told the route is (context_extensions resource)
	Explain  bool   // write the comments that say why (once, on the first route)
}

// Guard is the extAuthz policy of a route serving resource, for the template.
func (p Params) Guard(resource string, explain bool) guard {
	return guard{Params: p, Resource: resource, Explain: explain}
}

// QuotedResource is the resource as a YAML scalar: quoted when it holds a colon.
func (g guard) QuotedResource() string {
	if strings.ContainsAny(g.Resource, ":#{}[],&*!|>'\"%@`") {
		return strconv.Quote(g.Resource)
	}
	return g.Resource
}

// Render returns the agentgateway config file for p.
func Render(p Params) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("agentgateway config parameters: %w", err)
	}
	tmpl, err := template.New("config.yaml").Option("missingkey=error").Parse(configTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse agentgateway config template: %w", err)
	}
	if p.Provider != nil {
		provider := p.Provider.withDefaults()
		p.Provider = &provider
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, p); err != nil {
		return nil, fmt.Errorf("render agentgateway config: %w", err)
	}
	return out.Bytes(), nil
}

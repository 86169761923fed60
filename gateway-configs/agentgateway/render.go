// Package agentgateway renders hopguard's agentgateway configuration and checks it against
// agentgateway's own config schema.
package agentgateway

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
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
	SynapseAddr     string // host:port of synapse's gRPC ext_authz listener
	LLMAddr         string // host:port of the model provider
	ProviderKey     string // the key agentgateway adds after ext_authz allowed the call
	MaxRequestBytes int
	MCPServers      []MCPServer

	// WithoutAuthz renders the same gateway without the extAuthz policy of its routes (the
	// gateway-level transformations and everything else stay): nothing is authorized. It exists
	// only as the benchmark's baseline (conformance/bench), so that what governing a hop costs
	// is measured against an otherwise identical agentgateway; never put it in front of anything
	// but the mocks.
	WithoutAuthz bool
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
		},
	}
}

// Validate rejects parameters that would render a config which opens a hole: a body limit of
// zero makes agentgateway refuse every body, and a server without an address has no upstream.
func (p Params) Validate() error {
	var errs []error
	if p.MaxRequestBytes <= 0 {
		errs = append(errs, errors.New("MaxRequestBytes must be positive: agentgateway answers 413 to every body when it is 0"))
	}
	if p.SynapseAddr == "" || p.LLMAddr == "" {
		errs = append(errs, errors.New("SynapseAddr and LLMAddr are required"))
	}
	if p.ProviderKey == "" {
		errs = append(errs, errors.New("ProviderKey is required"))
	}
	for _, s := range p.MCPServers {
		if s.Name == "" || s.Addr == "" {
			errs = append(errs, fmt.Errorf("MCP server %q needs a name and an address", s.Name))
		}
	}
	return errors.Join(errs...)
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
	var out bytes.Buffer
	if err := tmpl.Execute(&out, p); err != nil {
		return nil, fmt.Errorf("render agentgateway config: %w", err)
	}
	return out.Bytes(), nil
}

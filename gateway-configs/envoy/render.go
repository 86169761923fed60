// Package envoy renders hopguard's Envoy gateway configuration: the LLM route, one route per MCP
// server, and the ext_authz filter that asks synapse about every request (see envoy.yaml.tmpl).
package envoy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"text/template"
	"time"
)

//go:embed envoy.yaml.tmpl
var configTemplate string

var parsedTemplate = template.Must(template.New("envoy.yaml").Option("missingkey=error").Parse(configTemplate))

// Defaults for the knobs most runs leave alone.
const (
	// DefaultProviderKey is the mock LLM's provider key (CONTRACTS.md, "Demo seed").
	DefaultProviderKey = "sk-hopguard-provider"
	// DefaultMaxRequestBytes bounds the body sent to synapse; a larger body gets 413.
	DefaultMaxRequestBytes = 1 << 20
	// DefaultAuthzTimeout is how long Envoy waits for synapse before failing closed.
	DefaultAuthzTimeout = 2 * time.Second
)

// MCPServer is one MCP upstream, reached through the route /mcp/<Name>.
type MCPServer struct {
	Name string
	Addr netip.AddrPort
}

// Params are what changes from one run to the next.
type Params struct {
	Listen  netip.AddrPort // where agents connect
	Admin   netip.AddrPort // Envoy's admin interface; must be a loopback address
	Synapse netip.AddrPort // synapse's ext_authz gRPC port
	LLM     netip.AddrPort // the model upstream

	MCPServers []MCPServer

	// ProviderKey is added on the LLM route after authorization; empty means DefaultProviderKey.
	ProviderKey string
	// MaxRequestBytes is the ext_authz body limit; zero means DefaultMaxRequestBytes.
	MaxRequestBytes int
	// AuthzTimeout bounds each synapse call; zero means DefaultAuthzTimeout.
	AuthzTimeout time.Duration

	// WithoutAuthz renders the same gateway without the ext_authz filter and its per-route
	// settings: nothing is authorized. It exists only as the benchmark's baseline
	// (conformance/bench), so that what governing a hop costs is measured against an otherwise
	// identical Envoy; never put it in front of anything but the mocks.
	WithoutAuthz bool
}

// A server name becomes part of a path, a cluster name and a YAML scalar: keep it plain.
var serverNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

func (p Params) withDefaults() Params {
	if p.ProviderKey == "" {
		p.ProviderKey = DefaultProviderKey
	}
	if p.MaxRequestBytes == 0 {
		p.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if p.AuthzTimeout == 0 {
		p.AuthzTimeout = DefaultAuthzTimeout
	}
	return p
}

// Validate reports every problem with p at once.
func (p Params) Validate() error {
	var errs []error
	for name, ap := range map[string]netip.AddrPort{"listen": p.Listen, "admin": p.Admin, "synapse": p.Synapse, "llm": p.LLM} {
		if !ap.IsValid() || ap.Port() == 0 {
			errs = append(errs, fmt.Errorf("%s address %q is not a host:port", name, ap))
		}
	}
	if p.Admin.IsValid() && !p.Admin.Addr().IsLoopback() {
		errs = append(errs, fmt.Errorf("admin address %s is not a loopback address: Envoy's admin interface must not be reachable from elsewhere", p.Admin))
	}
	seen := map[string]bool{}
	for _, s := range p.MCPServers {
		if !serverNamePattern.MatchString(s.Name) {
			errs = append(errs, fmt.Errorf("MCP server name %q must match %s", s.Name, serverNamePattern))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("MCP server %q is listed twice", s.Name))
		}
		seen[s.Name] = true
		if !s.Addr.IsValid() || s.Addr.Port() == 0 {
			errs = append(errs, fmt.Errorf("MCP server %q address %q is not a host:port", s.Name, s.Addr))
		}
	}
	if strings.ContainsAny(p.ProviderKey, "\"\\\r\n") {
		errs = append(errs, errors.New("provider key must not contain quotes, backslashes or line breaks"))
	}
	if p.MaxRequestBytes < 0 {
		errs = append(errs, fmt.Errorf("max request bytes %d is negative", p.MaxRequestBytes))
	}
	if p.AuthzTimeout < 0 {
		errs = append(errs, fmt.Errorf("authz timeout %s is negative", p.AuthzTimeout))
	}
	return errors.Join(errs...)
}

// templateData is Params in the shape the template reads.
type templateData struct {
	Listen, Admin, Synapse, LLM endpoint
	MCPServers                  []templateServer
	ProviderKey                 string
	MaxRequestBytes             int
	AuthzTimeout                string
	WithoutAuthz                bool
}

type endpoint struct {
	Host string
	Port uint16
}

type templateServer struct {
	Name string
	Addr endpoint
}

func toEndpoint(ap netip.AddrPort) endpoint {
	return endpoint{Host: ap.Addr().String(), Port: ap.Port()}
}

// Render returns the Envoy bootstrap YAML for p.
func Render(p Params) ([]byte, error) {
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("envoy config: %w", err)
	}
	data := templateData{
		Listen:          toEndpoint(p.Listen),
		Admin:           toEndpoint(p.Admin),
		Synapse:         toEndpoint(p.Synapse),
		LLM:             toEndpoint(p.LLM),
		ProviderKey:     p.ProviderKey,
		MaxRequestBytes: p.MaxRequestBytes,
		// Envoy reads durations as protobuf JSON: seconds with up to nine decimals.
		AuthzTimeout: fmt.Sprintf("%.3fs", p.AuthzTimeout.Seconds()),
		WithoutAuthz: p.WithoutAuthz,
	}
	for _, s := range p.MCPServers {
		data.MCPServers = append(data.MCPServers, templateServer{Name: s.Name, Addr: toEndpoint(s.Addr)})
	}
	var out bytes.Buffer
	if err := parsedTemplate.Execute(&out, data); err != nil {
		return nil, fmt.Errorf("envoy config: render template: %w", err)
	}
	return out.Bytes(), nil
}

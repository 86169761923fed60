// Package envoy renders hopguard's Envoy gateway configuration: the LLM route, one route per MCP
// server, and the ext_authz filter that asks synapse about every request (see envoy.yaml.tmpl).
package envoy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
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
	// DefaultCAFile is the system's root certificates on Debian, Ubuntu and Alpine (the
	// ca-certificates package): what a Provider's certificate is verified against unless its
	// CAFile says otherwise. Envoy loads no system roots of its own.
	DefaultCAFile = "/etc/ssl/certs/ca-certificates.crt"
	// DefaultProviderPort is HTTPS's port.
	DefaultProviderPort = 443
)

// Provider sends the model route to a real model endpoint (an OpenAI-compatible API such as
// api.openai.com, or Anthropic's api.anthropic.com) over TLS by host name, instead of the mock
// LLM over plaintext. The provider key is never written into the config: Envoy reads it from
// the environment variable KeyEnv when it starts (a static generic secret whose data source is
// environment_variable) and the credential injector filter adds it, after ext_authz, on the
// model route only. Envoy refuses to start when the variable is not set.
type Provider struct {
	// Host is the endpoint's DNS name: Envoy resolves it (LOGICAL_DNS, IPv4 preferred), sends
	// it as SNI and as the Host header, and requires it among the certificate's DNS names.
	Host string
	// Port is the endpoint's port; zero means DefaultProviderPort.
	Port uint16
	// CAFile is the PEM bundle the endpoint's certificate must chain to; empty means
	// DefaultCAFile, the system roots.
	CAFile string
	// KeyEnv names the environment variable that holds the provider key, e.g. OPENAI_API_KEY.
	KeyEnv string
	// KeyHeader is where the key goes: "authorization" (the default) sends
	// "Authorization: Bearer <key>" as OpenAI-compatible APIs want it; "x-api-key" sends the bare
	// key in x-api-key, as Anthropic's Messages API wants it.
	KeyHeader string
}

// MCPServer is one MCP upstream, reached through the route /mcp/<Name>.
type MCPServer struct {
	Name string
	Addr netip.AddrPort
}

// Params are what changes from one run to the next.
type Params struct {
	Listen netip.AddrPort // where agents connect
	Admin  netip.AddrPort // Envoy's admin interface; must be a loopback address
	// Synapse are the ext_authz gRPC ports of synapse's replicas, at least one: Envoy balances
	// the checks across them round robin and leaves out a replica that is down (see the
	// synapse cluster in envoy.yaml.tmpl).
	Synapse []netip.AddrPort
	LLM     netip.AddrPort // the model upstream (the mock LLM, over plaintext); unset with Provider

	MCPServers []MCPServer

	// Provider, when set, sends the model route to a real endpoint over TLS by host name
	// instead of LLM, its key from an environment variable (see Provider). Nil is the mock.
	Provider *Provider

	// ProviderKey is added on the LLM route after authorization; empty means DefaultProviderKey.
	// It is the mock's key: with Provider it must stay empty (the key comes from KeyEnv).
	ProviderKey string
	// MaxRequestBytes is the ext_authz body limit; zero means DefaultMaxRequestBytes.
	MaxRequestBytes int
	// AuthzTimeout bounds each synapse call; zero means DefaultAuthzTimeout.
	AuthzTimeout time.Duration

	// OTLPCollector, when set, traces every request (OpenTelemetry, OTLP gRPC to that
	// address): Envoy's span is the hop's root, its ext_authz call a child that synapse's check
	// joins (synapse/tracing), and Cerbos's spans join synapse's. Unset: no tracing.
	OTLPCollector netip.AddrPort

	// WithoutAuthz renders the same gateway without the ext_authz filter and its per-route
	// settings: nothing is authorized. It exists only as the benchmark's baseline
	// (conformance/bench), so that what governing a hop costs is measured against an otherwise
	// identical Envoy; never put it in front of anything but the mocks.
	WithoutAuthz bool
}

// A server name becomes part of a path, a cluster name and a YAML scalar: keep it plain.
var serverNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// A provider's host is a DNS name (the certificate is checked for it), lower case: no IP
// address, no port, no YAML.
var hostNamePattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// An environment variable's name as a shell writes it.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (p Params) withDefaults() Params {
	if p.ProviderKey == "" && p.Provider == nil {
		p.ProviderKey = DefaultProviderKey
	}
	if p.Provider != nil {
		provider := *p.Provider
		if provider.Port == 0 {
			provider.Port = DefaultProviderPort
		}
		if provider.CAFile == "" {
			provider.CAFile = DefaultCAFile
		}
		if provider.KeyHeader == "" {
			provider.KeyHeader = "authorization"
		}
		p.Provider = &provider
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
	addrs := map[string]netip.AddrPort{"listen": p.Listen, "admin": p.Admin}
	if p.Provider == nil {
		addrs["llm"] = p.LLM
	} else {
		errs = append(errs, p.withDefaults().Provider.validate()...)
		if p.LLM.IsValid() {
			errs = append(errs, fmt.Errorf("llm address %s and a provider both name the model upstream: leave the llm address unset", p.LLM))
		}
		if p.ProviderKey != "" {
			errs = append(errs, errors.New("a provider's key comes from its KeyEnv environment variable: leave ProviderKey (the mock's key) empty"))
		}
	}
	for name, ap := range addrs {
		if !ap.IsValid() || ap.Port() == 0 {
			errs = append(errs, fmt.Errorf("%s address %q is not a host:port", name, ap))
		}
	}
	errs = append(errs, validateSynapse(p.Synapse)...)
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

// validateSynapse reports every problem with the replicas' addresses. A replica listed twice
// would take two turns of the round robin, and its health check would run twice.
func validateSynapse(replicas []netip.AddrPort) []error {
	if len(replicas) == 0 {
		return []error{errors.New("no synapse address: list the ext_authz port of at least one replica")}
	}
	var errs []error
	seen := map[netip.AddrPort]bool{}
	for _, ap := range replicas {
		if !ap.IsValid() || ap.Port() == 0 {
			errs = append(errs, fmt.Errorf("synapse address %q is not a host:port", ap))
			continue
		}
		if seen[ap] {
			errs = append(errs, fmt.Errorf("synapse address %s is listed twice", ap))
		}
		seen[ap] = true
	}
	return errs
}

// validate reports every problem with a provider whose defaults are filled in.
func (pr Provider) validate() []error {
	var errs []error
	if !hostNamePattern.MatchString(pr.Host) || len(pr.Host) > 253 {
		errs = append(errs, fmt.Errorf("provider host %q is not a lower-case DNS name (no IP address, no port)", pr.Host))
	}
	if !envNamePattern.MatchString(pr.KeyEnv) {
		errs = append(errs, fmt.Errorf("provider key variable %q is not an environment variable's name", pr.KeyEnv))
	}
	if !strings.HasPrefix(pr.CAFile, "/") || strings.ContainsAny(pr.CAFile, "\"\\\r\n") {
		errs = append(errs, fmt.Errorf("provider CA file %q must be an absolute path without quotes, backslashes or line breaks", pr.CAFile))
	}
	if pr.KeyHeader != "authorization" && pr.KeyHeader != "x-api-key" {
		errs = append(errs, fmt.Errorf("provider key header %q is neither authorization nor x-api-key", pr.KeyHeader))
	}
	return errs
}

// failClosedReplies are the local reply mappers of Envoy's own fail-closed 503, in the order
// Envoy tries them: each gives the routes its path matches the body synapse's own 503 has there
// (respond.GatewayUnavailableBody), so a client reads the gateway's denial as it reads synapse's.
// The paths split the routes as synapse does (mapping.Dialect, the MCP plane).
// An MCP POST gets 200, as synapse answers a JSON-RPC request it cannot decide (the MCP Go SDK
// never reads a 5xx's body); any other MCP method (GET's stream, DELETE) keeps 503, since no
// JSON-RPC response is possible there. A POST of a notification gets the 200 too: the gateway
// does not read the body.
// The POST's reply answers the request's own JSON-RPC id, read from the body into dynamic
// metadata by the json_to_metadata filter (an MCP client refuses a response with id null).
var failClosedReplies = []struct {
	route     string
	pathMatch string // an Envoy StringMatcher in flow YAML; "" matches every path
	method    string // "" matches every method
	status    int    // the reply's status: 503, Envoy's own, unless set
	answerID  bool   // the JSON-RPC body answers the request's id
	plane     mapping.Plane
	dialect   mapping.Dialect
}{
	{"Anthropic's Messages API: /v1/messages and below", `{ safe_regex: { regex: "^/v1/messages([/?].*)?$" } }`, "", 0, false, mapping.PlaneModel, mapping.DialectAnthropic},
	{"MCP: POST /mcp/<server>, answered 200 with the JSON-RPC error for the request's id", `{ prefix: /mcp/ }`, "POST", 200, true, mapping.PlaneMCP, ""},
	{"MCP: /mcp/<server>, any other method", `{ prefix: /mcp/ }`, "", 0, false, mapping.PlaneMCP, ""},
	{"every other route: OpenAI's paths under /v1", "", "", 0, false, mapping.PlaneModel, mapping.DialectOpenAI},
}

// Where the json_to_metadata filter puts a JSON-RPC request's id: the dynamic metadata the
// fail-closed reply on an MCP POST reads it from.
const (
	JSONRPCIDNamespace = "io.hopguard"
	JSONRPCIDKey       = "jsonrpc_id"
)

// jsonrpcIDCommand is the Envoy format command that yields the request's JSON-RPC id, its JSON
// type kept in a json_format body.
const jsonrpcIDCommand = "%DYNAMIC_METADATA(" + JSONRPCIDNamespace + ":" + JSONRPCIDKey + ")%"

// templateData is Params in the shape the template reads.
type templateData struct {
	Listen, Admin, LLM endpoint
	Synapse            []endpoint
	MCPServers         []templateServer
	Provider           *templateProvider
	ProviderKey        string
	MaxRequestBytes    int
	AuthzTimeout       string
	WithoutAuthz       bool
	FailClosedReplies  []templateReply
	OTLPCollector      *endpoint
	JSONRPCIDNamespace string
	JSONRPCIDKey       string
}

// templateReply is one local reply mapper of the fail-closed 503.
type templateReply struct {
	Route     string
	PathMatch string
	Method    string
	Status    int
	Body      string // a YAML double-quoted scalar
	// JSONFormat, when set, is the body as an Envoy json_format (a JSON object, which is YAML
	// flow), used instead of Body.
	JSONFormat string
}

// templateReplies renders failClosedReplies for the template. A body becomes an Envoy format
// string, where "%" starts a command: none may hold one.
func templateReplies() ([]templateReply, error) {
	var out []templateReply
	for _, r := range failClosedReplies {
		body := respond.GatewayUnavailableBody(r.plane, r.dialect)
		if strings.Contains(body, "%") {
			return nil, fmt.Errorf("the fail-closed body of %s holds %%, a format command to Envoy: %s", r.route, body)
		}
		quoted, err := json.Marshal(body) // a JSON string is a YAML double-quoted scalar
		if err != nil {
			return nil, err
		}
		reply := templateReply{Route: r.route, PathMatch: r.pathMatch, Method: r.method, Status: r.status, Body: string(quoted)}
		if r.answerID {
			if reply.JSONFormat, err = answeringID(body); err != nil {
				return nil, fmt.Errorf("the fail-closed body of %s: %w", r.route, err)
			}
		}
		out = append(out, reply)
	}
	return out, nil
}

type templateProvider struct {
	Host      string
	Port      uint16
	CAFile    string
	KeyEnv    string
	KeyHeader string
	KeyPrefix string // "Bearer " for authorization, nothing for x-api-key
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
		ProviderKey:     p.ProviderKey,
		MaxRequestBytes: p.MaxRequestBytes,
		// Envoy reads durations as protobuf JSON: seconds with up to nine decimals.
		AuthzTimeout: fmt.Sprintf("%.3fs", p.AuthzTimeout.Seconds()),
		WithoutAuthz: p.WithoutAuthz,
	}
	if p.OTLPCollector.IsValid() {
		collector := toEndpoint(p.OTLPCollector)
		data.OTLPCollector = &collector
	}
	replies, err := templateReplies()
	if err != nil {
		return nil, fmt.Errorf("envoy config: %w", err)
	}
	data.FailClosedReplies = replies
	data.JSONRPCIDNamespace, data.JSONRPCIDKey = JSONRPCIDNamespace, JSONRPCIDKey
	if pr := p.Provider; pr != nil {
		data.Provider = &templateProvider{Host: pr.Host, Port: pr.Port, CAFile: pr.CAFile, KeyEnv: pr.KeyEnv, KeyHeader: pr.KeyHeader}
		if pr.KeyHeader == "authorization" {
			data.Provider.KeyPrefix = "Bearer "
		}
	} else {
		data.LLM = toEndpoint(p.LLM)
	}
	for _, ap := range p.Synapse {
		data.Synapse = append(data.Synapse, toEndpoint(ap))
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

// answeringID turns a JSON-RPC body with id null into an Envoy json_format whose id is the
// request's (jsonrpcIDCommand).
func answeringID(body string) (string, error) {
	var reply map[string]any
	if err := json.Unmarshal([]byte(body), &reply); err != nil {
		return "", err
	}
	if id, ok := reply["id"]; !ok || id != nil {
		return "", fmt.Errorf("not a JSON-RPC answer with id null: %s", body)
	}
	reply["id"] = jsonrpcIDCommand
	out, err := json.Marshal(reply)
	return string(out), err
}

package mapping

import (
	"fmt"
	"strings"
)

// Plane is the kind of traffic a route carries.
type Plane int

// The planes; the zero value means the route was not understood.
const (
	PlaneUnknown Plane = iota
	PlaneModel         // resource "llm": OpenAI and Anthropic model APIs
	PlaneMCP           // resource "mcp:<server>": MCP streamable HTTP
)

func (p Plane) String() string {
	switch p {
	case PlaneModel:
		return "model"
	case PlaneMCP:
		return "mcp"
	default:
		return "unknown"
	}
}

// Route resources.
const (
	ResourceLLM       = "llm"
	MCPResourcePrefix = "mcp:"
	maxServerName     = 63
)

// ParseResource checks a route resource and returns its plane and, for MCP, the server name.
// The name must start with a lower-case letter and use only [a-z0-9_-]: it becomes part of the
// Cerbos resource kind and of every tool's resource id.
func ParseResource(resource string) (Plane, string, error) {
	plane, server, err := parseResource(resource)
	if err != nil {
		return PlaneUnknown, "", err
	}
	return plane, server, nil
}

func parseResource(resource string) (Plane, string, *Error) {
	if resource == ResourceLLM {
		return PlaneModel, "", nil
	}
	server, ok := strings.CutPrefix(resource, MCPResourcePrefix)
	if !ok || !validServerName(server) {
		return PlaneUnknown, "", deny(CodeInvalidResource, "route resource %q is neither %q nor %q followed by a server name",
			clip(resource), ResourceLLM, MCPResourcePrefix)
	}
	return PlaneMCP, server, nil
}

func validServerName(s string) bool {
	if s == "" || len(s) > maxServerName || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Route maps request paths to a route resource, for gateways that send no context_extensions
// (Istio). A PathPrefix that ends in "/" matches every path below it ("/v1/" matches
// "/v1/chat/completions"); any other PathPrefix matches only that exact path ("/mcp/payments"
// matches neither "/mcp/payments/" nor "/mcp/payments/x").
type Route struct {
	PathPrefix string
	Resource   string
}

// RouteTable is synapse's own list of routes. The longest matching PathPrefix wins.
type RouteTable []Route

// Validate reports the first route with an unclean path prefix, an invalid resource, or a
// prefix listed twice. Configuration loading calls it; Lookup trusts the table.
func (t RouteTable) Validate() error {
	seen := make(map[string]bool, len(t))
	for i, r := range t {
		if err := checkPath(r.PathPrefix); err != nil {
			return fmt.Errorf("route %d: path prefix %q: %s", i, r.PathPrefix, err.Reason)
		}
		if _, _, err := ParseResource(r.Resource); err != nil {
			return fmt.Errorf("route %d: %w", i, err)
		}
		if seen[r.PathPrefix] {
			return fmt.Errorf("route %d: path prefix %q listed twice", i, r.PathPrefix)
		}
		seen[r.PathPrefix] = true
	}
	return nil
}

// Lookup returns the resource of the route for path (which may carry a query string). Only
// clean paths match: nothing is decoded or normalised, so "/mcp/payments/../payroll",
// "//mcp/payments", "/mcp/%70ayroll" and "/MCP/payments" match no route at all.
func (t RouteTable) Lookup(path string) (string, bool) {
	path, _, _ = strings.Cut(path, "?")
	if checkPath(path) != nil {
		return "", false
	}
	best := -1
	for i, r := range t {
		if !matches(r.PathPrefix, path) {
			continue
		}
		if best < 0 || len(r.PathPrefix) > len(t[best].PathPrefix) {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	return t[best].Resource, true
}

func matches(prefix, path string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(path, prefix)
	}
	return path == prefix
}

// splitPath separates the path from the query and checks both.
func splitPath(target string) (string, *Error) {
	path, query, _ := strings.Cut(target, "?")
	if err := checkPath(path); err != nil {
		return "", err
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return "", deny(CodeInvalidPath, "request query has a byte (%q) outside printable ASCII", c)
		}
	}
	return path, nil
}

// checkPath accepts only a path a router and an upstream cannot read two ways: it starts with
// "/", has no empty, "." or ".." segment, and uses only unreserved characters and sub-delimiters
// other than ";" (no percent-encoding, no backslash, no matrix parameters).
func checkPath(path string) *Error {
	if !strings.HasPrefix(path, "/") {
		return deny(CodeInvalidPath, "request path must start with \"/\"")
	}
	for i := 0; i < len(path); i++ {
		if !pathByte(path[i]) {
			return deny(CodeInvalidPath, "request path has a byte (%q) synapse does not accept; percent-encoding is refused", path[i])
		}
	}
	// Every segment after the leading "/" must be a real name; an empty last segment is a
	// trailing slash, which is allowed here and simply matches no exact route.
	for rest := path[1:]; ; {
		seg, after, more := strings.Cut(rest, "/")
		switch {
		case seg == "." || seg == "..":
			return deny(CodeInvalidPath, "request path has a dot segment")
		case seg == "" && more:
			return deny(CodeInvalidPath, "request path has an empty segment (\"//\")")
		}
		if !more {
			return nil
		}
		rest = after
	}
}

func pathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~/!$&'()*+,=:@", c) >= 0
}

// clip shortens client-controlled text quoted in a reason.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

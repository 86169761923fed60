// Package istio serves Istio's own translation of hopguard's Istio manifests to an upstream
// Envoy. The xDS in generated/ is what Istio's pilot pushes to an ingress gateway (written by
// the generator module in generator/, which the main module never imports); Build loads it and
// makes only the changes that upstream Envoy and a run's ports require, and names each one, so
// the portability report can say exactly how the Istio column differs from istiod's push.
package istio

import (
	"embed"
	"errors"
	"fmt"
	"net/netip"
	"regexp"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

//go:embed generated/*.json
var generated embed.FS

// Pilot is the Istio whose pilot wrote generated/ (the generator module's requirement; a test
// holds the two together).
const Pilot = "istio.io/istio v0.0.0-20260827124520-eed52ebb66ad"

// MCPServer is one MCP upstream, reached through the route /mcp/<Name>.
type MCPServer struct {
	Name string
	Addr netip.AddrPort
}

// Params are the addresses of one run. Every address must be a loopback address.
type Params struct {
	Listen netip.AddrPort // where agents connect to the gateway
	// Synapse are the ext_authz gRPC ports of synapse's replicas, at least one: the gateway
	// balances its checks across them (destinationrule.yaml).
	Synapse    []netip.AddrPort
	LLM        netip.AddrPort // the model upstream
	MCPServers []MCPServer    // exactly the MCP servers the Istio manifests route to
}

// Resources are the xDS resources to serve to the gateway, each list sorted by name as pilot's
// output was written. Routes refer to clusters, listeners to routes (RDS) and clusters to their
// endpoints (EDS), all over ADS.
type Resources struct {
	Listeners []*listener.Listener
	Routes    []*route.RouteConfiguration
	Clusters  []*cluster.Cluster
	Endpoints []*endpoint.ClusterLoadAssignment
}

// Change is one difference from what pilot generated, for the report.
type Change struct {
	Resource string // e.g. "listener 0.0.0.0_8080", "cluster outbound|19191||synapse.hopguard.local"
	What     string
	Why      string
}

func (c Change) String() string { return fmt.Sprintf("%s: %s (%s)", c.Resource, c.What, c.Why) }

// Build loads pilot's xDS for the ingress gateway and adapts it to upstream Envoy and the run's
// addresses. It returns every change it made, in a stable order.
func Build(p Params) (*Resources, []Change, error) {
	if err := p.validate(); err != nil {
		return nil, nil, fmt.Errorf("istio gateway params: %w", err)
	}
	res, changes, err := load()
	if err != nil {
		return nil, nil, err
	}
	adapted, err := adapt(res, p)
	if err != nil {
		return nil, nil, err
	}
	return res, append(changes, adapted...), nil
}

var mcpServerName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

func (p Params) validate() error {
	var errs []error
	check := func(what string, a netip.AddrPort) {
		if !a.IsValid() || a.Port() == 0 {
			errs = append(errs, fmt.Errorf("%s: address %q is not set", what, a))
		} else if !a.Addr().IsLoopback() {
			errs = append(errs, fmt.Errorf("%s: %s is not a loopback address", what, a))
		}
	}
	check("listen", p.Listen)
	if len(p.Synapse) == 0 {
		errs = append(errs, errors.New("synapse: no address: list the ext_authz port of at least one replica"))
	}
	replicas := map[netip.AddrPort]bool{}
	for _, a := range p.Synapse {
		check("synapse", a)
		if replicas[a] {
			errs = append(errs, fmt.Errorf("synapse: %s is listed twice", a))
		}
		replicas[a] = true
	}
	check("llm", p.LLM)
	seen := map[string]bool{}
	for _, s := range p.MCPServers {
		if !mcpServerName.MatchString(s.Name) {
			errs = append(errs, fmt.Errorf("MCP server name %q is not a plain lower-case name", s.Name))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("MCP server %q is listed twice", s.Name))
		}
		seen[s.Name] = true
		check("MCP server "+s.Name, s.Addr)
	}
	return errors.Join(errs...)
}

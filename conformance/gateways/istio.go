package gateways

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/gateway-configs/istio"
)

// Istio's component names and files.
const (
	// IstioXDS is the component serving Istio's translation over ADS (conformance/cmd/istio-xds).
	IstioXDS = "istio-xds"
	// IstioNodeID is the node id of the gateway's Envoy, which the xDS server serves.
	IstioNodeID = "hopguard-istio-gateway"
	// IstioBootstrapFile is the Envoy bootstrap in the gateway's directory: ADS only.
	IstioBootstrapFile = "envoy-bootstrap.json"
	// IstioChangesFile lists, in the xDS server's directory, every change made to pilot's output.
	IstioChangesFile = "changes.txt"
)

// istioBehaviour is how Istio's own translation behaves where it differs from
// gateway-configs/envoy in a way the suite allows for, or reaches the same behaviour another way;
// each was seen in this suite's runs.
var istioBehaviour = []string{
	"synapse unreachable: the reply is Istio's own 503 (ext_authz statusOnError) with no body; its extension provider has no setting for that reply, so an EnvoyFilter (gateway-configs/istio/envoyfilter.yaml) merges Envoy's local reply mappers into the gateway: it carries x-hopguard-decision: deny, x-should-retry: false, x-hopguard-code: authz_unavailable and the route's JSON body with code authz_unavailable, and answers an MCP POST with 200 and the JSON-RPC error (-32011), as under Envoy",
	"synapse's decisions come from its route table (synapse-routes.yaml): Istio sends no context extensions",
	"unrouted paths (/admin/config, /mcp/TICKETS, /mcp/tickets/) get 404 from the gateway without an authorization check, as under Envoy",
	"escaped slashes (/mcp/tickets%2F..%2Fpayroll) are kept as they are (pathWithEscapedSlashesAction KEEP_UNCHANGED), so no route matches: 404, where Envoy's config rejects them with 400",
	"the VirtualService's prefix /v1 is a string prefix, so /v1beta/... is routed to the LLM and checked: synapse's route table has no entry for it and denies it (unknown_route, 403), where Envoy's path_separated_prefix answers 404 itself",
}

// Istio is Istio's own translation of gateway-configs/istio (pilot's xDS for an ingress
// gateway, with only the changes upstream Envoy needs) served over ADS by the companion
// IstioXDS to an upstream Envoy that has nothing but an ADS bootstrap.
type Istio struct {
	mu      sync.Mutex
	detail  string
	changes []istio.Change
}

var (
	_ Gateway    = (*Istio)(nil)
	_ Companions = (*Istio)(nil)
	_ Profiled   = (*Istio)(nil)
)

// Name implements Gateway.
func (*Istio) Name() string { return "istio" }

// Detail implements Gateway.
func (g *Istio) Detail() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.detail
}

// Profile implements Profiled: every change made to pilot's output in this run, then the
// behaviour the suite allows for.
func (g *Istio) Profile() Profile {
	g.mu.Lock()
	defer g.mu.Unlock()
	var notes []string
	for _, c := range g.changes {
		notes = append(notes, "changed from pilot's output: "+c.String())
	}
	return Profile{Notes: append(notes, istioBehaviour...)}
}

// Companions implements Companions: the xDS server, ready once it serves the snapshot.
func (g *Istio) Companions(context.Context) ([]env.Component, error) {
	return []env.Component{{
		Name:    IstioXDS,
		Program: env.Program{Package: "./conformance/cmd/istio-xds"},
		Ports:   []string{stack.PortGRPC},
		// The same changes the server makes, written down for the run's evidence and the report.
		Files: []env.File{{Name: IstioChangesFile, Render: g.renderChanges}},
		Args: func(l env.Layout) []string {
			p := IstioParams(l, g.Name())
			args := []string{
				"--addr=" + l.Addr(IstioXDS, stack.PortGRPC).String(),
				"--node-id=" + IstioNodeID,
				"--gateway=" + p.Listen.String(),
				"--llm=" + p.LLM.String(),
			}
			for _, a := range p.Synapse {
				args = append(args, "--synapse="+a.String())
			}
			for _, s := range p.MCPServers {
				args = append(args, "--mcp="+s.Name+"="+s.Addr.String())
			}
			return args
		},
		Ready: env.Probe{Kind: env.ProbeGRPC, Port: stack.PortGRPC},
	}}, nil
}

// Component implements Gateway: Envoy with an ADS-only bootstrap. Envoy turns LIVE only once
// its first listeners have warmed (their routes and the clusters' endpoints received over ADS),
// so its /ready means the front door serves.
func (g *Istio) Component(ctx context.Context) (env.Component, error) {
	name := g.Name()
	c, version, err := envoyComponent(ctx, name, env.File{Name: IstioBootstrapFile, Render: func(l env.Layout) ([]byte, error) {
		return istioBootstrap(l.Addr(name, stack.PortAdmin), l.Addr(IstioXDS, stack.PortGRPC))
	}})
	if err != nil {
		return env.Component{}, err
	}
	g.mu.Lock()
	g.detail = fmt.Sprintf("Envoy %s with only an ADS bootstrap; listeners, routes, clusters and endpoints are Istio's own translation of gateway-configs/istio (pilot %s), served by %s",
		version, strings.TrimPrefix(istio.Pilot, "istio.io/istio "), IstioXDS)
	g.mu.Unlock()
	return c, nil
}

// IstioParams are the addresses istio.Build is given in layout l for the gateway called name.
func IstioParams(l env.Layout, name string) istio.Params {
	p := istio.Params{
		Listen:  l.Addr(name, stack.PortHTTP),
		Synapse: stack.SynapseAddrs(l),
		LLM:     l.Addr(stack.LLM, stack.PortHTTP),
	}
	for _, server := range stack.MCPServers() {
		p.MCPServers = append(p.MCPServers, istio.MCPServer{Name: server, Addr: l.Addr(stack.MCPComponent(server), stack.PortHTTP)})
	}
	return p
}

// renderChanges builds the run's resources as the xDS server will and keeps the changes.
func (g *Istio) renderChanges(l env.Layout) ([]byte, error) {
	_, changes, err := istio.Build(IstioParams(l, g.Name()))
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.changes = changes
	g.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "# What %s changes in pilot's output (gateway-configs/istio/generated) for this run.\n", IstioXDS)
	for _, c := range changes {
		fmt.Fprintf(&b, "%s\n", c)
	}
	return []byte(b.String()), nil
}

package istio

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

// The hosts the manifests register (serviceentries.yaml) and what each one stands for.
const (
	llmHost       = "llm.hopguard.local"
	synapseHost   = "synapse.hopguard.local"
	mcpHostSuffix = ".mcp.hopguard.local"
)

const istioClusterFilter = "istio.metadata_exchange"

// adapt makes the changes that do not need to happen before decoding.
func adapt(res *Resources, p Params) ([]Change, error) {
	changes, err := rebindListeners(res.Listeners, p.Listen)
	if err != nil {
		return nil, err
	}
	changes = append(changes, stripClusters(res.Clusters)...)
	moved, err := moveEndpoints(res.Endpoints, p)
	if err != nil {
		return nil, err
	}
	return append(changes, moved...), nil
}

// rebindListeners moves the Gateway's listener from 0.0.0.0:<placeholder> to the run's loopback
// address. Its name, and the route name it refers to, stay as pilot made them.
func rebindListeners(listeners []*listener.Listener, listen netip.AddrPort) ([]Change, error) {
	if len(listeners) != 1 {
		return nil, fmt.Errorf("istio gateway: pilot generated %d listeners, want the Gateway's one", len(listeners))
	}
	l := listeners[0]
	sock := l.GetAddress().GetSocketAddress()
	if sock == nil {
		return nil, fmt.Errorf("istio gateway: listener %s has no socket address", l.GetName())
	}
	from := fmt.Sprintf("%s:%d", sock.GetAddress(), sock.GetPortValue())
	sock.Address = listen.Addr().String()
	sock.PortSpecifier = &core.SocketAddress_PortValue{PortValue: uint32(listen.Port())}
	return []Change{{
		Resource: "listener " + l.GetName(),
		What:     fmt.Sprintf("address %s -> %s", from, listen),
		Why:      "the Gateway's port is a placeholder; the run picks the port and binds loopback only",
	}}, nil
}

// stripClusters removes Istio's upstream metadata exchange filter and its mesh mTLS matches.
func stripClusters(clusters []*cluster.Cluster) []Change {
	var changes []Change
	for _, c := range clusters {
		kept := slices.DeleteFunc(c.GetFilters(), func(f *cluster.Filter) bool { return f.GetName() == istioClusterFilter })
		if len(kept) != len(c.GetFilters()) {
			changes = append(changes, Change{
				Resource: "cluster " + c.GetName(),
				What:     "removed upstream network filter " + istioClusterFilter,
				Why:      "Istio-only extension; upstream Envoy rejects the cluster",
			})
		}
		c.Filters = kept
		if len(c.GetTransportSocketMatches()) > 0 {
			changes = append(changes, Change{
				Resource: "cluster " + c.GetName(),
				What:     "removed transport_socket_matches (mesh mTLS tlsMode-istio; plaintext remains, as tlsMode-disabled)",
				Why:      "mesh certificates come over SDS from istio-agent's sds-grpc cluster, which does not exist here; Envoy would wait for them forever",
			})
			c.TransportSocketMatches = nil
		}
	}
	return changes
}

// moveEndpoints points each load assignment at the run's address for its upstream.
func moveEndpoints(cla []*endpoint.ClusterLoadAssignment, p Params) ([]Change, error) {
	mcp := map[string]netip.AddrPort{}
	for _, s := range p.MCPServers {
		mcp[s.Name] = s.Addr
	}
	used := map[string]bool{}
	var changes []Change
	var errs []error
	for _, a := range cla {
		host, err := clusterHost(a.GetClusterName())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var to netip.AddrPort
		switch server, isMCP := strings.CutSuffix(host, mcpHostSuffix); {
		case host == llmHost:
			to = p.LLM
		case host == synapseHost:
			to = p.Synapse
		case isMCP:
			addr, ok := mcp[server]
			if !ok {
				errs = append(errs, fmt.Errorf("no address for MCP server %q, which the Istio config routes to", server))
				continue
			}
			used[server] = true
			to = addr
		default:
			errs = append(errs, fmt.Errorf("cluster %s: upstream %s is not one hopguard runs", a.GetClusterName(), host))
			continue
		}
		change, err := moveEndpoint(a, to)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		changes = append(changes, change)
	}
	for _, s := range p.MCPServers {
		if !used[s.Name] {
			errs = append(errs, fmt.Errorf("MCP server %q has no route in the Istio config", s.Name))
		}
	}
	return changes, errors.Join(errs...)
}

// clusterHost returns the host of an Istio outbound cluster name, outbound|<port>|<subset>|<host>.
func clusterHost(name string) (string, error) {
	parts := strings.Split(name, "|")
	if len(parts) != 4 || parts[0] != "outbound" || parts[3] == "" {
		return "", fmt.Errorf("cluster %q is not an Istio outbound cluster", name)
	}
	return parts[3], nil
}

func moveEndpoint(a *endpoint.ClusterLoadAssignment, to netip.AddrPort) (Change, error) {
	var lbs []*endpoint.LbEndpoint
	for _, l := range a.GetEndpoints() {
		lbs = append(lbs, l.GetLbEndpoints()...)
	}
	if len(lbs) != 1 {
		return Change{}, fmt.Errorf("cluster %s: %d endpoints, want the ServiceEntry's one", a.GetClusterName(), len(lbs))
	}
	sock := lbs[0].GetEndpoint().GetAddress().GetSocketAddress()
	if sock == nil {
		return Change{}, fmt.Errorf("cluster %s: endpoint has no socket address", a.GetClusterName())
	}
	from := fmt.Sprintf("%s:%d", sock.GetAddress(), sock.GetPortValue())
	sock.Address = to.Addr().String()
	sock.PortSpecifier = &core.SocketAddress_PortValue{PortValue: uint32(to.Port())}
	return Change{
		Resource: "endpoints " + a.GetClusterName(),
		What:     fmt.Sprintf("endpoint %s -> %s", from, to),
		Why:      "the ServiceEntry's port is a placeholder; the run picks the port",
	}, nil
}

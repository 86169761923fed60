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
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
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
		var to []netip.AddrPort
		switch server, isMCP := strings.CutSuffix(host, mcpHostSuffix); {
		case host == llmHost:
			to = []netip.AddrPort{p.LLM}
		case host == synapseHost:
			to = p.Synapse
		case isMCP:
			addr, ok := mcp[server]
			if !ok {
				errs = append(errs, fmt.Errorf("no address for MCP server %q, which the Istio config routes to", server))
				continue
			}
			used[server] = true
			to = []netip.AddrPort{addr}
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

// moveEndpoint points a load assignment at the run's addresses for its upstream: one for every
// upstream but synapse, one per replica for synapse. The ServiceEntry lists one endpoint, so
// pilot wrote one; each address gets a copy of it, made as pilot makes the endpoints of a
// ServiceEntry that lists several (the generator's TestServiceEntryEndpointsAreCopiesOfTheFirst
// holds pilot to it): the i-th (from 0) is workload <entry>-<i> in the endpoint's Istio
// metadata, and the locality's weight is the sum of its endpoints'.
func moveEndpoint(a *endpoint.ClusterLoadAssignment, to []netip.AddrPort) (Change, error) {
	var count int
	for _, l := range a.GetEndpoints() {
		count += len(l.GetLbEndpoints())
	}
	if count != 1 || len(a.GetEndpoints()) != 1 {
		return Change{}, fmt.Errorf("cluster %s: %d endpoints in %d localities, want the ServiceEntry's one", a.GetClusterName(), count, len(a.GetEndpoints()))
	}
	locality := a.GetEndpoints()[0]
	first := locality.GetLbEndpoints()[0]
	sock := first.GetEndpoint().GetAddress().GetSocketAddress()
	if sock == nil {
		return Change{}, fmt.Errorf("cluster %s: endpoint has no socket address", a.GetClusterName())
	}
	from := fmt.Sprintf("%s:%d", sock.GetAddress(), sock.GetPortValue())
	lbs := make([]*endpoint.LbEndpoint, 0, len(to))
	var weight uint32
	for i, addr := range to {
		lb := proto.Clone(first).(*endpoint.LbEndpoint)
		sock := lb.GetEndpoint().GetAddress().GetSocketAddress()
		sock.Address = addr.Addr().String()
		sock.PortSpecifier = &core.SocketAddress_PortValue{PortValue: uint32(addr.Port())}
		if i > 0 {
			if err := nameWorkload(lb, i); err != nil {
				return Change{}, fmt.Errorf("cluster %s: %w", a.GetClusterName(), err)
			}
		}
		weight += lb.GetLoadBalancingWeight().GetValue()
		lbs = append(lbs, lb)
	}
	locality.LbEndpoints = lbs
	if locality.GetLoadBalancingWeight() != nil && weight > 0 {
		locality.LoadBalancingWeight = wrapperspb.UInt32(weight)
	}
	moved := make([]string, len(to))
	for i, addr := range to {
		moved[i] = addr.String()
	}
	change := Change{
		Resource: "endpoints " + a.GetClusterName(),
		What:     fmt.Sprintf("endpoint %s -> %s", from, strings.Join(moved, ", ")),
		Why:      "the ServiceEntry's port is a placeholder; the run picks the port",
	}
	if len(to) > 1 {
		change.What = fmt.Sprintf("endpoint %s -> one per replica: %s", from, strings.Join(moved, ", "))
		change.Why += "; its one endpoint stands for every replica, each copied as pilot writes the endpoints of a ServiceEntry that lists them"
	}
	return change, nil
}

// nameWorkload names the i-th endpoint of a ServiceEntry as pilot does: its Istio metadata's
// workload is "<entry>-<i>;<namespace>;<entry>-<i>;;<cluster>", where pilot wrote "<entry>-0"
// for the first.
func nameWorkload(lb *endpoint.LbEndpoint, i int) error {
	fields := lb.GetMetadata().GetFilterMetadata()["istio"].GetFields()
	workload := fields["workload"].GetStringValue()
	parts := strings.Split(workload, ";")
	entry, ok := strings.CutSuffix(parts[0], "-0")
	if len(parts) < 3 || !ok || parts[2] != parts[0] {
		return fmt.Errorf("endpoint's Istio workload %q is not pilot's <entry>-0;<namespace>;<entry>-0;...", workload)
	}
	parts[0] = fmt.Sprintf("%s-%d", entry, i)
	parts[2] = parts[0]
	fields["workload"] = structpb.NewStringValue(strings.Join(parts, ";"))
	return nil
}

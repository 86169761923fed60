// Package translate runs Istio's own pilot over hopguard's manifests, offline, and returns the
// xDS resources istiod would push to the ingress gateway. Nothing here builds Envoy config by
// hand: every listener, route, cluster and endpoint comes out of pilot's translation.
package translate

import (
	"cmp"
	"fmt"
	"slices"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/test"
)

// Resources are the xDS resources of one proxy, each list sorted by name.
type Resources struct {
	Listeners []*listener.Listener
	Routes    []*route.RouteConfiguration
	Clusters  []*cluster.Cluster
	Endpoints []*endpoint.ClusterLoadAssignment
}

// Input is what istiod would read: the MeshConfig YAML (pilot applies its defaults) and the
// config resources as a multi-document YAML stream.
type Input struct {
	MeshYAML string
	Configs  string
}

// The ingress gateway the AuthorizationPolicy and the Gateway select. The address only names
// the proxy to pilot; no traffic goes to it.
const (
	gatewayNamespace = "istio-system"
	gatewayAddress   = "10.0.0.1"
)

var gatewayLabels = map[string]string{"istio": "ingressgateway"}

// Translate runs pilot's translation for the ingress gateway. pilot's fake discovery server
// wants a test.Failer; test.Wrap gives it one that turns a failure into the returned error and
// shuts the server down before returning.
func Translate(in Input) (*Resources, error) {
	meshConfig, err := mesh.ApplyMeshConfigDefaults(in.MeshYAML)
	if err != nil {
		return nil, fmt.Errorf("apply mesh config defaults: %w", err)
	}
	var res *Resources
	err = test.Wrap(func(t test.Failer) {
		s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
			ConfigString: in.Configs,
			MeshConfig:   meshConfig,
		})
		proxy := s.SetupProxy(ingressGateway())
		res = &Resources{
			Listeners: s.Listeners(proxy),
			Routes:    s.Routes(proxy),
			Clusters:  s.Clusters(proxy),
			Endpoints: s.Endpoints(proxy),
		}
	})
	if err != nil {
		return nil, fmt.Errorf("pilot translation: %w", err)
	}
	res.sort()
	return res, nil
}

func ingressGateway() *model.Proxy {
	return &model.Proxy{
		Type:            model.Router,
		ConfigNamespace: gatewayNamespace,
		Labels:          gatewayLabels,
		Metadata: &model.NodeMetadata{
			Labels:    gatewayLabels,
			Namespace: gatewayNamespace,
		},
		IPAddresses: []string{gatewayAddress},
	}
}

// sort orders every list by name, so the written files do not depend on map iteration in pilot.
func (r *Resources) sort() {
	slices.SortFunc(r.Listeners, func(a, b *listener.Listener) int { return cmp.Compare(a.GetName(), b.GetName()) })
	slices.SortFunc(r.Routes, func(a, b *route.RouteConfiguration) int { return cmp.Compare(a.GetName(), b.GetName()) })
	slices.SortFunc(r.Clusters, func(a, b *cluster.Cluster) int { return cmp.Compare(a.GetName(), b.GetName()) })
	slices.SortFunc(r.Endpoints, func(a, b *endpoint.ClusterLoadAssignment) int {
		return cmp.Compare(a.GetClusterName(), b.GetClusterName())
	})
}

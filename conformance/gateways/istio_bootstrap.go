package gateways

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	bootstrap "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// xdsCluster is the bootstrap's one static cluster: the xDS server.
const (
	xdsCluster     = "istio-xds"
	connectTimeout = time.Second
)

// istioBootstrap is the gateway Envoy's bootstrap: who it is (the node the xDS server serves),
// its admin interface, and ADS for everything else. Nothing of Istio's configuration is in it.
func istioBootstrap(admin, xds netip.AddrPort) ([]byte, error) {
	if !admin.Addr().IsLoopback() || !xds.Addr().IsLoopback() {
		return nil, fmt.Errorf("istio bootstrap: admin %s and xDS %s must be loopback addresses", admin, xds)
	}
	h2, err := anypb.New(&upstreamhttp.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &core.Http2ProtocolOptions{}},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("istio bootstrap: %w", err)
	}
	ads := &core.ConfigSource{
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
		ResourceApiVersion:    core.ApiVersion_V3,
	}
	b := &bootstrap.Bootstrap{
		Node:  &core.Node{Id: IstioNodeID, Cluster: IstioNodeID},
		Admin: &bootstrap.Admin{Address: socketAddress(admin)},
		DynamicResources: &bootstrap.Bootstrap_DynamicResources{
			AdsConfig: &core.ApiConfigSource{
				ApiType:                   core.ApiConfigSource_GRPC,
				TransportApiVersion:       core.ApiVersion_V3,
				SetNodeOnFirstMessageOnly: true,
				GrpcServices: []*core.GrpcService{{
					TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: xdsCluster}},
				}},
			},
			CdsConfig: ads,
			LdsConfig: ads,
		},
		StaticResources: &bootstrap.Bootstrap_StaticResources{
			Clusters: []*cluster.Cluster{{
				Name:                          xdsCluster,
				ClusterDiscoveryType:          &cluster.Cluster_Type{Type: cluster.Cluster_STATIC},
				ConnectTimeout:                durationpb.New(connectTimeout),
				TypedExtensionProtocolOptions: map[string]*anypb.Any{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": h2},
				LoadAssignment: &endpoint.ClusterLoadAssignment{
					ClusterName: xdsCluster,
					Endpoints: []*endpoint.LocalityLbEndpoints{{LbEndpoints: []*endpoint.LbEndpoint{{
						HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{Address: socketAddress(xds)}},
					}}}},
				},
			}},
		},
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("istio bootstrap: %w", err)
	}
	compact, err := protojson.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("istio bootstrap: %w", err)
	}
	// protojson's own whitespace is deliberately unstable; re-indent for a file people read.
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, fmt.Errorf("istio bootstrap: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func socketAddress(a netip.AddrPort) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Address:       a.Addr().String(),
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: uint32(a.Port())},
	}}}
}

package xds_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hopguard/hopguard/conformance/xds"
	"github.com/hopguard/hopguard/gateway-configs/istio"
)

const node = "test-node"

func at(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
}

func istioResources(t *testing.T) *istio.Resources {
	t.Helper()
	res, _, err := istio.Build(istio.Params{
		Listen: at(28080), Synapse: []netip.AddrPort{at(28091)}, LLM: at(28001),
		MCPServers: []istio.MCPServer{
			{Name: "tickets", Addr: at(28101)}, {Name: "crm", Addr: at(28102)},
			{Name: "payments", Addr: at(28103)}, {Name: "payroll", Addr: at(28104)},
			{Name: "knowledge", Addr: at(28105)}, {Name: "conformance", Addr: at(28110)},
		},
	})
	require.NoError(t, err)
	return res
}

// serve starts a server on a free loopback port; it stops when the test ends, and the test
// fails if it does not return.
func serve(t *testing.T, res *istio.Resources) (*xds.Server, *grpc.ClientConn, context.CancelFunc) {
	t.Helper()
	srv, err := xds.New(t.Context(), xds.Config{NodeID: node, Version: "v1", Resources: res.ByType()})
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return srv, conn, cancel
}

func TestServesTheSnapshotOverADS(t *testing.T) {
	res := istioResources(t)
	srv, conn, _ := serve(t, res)

	health, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, health.GetStatus())

	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(t.Context())
	require.NoError(t, err)
	for _, typ := range []resource.Type{resource.ClusterType, resource.ListenerType} {
		req := &discovery.DiscoveryRequest{TypeUrl: typ}
		if typ == resource.ClusterType {
			req.Node = &core.Node{Id: node}
		}
		require.NoError(t, stream.Send(req))
		resp, err := stream.Recv()
		require.NoError(t, err)
		assert.Equal(t, typ, resp.GetTypeUrl())
		assert.Equal(t, "v1", resp.GetVersionInfo())
		assert.Len(t, resp.GetResources(), len(res.ByType()[typ]), typ)
		if typ == resource.ListenerType {
			var l listener.Listener
			require.NoError(t, resp.GetResources()[0].UnmarshalTo(&l))
			assert.Equal(t, "127.0.0.1", l.GetAddress().GetSocketAddress().GetAddress())
			assert.EqualValues(t, 28080, l.GetAddress().GetSocketAddress().GetPortValue())
		}
	}
	select {
	case <-srv.Connected():
	default:
		t.Fatal("the server did not notice the node connecting")
	}
}

func TestRefusesAnotherNode(t *testing.T) {
	srv, conn, _ := serve(t, istioResources(t))
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(t.Context())
	require.NoError(t, err)
	require.NoError(t, stream.Send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType, Node: &core.Node{Id: "stranger"}}))
	_, err = stream.Recv()
	require.Error(t, err, "a stranger gets an error, not a watch that never answers")
	assert.Contains(t, err.Error(), "stranger")
	select {
	case <-srv.Connected():
		t.Fatal("a refused node counts as connected")
	default:
	}
}

// Serve returns once its context ends, even with Envoy's ADS stream still open.
func TestStopsWithItsContextWhileAStreamIsOpen(t *testing.T) {
	_, conn, cancel := serve(t, istioResources(t))
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(t.Context())
	require.NoError(t, err)
	require.NoError(t, stream.Send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType, Node: &core.Node{Id: node}}))
	_, err = stream.Recv()
	require.NoError(t, err)
	cancel() // the cleanup in serve fails the test if Serve does not return
}

func TestRefusesAnInconsistentSnapshot(t *testing.T) {
	res := istioResources(t)
	byType := res.ByType()
	byType[resource.RouteType] = []types.Resource{} // the listener's RDS name is no longer served
	_, err := xds.New(t.Context(), xds.Config{NodeID: node, Version: "v1", Resources: byType})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not consistent")

	_, err = xds.New(t.Context(), xds.Config{Version: "v1", Resources: res.ByType()})
	assert.Error(t, err, "a node id is required")
}

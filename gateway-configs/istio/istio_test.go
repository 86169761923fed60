package istio

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bootstrap "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	extprocfilter "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/internal/responsepathtest"
)

func at(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
}

func sampleParams() Params {
	return Params{
		Listen:  at(28080),
		Synapse: []netip.AddrPort{at(28091)},
		LLM:     at(28001),
		MCPServers: []MCPServer{
			{Name: "tickets", Addr: at(28101)},
			{Name: "crm", Addr: at(28102)},
			{Name: "payments", Addr: at(28103)},
			{Name: "payroll", Addr: at(28104)},
			{Name: "knowledge", Addr: at(28105)},
			{Name: "conformance", Addr: at(28110)},
		},
	}
}

func TestBuildMakesOnlyTheListedChanges(t *testing.T) {
	res, changes, err := Build(sampleParams())
	require.NoError(t, err)

	var got []string
	for _, c := range changes {
		assert.NotEmpty(t, c.Why, c.String())
		got = append(got, c.Resource+": "+c.What)
	}
	const tls = "removed transport_socket_matches (mesh mTLS tlsMode-istio; plaintext remains, as tlsMode-disabled)"
	const mx = "removed upstream network filter istio.metadata_exchange"
	assert.Equal(t, []string{
		"listener 0.0.0.0_8080: removed HTTP filter istio.metadata_exchange",
		"listener 0.0.0.0_8080: removed HTTP filter istio.alpn",
		"listener 0.0.0.0_8080: address 0.0.0.0:8080 -> 127.0.0.1:28080",
		"cluster outbound|18001||llm.hopguard.local: " + mx,
		"cluster outbound|18101||tickets.mcp.hopguard.local: " + mx,
		"cluster outbound|18101||tickets.mcp.hopguard.local: " + tls,
		"cluster outbound|18102||crm.mcp.hopguard.local: " + mx,
		"cluster outbound|18102||crm.mcp.hopguard.local: " + tls,
		"cluster outbound|18103||payments.mcp.hopguard.local: " + mx,
		"cluster outbound|18103||payments.mcp.hopguard.local: " + tls,
		"cluster outbound|18104||payroll.mcp.hopguard.local: " + mx,
		"cluster outbound|18104||payroll.mcp.hopguard.local: " + tls,
		"cluster outbound|18105||knowledge.mcp.hopguard.local: " + mx,
		"cluster outbound|18105||knowledge.mcp.hopguard.local: " + tls,
		"cluster outbound|18110||conformance.mcp.hopguard.local: " + mx,
		"cluster outbound|18110||conformance.mcp.hopguard.local: " + tls,
		"cluster outbound|19191||synapse.hopguard.local: " + mx,
		"cluster outbound|19191||synapse.hopguard.local: " + tls,
		"endpoints outbound|18001||llm.hopguard.local: endpoint 127.0.0.1:18001 -> 127.0.0.1:28001",
		"endpoints outbound|18101||tickets.mcp.hopguard.local: endpoint 127.0.0.1:18101 -> 127.0.0.1:28101",
		"endpoints outbound|18102||crm.mcp.hopguard.local: endpoint 127.0.0.1:18102 -> 127.0.0.1:28102",
		"endpoints outbound|18103||payments.mcp.hopguard.local: endpoint 127.0.0.1:18103 -> 127.0.0.1:28103",
		"endpoints outbound|18104||payroll.mcp.hopguard.local: endpoint 127.0.0.1:18104 -> 127.0.0.1:28104",
		"endpoints outbound|18105||knowledge.mcp.hopguard.local: endpoint 127.0.0.1:18105 -> 127.0.0.1:28105",
		"endpoints outbound|18110||conformance.mcp.hopguard.local: endpoint 127.0.0.1:18110 -> 127.0.0.1:28110",
		"endpoints outbound|19191||synapse.hopguard.local: endpoint 127.0.0.1:19191 -> 127.0.0.1:28091",
	}, got)

	// Routes are served exactly as pilot made them.
	routes, err := decodeFile[*route.RouteConfiguration](routesFile)
	require.NoError(t, err)
	require.Len(t, res.Routes, len(routes))
	for i := range routes {
		assert.True(t, proto.Equal(routes[i], res.Routes[i]), "route %s changed", routes[i].GetName())
	}
	// Clusters differ only by what the changes name.
	clusters, err := decodeFile[*cluster.Cluster](clustersFile)
	require.NoError(t, err)
	require.Len(t, res.Clusters, len(clusters))
	for i, c := range clusters {
		c.Filters, c.TransportSocketMatches = nil, nil
		assert.True(t, proto.Equal(c, res.Clusters[i]), "cluster %s changed beyond the listed changes", c.GetName())
	}
}

func TestBuildKeepsIstiosExtAuthz(t *testing.T) {
	res, _, err := Build(sampleParams())
	require.NoError(t, err)

	require.Len(t, res.Listeners, 1)
	sock := res.Listeners[0].GetAddress().GetSocketAddress()
	assert.Equal(t, "127.0.0.1", sock.GetAddress())
	assert.EqualValues(t, 28080, sock.GetPortValue())

	manager := connectionManager(t, res.Listeners[0])
	var names []string
	var authz *extauthz.ExtAuthz
	var proc *extprocfilter.ExternalProcessor
	for _, f := range manager.GetHttpFilters() {
		names = append(names, f.GetName())
		switch f.GetName() {
		case "envoy.filters.http.ext_authz":
			authz = &extauthz.ExtAuthz{}
			require.NoError(t, f.GetTypedConfig().UnmarshalTo(authz))
		case "envoy.filters.http.ext_proc":
			proc = responsepathtest.GrantedOnly(t, f.GetTypedConfig())
		}
	}
	assert.Equal(t, []string{
		"envoy.filters.http.rbac", "envoy.filters.http.json_to_metadata", "envoy.filters.http.ext_authz", "envoy.filters.http.ext_proc",
		"envoy.filters.http.grpc_stats", "envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router",
	}, names)
	require.NotNil(t, proc, "the response path, after ext_authz")
	assert.False(t, proc.GetFailureModeAllow())
	assert.True(t, proc.GetAllowModeOverride())
	assert.Equal(t, extprocfilter.ProcessingMode_SKIP, proc.GetProcessingMode().GetResponseHeaderMode(), "answers only when synapse asks")
	assert.Equal(t, "outbound|19191||synapse.hopguard.local", proc.GetGrpcService().GetEnvoyGrpc().GetClusterName())
	require.NotNil(t, authz)
	assert.False(t, authz.GetFailureModeAllow())
	assert.Equal(t, "outbound|19191||synapse.hopguard.local", authz.GetGrpcService().GetEnvoyGrpc().GetClusterName())
	assert.True(t, authz.GetWithRequestBody().GetPackAsBytes())

	for _, c := range res.Clusters {
		assert.Empty(t, c.GetFilters(), c.GetName())
		assert.Empty(t, c.GetTransportSocketMatches(), c.GetName())
	}
}

func TestBuildRejectsParams(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Params)
		want   string
	}{
		{name: "public listen address", modify: func(p *Params) { p.Listen = netip.MustParseAddrPort("0.0.0.0:8080") }, want: "not a loopback"},
		{name: "private upstream", modify: func(p *Params) { p.LLM = netip.MustParseAddrPort("10.0.0.1:80") }, want: "not a loopback"},
		{name: "no synapse", modify: func(p *Params) { p.Synapse = nil }, want: "synapse: no address"},
		{name: "synapse unset", modify: func(p *Params) { p.Synapse = []netip.AddrPort{{}} }, want: "synapse: address"},
		{name: "synapse elsewhere", modify: func(p *Params) { p.Synapse = append(p.Synapse, netip.MustParseAddrPort("10.0.0.2:9191")) }, want: "not a loopback"},
		{name: "synapse twice", modify: func(p *Params) { p.Synapse = append(p.Synapse, p.Synapse[0]) }, want: "listed twice"},
		{name: "port zero", modify: func(p *Params) { p.Listen = at(0) }, want: "listen"},
		{name: "MCP server missing", modify: func(p *Params) { p.MCPServers = p.MCPServers[:3] }, want: `"payroll"`},
		{name: "MCP server without a route", modify: func(p *Params) { p.MCPServers = append(p.MCPServers, MCPServer{Name: "hr", Addr: at(28105)}) }, want: `"hr" has no route`},
		{name: "MCP server twice", modify: func(p *Params) { p.MCPServers = append(p.MCPServers, p.MCPServers[0]) }, want: "twice"},
		{name: "MCP server name", modify: func(p *Params) { p.MCPServers[0].Name = "Tickets/../x" }, want: "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := sampleParams()
			tc.modify(&p)
			_, _, err := Build(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// With several synapse replicas, synapse's load assignment has one endpoint per replica, in
// order, each pilot's one endpoint with the replica's address, named as pilot names the
// endpoints of a ServiceEntry that lists several (synapse-<i>, from 0), in pilot's one
// locality weighted by their number. Nothing else differs from the build with one replica.
func TestBuildGivesSynapseOneEndpointPerReplica(t *testing.T) {
	one, oneChanges, err := Build(sampleParams())
	require.NoError(t, err)
	p := sampleParams()
	p.Synapse = []netip.AddrPort{at(28091), at(28092), at(28093)}
	three, threeChanges, err := Build(p)
	require.NoError(t, err)

	const synapseCluster = "outbound|19191||synapse.hopguard.local"
	require.Len(t, three.Endpoints, len(one.Endpoints))
	for i, cla := range three.Endpoints {
		if cla.GetClusterName() != synapseCluster {
			assert.True(t, proto.Equal(one.Endpoints[i], cla), "%s changed with the replicas", cla.GetClusterName())
			continue
		}
		require.Len(t, cla.GetEndpoints(), 1, "pilot's one locality")
		locality := cla.GetEndpoints()[0]
		assert.EqualValues(t, 3, locality.GetLoadBalancingWeight().GetValue())
		require.Len(t, locality.GetLbEndpoints(), 3)
		template := one.Endpoints[i].GetEndpoints()[0].GetLbEndpoints()[0]
		assert.Equal(t, "synapse-0;hopguard;synapse-0;;Kubernetes", template.GetMetadata().GetFilterMetadata()["istio"].GetFields()["workload"].GetStringValue(),
			"pilot's name for the ServiceEntry's first endpoint")
		for r, lb := range locality.GetLbEndpoints() {
			want := proto.Clone(template).(*endpoint.LbEndpoint)
			sock := want.GetEndpoint().GetAddress().GetSocketAddress()
			sock.Address = p.Synapse[r].Addr().String()
			sock.PortSpecifier = &core.SocketAddress_PortValue{PortValue: uint32(p.Synapse[r].Port())}
			want.GetMetadata().GetFilterMetadata()["istio"].GetFields()["workload"] = structpb.NewStringValue(
				fmt.Sprintf("synapse-%d;hopguard;synapse-%d;;Kubernetes", r, r))
			assert.True(t, proto.Equal(want, lb), "replica %d: %v", r, lb)
		}
	}
	for i, c := range three.Clusters {
		assert.True(t, proto.Equal(one.Clusters[i], c), "cluster %s changed with the replicas", c.GetName())
	}
	for i, l := range three.Listeners {
		assert.True(t, proto.Equal(one.Listeners[i], l), "listener %s changed with the replicas", l.GetName())
	}

	require.Len(t, threeChanges, len(oneChanges))
	last := threeChanges[len(threeChanges)-1]
	assert.Equal(t, "endpoints "+synapseCluster, last.Resource)
	assert.Equal(t, "endpoint 127.0.0.1:19191 -> one per replica: 127.0.0.1:28091, 127.0.0.1:28092, 127.0.0.1:28093", last.What)
	assert.Contains(t, last.Why, "pilot")
}

// Pilot's synapse cluster, as destinationrule.yaml shapes it: round robin, a replica ejected
// after one failed check, and every replica asked again below half of them healthy.
func TestBuildBalancesSynapseAndEjectsAFailingReplica(t *testing.T) {
	res, _, err := Build(sampleParams())
	require.NoError(t, err)
	var synapse *cluster.Cluster
	for _, c := range res.Clusters {
		if c.GetName() == "outbound|19191||synapse.hopguard.local" {
			synapse = c
		}
	}
	require.NotNil(t, synapse)
	assert.Equal(t, cluster.Cluster_ROUND_ROBIN, synapse.GetLbPolicy())
	outlier := synapse.GetOutlierDetection()
	require.NotNil(t, outlier)
	assert.EqualValues(t, 1, outlier.GetConsecutiveGatewayFailure().GetValue())
	assert.EqualValues(t, 100, outlier.GetEnforcingConsecutiveGatewayFailure().GetValue())
	assert.EqualValues(t, 100, outlier.GetMaxEjectionPercent().GetValue())
	assert.InDelta(t, 50, synapse.GetCommonLbConfig().GetHealthyPanicThreshold().GetValue(), 0)
}

func TestClusterHost(t *testing.T) {
	host, err := clusterHost("outbound|19191||synapse.hopguard.local")
	require.NoError(t, err)
	assert.Equal(t, "synapse.hopguard.local", host)
	for _, bad := range []string{"BlackHoleCluster", "inbound|80||x", "outbound|80||", "outbound|80|x"} {
		_, err := clusterHost(bad)
		assert.Error(t, err, bad)
	}
}

// TestBuiltConfigIsValidForEnvoy runs the real Envoy 1.40 in validate mode on the adapted
// resources, put into a static bootstrap (routes inline, endpoints inline): it proves upstream
// Envoy accepts every filter and type that is served.
func TestBuiltConfigIsValidForEnvoy(t *testing.T) {
	envoyBin, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("real Envoy not available: %v", err)
	}
	for _, tc := range []struct {
		name     string
		replicas []netip.AddrPort
	}{
		{name: "one synapse", replicas: []netip.AddrPort{at(28091)}},
		{name: "two synapse replicas", replicas: []netip.AddrPort{at(28091), at(28092)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := sampleParams()
			p.Synapse = tc.replicas
			res, _, err := Build(p)
			require.NoError(t, err)
			js, err := protojson.Marshal(staticBootstrap(t, res))
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "envoy.json")
			require.NoError(t, os.WriteFile(path, js, 0o600))

			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, envoyBin, "--mode", "validate", "-c", path, "--use-dynamic-base-id", "--disable-hot-restart", "--log-level", "warn").CombinedOutput()
			require.NoError(t, err, "envoy --mode validate rejected the config:\n%s", out)
			assert.True(t, strings.Contains(string(out), "OK"), string(out))
		})
	}
}

func connectionManager(t *testing.T, l *listener.Listener) *hcm.HttpConnectionManager {
	t.Helper()
	require.Len(t, l.GetFilterChains(), 1)
	require.Len(t, l.GetFilterChains()[0].GetFilters(), 1)
	m := &hcm.HttpConnectionManager{}
	require.NoError(t, l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(m))
	return m
}

// staticBootstrap inlines what xDS would deliver: each listener's route config in place of RDS
// and each cluster's endpoints in place of EDS.
func staticBootstrap(t *testing.T, res *Resources) *bootstrap.Bootstrap {
	t.Helper()
	routes := map[string]*route.RouteConfiguration{}
	for _, r := range res.Routes {
		routes[r.GetName()] = r
	}
	endpoints := map[string]*endpoint.ClusterLoadAssignment{}
	for _, e := range res.Endpoints {
		endpoints[e.GetClusterName()] = e
	}
	static := &bootstrap.Bootstrap_StaticResources{}
	for _, l := range res.Listeners {
		l = proto.Clone(l).(*listener.Listener)
		m := connectionManager(t, l)
		rc, ok := routes[m.GetRds().GetRouteConfigName()]
		require.True(t, ok, "no route config %q", m.GetRds().GetRouteConfigName())
		m.RouteSpecifier = &hcm.HttpConnectionManager_RouteConfig{RouteConfig: rc}
		typed, err := anypb.New(m)
		require.NoError(t, err)
		l.GetFilterChains()[0].GetFilters()[0].ConfigType = &listener.Filter_TypedConfig{TypedConfig: typed}
		static.Listeners = append(static.Listeners, l)
	}
	for _, c := range res.Clusters {
		c = proto.Clone(c).(*cluster.Cluster)
		if c.GetType() == cluster.Cluster_EDS {
			cla, ok := endpoints[c.GetName()]
			require.True(t, ok, "no endpoints for %s", c.GetName())
			c.ClusterDiscoveryType = &cluster.Cluster_Type{Type: cluster.Cluster_STATIC}
			c.EdsClusterConfig = nil
			c.LoadAssignment = cla
		}
		static.Clusters = append(static.Clusters, c)
	}
	return &bootstrap.Bootstrap{
		Node:            &core.Node{Id: "istio-ingressgateway", Cluster: "hopguard"},
		StaticResources: static,
	}
}

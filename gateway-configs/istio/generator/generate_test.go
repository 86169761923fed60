package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	accesslog "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	celfilter "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hopguard/hopguard/gateway-configs/istio/generator/manifests"
	"github.com/hopguard/hopguard/gateway-configs/istio/generator/translate"
)

const (
	manifestDir  = ".."
	generatedDir = "../generated"
	extAuthzName = "envoy.filters.http.ext_authz"
)

// The committed files must be exactly what pilot makes of the committed manifests today. CI runs
// this; on a difference, regenerate with `go run .` and review the diff.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	files, err := Generate(manifestDir)
	require.NoError(t, err)

	require.ElementsMatch(t, []string{translate.ListenersFile, translate.RoutesFile, translate.ClustersFile, translate.EndpointsFile}, slices.Collect(maps.Keys(files)))
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(generatedDir, name))
		require.NoError(t, err, "run `go run .` in gateway-configs/istio/generator")
		assert.Equal(t, string(want), string(got), "%s is stale: run `go run .` in gateway-configs/istio/generator and commit the result", name)
	}
}

func TestTranslationIsDeterministic(t *testing.T) {
	first, err := Generate(manifestDir)
	require.NoError(t, err)
	second, err := Generate(manifestDir)
	require.NoError(t, err)
	assert.Equal(t, first, second)
}

// The ext_authz filter is Istio's doing, not ours: it is there with the AuthorizationPolicy, with
// the provider's settings, and gone without it.
func TestAuthorizationPolicyPutsExtAuthzInTheListener(t *testing.T) {
	set, err := manifests.Load(manifestDir)
	require.NoError(t, err)

	with := translateSet(t, set)
	filters, authz := gatewayHTTPFilters(t, with)
	assert.Contains(t, filters, extAuthzName)
	assert.Contains(t, filters, "envoy.filters.http.rbac", "the CUSTOM policy's shadow RBAC rule gates ext_authz")
	assert.Less(t, slices.Index(filters, extAuthzName), slices.Index(filters, "envoy.filters.http.router"))
	require.NotNil(t, authz)
	assert.False(t, authz.GetFailureModeAllow(), "fail closed")
	assert.EqualValues(t, 503, authz.GetStatusOnError().GetCode())
	assert.Equal(t, "outbound|19191||synapse.hopguard.local", authz.GetGrpcService().GetEnvoyGrpc().GetClusterName())
	body := authz.GetWithRequestBody()
	require.NotNil(t, body)
	assert.EqualValues(t, 1<<20, body.GetMaxRequestBytes())
	assert.False(t, body.GetAllowPartialMessage())
	assert.True(t, body.GetPackAsBytes())

	without := translateSet(t, set.Without(manifests.KindAuthorizationPolicy))
	filters, authz = gatewayHTTPFilters(t, without)
	assert.NotContains(t, filters, extAuthzName)
	assert.NotContains(t, filters, "envoy.filters.http.rbac")
	assert.Nil(t, authz)
}

// The fail-closed reply is made by Istio's own translation of the EnvoyFilter: with it, the
// gateway's connection manager holds the mappers of gateway-configs/envoy (a 503 that ext_authz
// made itself because it got no answer gets x-hopguard-decision: deny, x-should-retry: false and
// x-hopguard-code: authz_unavailable, each set once, and a JSON body in the route's shape with
// code authz_unavailable; an MCP POST gets status 200, the JSON-RPC error read as such by the MCP
// Go SDK, which never reads a 5xx's body), and a last mapper that marks the replies the gateway
// makes itself for a request it refuses; without it, the reply is bare. The main module's istio
// tests hold the mappers equal to Envoy's.
func TestEnvoyFilterMakesTheFailClosedReply(t *testing.T) {
	set, err := manifests.Load(manifestDir)
	require.NoError(t, err)

	managers := httpConnectionManagers(t, translateSet(t, set).Listeners[0])
	require.Len(t, managers, 1)
	mappers := managers[0].GetLocalReplyConfig().GetMappers()
	require.Len(t, mappers, 5, "Anthropic's paths, MCP's POST, MCP's other methods, every other; then the gateway's own refusals")
	refusals := mappers[4]
	mappers = mappers[:4]
	cel := &celfilter.ExpressionFilter{}
	require.NoError(t, refusals.GetFilter().GetExtensionFilter().GetTypedConfig().UnmarshalTo(cel))
	assert.Equal(t, "!('x-hopguard-decision' in response.headers) && (response.code < 500 || response.code == 501)", cel.GetExpression(),
		"the gateway's own refusals are marked, not synapse's replies nor an allowed request's upstream 5xx")
	marks := map[string]string{}
	for _, h := range refusals.GetHeadersToAdd() {
		marks[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	assert.Equal(t, map[string]string{"x-hopguard-decision": "deny", "x-should-retry": "false"}, marks)
	assert.Nil(t, refusals.GetBodyFormatOverride(), "the refusal keeps its own body")

	wantPaths := []string{"^/v1/messages([/?].*)?$", "/mcp/", "/mcp/", ""}
	wantMethods := []string{"", "POST", "", ""}
	wantStatus := []uint32{0, 200, 0, 0} // 0: the 503 of statusOnError
	rpc := `{"jsonrpc":"2.0","id":null,"error":{"code":-32011,`
	wantShapes := []string{`{"type":"error","error":{"type":"api_error"`, rpc, rpc, `{"error":{"type":"service_unavailable","code":"authz_unavailable"`}
	for i, mapper := range mappers {
		conditions := mapper.GetFilter().GetAndFilter().GetFilters()
		require.GreaterOrEqual(t, len(conditions), 3, "mapper %d: UAEX, 503 and ext_authz_error, all", i)
		assert.Equal(t, []string{"UAEX"}, conditions[0].GetResponseFlagFilter().GetFlags(), "only replies ext_authz made itself")
		status := conditions[1].GetStatusCodeFilter().GetComparison()
		assert.Equal(t, accesslog.ComparisonFilter_EQ, status.GetOp())
		assert.EqualValues(t, 503, status.GetValue().GetDefaultValue())
		cel := &celfilter.ExpressionFilter{}
		require.NoError(t, conditions[2].GetExtensionFilter().GetTypedConfig().UnmarshalTo(cel))
		assert.Equal(t, "response.code_details == 'ext_authz_error'", cel.GetExpression(), "synapse's own denials (ext_authz_denied) keep their body")

		var path, method string
		if len(conditions) >= 4 {
			header := conditions[3].GetHeaderFilter().GetHeader()
			assert.Equal(t, ":path", header.GetName())
			path = header.GetStringMatch().GetPrefix() + header.GetStringMatch().GetSafeRegex().GetRegex()
		}
		if len(conditions) == 5 {
			header := conditions[4].GetHeaderFilter().GetHeader()
			assert.Equal(t, ":method", header.GetName())
			method = header.GetStringMatch().GetExact()
		}
		assert.Equal(t, wantPaths[i], path, "mapper %d", i)
		assert.Equal(t, wantMethods[i], method, "mapper %d", i)

		headers := map[string]string{}
		for _, h := range mapper.GetHeadersToAdd() {
			assert.Equal(t, core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, h.GetAppendAction())
			headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		assert.Equal(t, map[string]string{"x-hopguard-decision": "deny", "x-should-retry": "false", "x-hopguard-code": "authz_unavailable"}, headers)
		if wantStatus[i] == 0 {
			assert.Nil(t, mapper.GetStatusCode(), "mapper %d: the status stays the 503 of statusOnError", i)
		} else {
			assert.Equal(t, wantStatus[i], mapper.GetStatusCode().GetValue(), "mapper %d", i)
		}
		format := mapper.GetBodyFormatOverride()
		assert.Equal(t, "application/json", format.GetContentType())
		if wantStatus[i] == 200 {
			// The MCP POST's reply answers the request's id, which json_to_metadata reads.
			fields := format.GetJsonFormat().GetFields()
			require.NotNil(t, fields, "mapper %d: a json_format body", i)
			assert.Equal(t, "%DYNAMIC_METADATA(io.hopguard:jsonrpc_id)%", fields["id"].GetStringValue())
			assert.Equal(t, "2.0", fields["jsonrpc"].GetStringValue())
			rpcErr := fields["error"].GetStructValue().GetFields()
			assert.EqualValues(t, -32011, rpcErr["code"].GetNumberValue())
			assert.Equal(t, "authz_unavailable", rpcErr["data"].GetStructValue().GetFields()["code"].GetStringValue())
			continue
		}
		body := format.GetTextFormatSource().GetInlineString()
		assert.True(t, json.Valid([]byte(body)), "mapper %d body: %s", i, body)
		assert.True(t, strings.HasPrefix(body, wantShapes[i]), "mapper %d body: %s", i, body)
		assert.Contains(t, body, `"code":"authz_unavailable"`)
		assert.NotContains(t, body, "%", "a body is an Envoy format string")
	}

	// The json_to_metadata filter that reads a JSON-RPC request's id runs before ext_authz.
	var filters []string
	for _, f := range managers[0].GetHttpFilters() {
		filters = append(filters, f.GetName())
	}
	idAt, authzAt := slices.Index(filters, "envoy.filters.http.json_to_metadata"), slices.Index(filters, "envoy.filters.http.ext_authz")
	require.GreaterOrEqual(t, idAt, 0, "filters: %v", filters)
	assert.Equal(t, authzAt-1, idAt, "json_to_metadata right before ext_authz: %v", filters)

	without := translateSet(t, set.Without(manifests.KindEnvoyFilter))
	managers = httpConnectionManagers(t, without.Listeners[0])
	require.Len(t, managers, 1)
	assert.Nil(t, managers[0].GetLocalReplyConfig(), "pilot itself writes no local reply config")
}

// json_to_metadata is needed on the MCP routes alone: the EnvoyFilter disables it on the model
// route (route-level FilterConfig, disabled), and pilot puts that there only because of it. It
// stays enabled by default: Envoy enables a route's filter only with a FilterConfig holding an
// empty Any, which Istio refuses (README.md).
func TestEnvoyFilterDisablesJSONToMetadataOnTheModelRoute(t *testing.T) {
	set, err := manifests.Load(manifestDir)
	require.NoError(t, err)

	const name = "envoy.filters.http.json_to_metadata"
	perRoute := func(res *translate.Resources) map[string]*anypb.Any {
		require.Len(t, res.Routes, 1)
		require.Len(t, res.Routes[0].GetVirtualHosts(), 1)
		out := map[string]*anypb.Any{}
		for _, r := range res.Routes[0].GetVirtualHosts()[0].GetRoutes() {
			out[r.GetName()] = r.GetTypedPerFilterConfig()[name]
		}
		return out
	}

	with := perRoute(translateSet(t, set))
	assert.ElementsMatch(t, []string{"llm", "mcp-tickets", "mcp-crm", "mcp-payments", "mcp-payroll", "mcp-knowledge", "mcp-conformance"}, slices.Collect(maps.Keys(with)))
	for routeName, config := range with {
		if routeName != "llm" {
			assert.Nil(t, config, "%s: json_to_metadata runs on an MCP route", routeName)
			continue
		}
		require.NotNil(t, config, "the model route disables json_to_metadata")
		fc := &route.FilterConfig{}
		require.NoError(t, config.UnmarshalTo(fc))
		assert.True(t, fc.GetDisabled())
		assert.Nil(t, fc.GetConfig())
	}
	managers := httpConnectionManagers(t, translateSet(t, set).Listeners[0])
	require.Len(t, managers, 1)
	for _, f := range managers[0].GetHttpFilters() {
		if f.GetName() == name {
			assert.False(t, f.GetDisabled(), "enabled by default: Istio cannot enable it per route")
		}
	}

	for routeName, config := range perRoute(translateSet(t, set.Without(manifests.KindEnvoyFilter))) {
		assert.Nil(t, config, "%s: pilot itself writes no json_to_metadata config", routeName)
	}
}

const synapseCluster = "outbound|19191||synapse.hopguard.local"

// The synapse ServiceEntry has one endpoint, which the main module's istio.Build turns into one
// per replica of a run (adapt.go, moveEndpoint): a copy of pilot's endpoint for each replica's
// address, the i-th named workload synapse-<i>, in the one locality weighted by their number.
// That is what pilot itself writes for the entry listing every replica, here three on their own
// ports, and nothing else it writes (clusters, listeners, routes) depends on how many there are.
func TestServiceEntryEndpointsAreCopiesOfTheFirst(t *testing.T) {
	set, err := manifests.Load(manifestDir)
	require.NoError(t, err)
	ports := []uint32{19191, 28092, 28093}
	listed := withSynapseEndpoints(t, set, "    - address: 127.0.0.1\n    - address: 127.0.0.1\n      ports: {grpc: 28092}\n    - address: 127.0.0.1\n      ports: {grpc: 28093}\n")

	one, three := translateSet(t, set), translateSet(t, listed)
	template := synapseEndpoints(t, one)
	require.Len(t, template.GetEndpoints(), 1)
	require.Len(t, template.GetEndpoints()[0].GetLbEndpoints(), 1)
	first := template.GetEndpoints()[0].GetLbEndpoints()[0]
	assert.Equal(t, "synapse-0;hopguard;synapse-0;;Kubernetes", first.GetMetadata().GetFilterMetadata()["istio"].GetFields()["workload"].GetStringValue())

	got := synapseEndpoints(t, three)
	require.Len(t, got.GetEndpoints(), 1, "one locality")
	locality := got.GetEndpoints()[0]
	assert.EqualValues(t, len(ports), locality.GetLoadBalancingWeight().GetValue())
	require.Len(t, locality.GetLbEndpoints(), len(ports))
	for i, lb := range locality.GetLbEndpoints() {
		want := proto.Clone(first).(*endpoint.LbEndpoint)
		want.GetEndpoint().GetAddress().GetSocketAddress().PortSpecifier = &core.SocketAddress_PortValue{PortValue: ports[i]}
		want.GetMetadata().GetFilterMetadata()["istio"].GetFields()["workload"] = structpb.NewStringValue(fmt.Sprintf("synapse-%d;hopguard;synapse-%d;;Kubernetes", i, i))
		assert.True(t, proto.Equal(want, lb), "endpoint %d: %v", i, lb)
	}

	// Only the endpoints depend on how many replicas the entry lists.
	assert.Equal(t, mustJSON(t, one.Clusters), mustJSON(t, three.Clusters))
	assert.Equal(t, mustJSON(t, one.Listeners), mustJSON(t, three.Listeners))
	assert.Equal(t, mustJSON(t, one.Routes), mustJSON(t, three.Routes))
}

// The DestinationRule is what makes synapse's cluster round robin with outlier detection; without
// it, pilot's cluster is Istio's default (least request, no ejection, panic threshold 0), and no
// other cluster changes either way.
func TestDestinationRuleShapesSynapsesClusterAlone(t *testing.T) {
	set, err := manifests.Load(manifestDir)
	require.NoError(t, err)
	with, without := translateSet(t, set), translateSet(t, set.Without(manifests.KindDestinationRule))

	require.Len(t, with.Clusters, len(without.Clusters))
	for i, c := range with.Clusters {
		if c.GetName() != synapseCluster {
			assert.True(t, proto.Equal(without.Clusters[i], c), "%s depends on the DestinationRule", c.GetName())
			continue
		}
		assert.Equal(t, cluster.Cluster_ROUND_ROBIN, c.GetLbPolicy())
		outlier := c.GetOutlierDetection()
		require.NotNil(t, outlier)
		assert.EqualValues(t, 1, outlier.GetConsecutiveGatewayFailure().GetValue())
		assert.EqualValues(t, 100, outlier.GetEnforcingConsecutiveGatewayFailure().GetValue(), "Envoy enforces no gateway-failure ejection by default")
		assert.EqualValues(t, 0, outlier.GetEnforcingSuccessRate().GetValue())
		assert.EqualValues(t, 100, outlier.GetMaxEjectionPercent().GetValue())
		assert.Equal(t, time.Second, outlier.GetInterval().AsDuration())
		assert.Equal(t, time.Second, outlier.GetBaseEjectionTime().AsDuration())
		assert.InDelta(t, 50, c.GetCommonLbConfig().GetHealthyPanicThreshold().GetValue(), 0)

		plain := without.Clusters[i]
		assert.Equal(t, cluster.Cluster_LEAST_REQUEST, plain.GetLbPolicy())
		assert.Nil(t, plain.GetOutlierDetection())
		assert.InDelta(t, 0, plain.GetCommonLbConfig().GetHealthyPanicThreshold().GetValue(), 0, "Istio disables the panic threshold by default")
	}
	assert.Equal(t, mustJSON(t, without.Endpoints), mustJSON(t, with.Endpoints))
}

// withSynapseEndpoints is set with the synapse ServiceEntry's endpoints replaced by endpoints,
// YAML list items under "endpoints:".
func withSynapseEndpoints(t *testing.T, set *manifests.Set, endpoints string) *manifests.Set {
	t.Helper()
	const one = "  endpoints:\n    - address: 127.0.0.1\n"
	out := *set
	out.Objects = slices.Clone(set.Objects)
	for i, o := range out.Objects {
		if o.Kind == manifests.KindServiceEntry && o.Name == "synapse" {
			require.True(t, strings.HasSuffix(o.YAML, one), "the synapse ServiceEntry ends with its one endpoint:\n%s", o.YAML)
			out.Objects[i].YAML = strings.TrimSuffix(o.YAML, one) + "  endpoints:\n" + endpoints
			return &out
		}
	}
	t.Fatal("no synapse ServiceEntry")
	return nil
}

func synapseEndpoints(t *testing.T, res *translate.Resources) *endpoint.ClusterLoadAssignment {
	t.Helper()
	for _, cla := range res.Endpoints {
		if cla.GetClusterName() == synapseCluster {
			return cla
		}
	}
	t.Fatalf("no load assignment for %s", synapseCluster)
	return nil
}

// mustJSON is a list of resources as protojson, one a line: a difference reads as a diff.
func mustJSON[M proto.Message](t *testing.T, list []M) string {
	t.Helper()
	var b strings.Builder
	for _, m := range list {
		js, err := protojson.Marshal(m)
		require.NoError(t, err)
		b.Write(js)
		b.WriteByte('\n')
	}
	return b.String()
}

func translateSet(t *testing.T, set *manifests.Set) *translate.Resources {
	t.Helper()
	res, err := translate.Translate(translate.Input{MeshYAML: set.MeshYAML, Configs: set.ConfigString()})
	require.NoError(t, err)
	return res
}

// gatewayHTTPFilters returns the HTTP filter names of the gateway's one HTTP listener, and its
// ext_authz config if there is one.
func gatewayHTTPFilters(t *testing.T, res *translate.Resources) ([]string, *extauthz.ExtAuthz) {
	t.Helper()
	require.Len(t, res.Listeners, 1, "the Gateway opens one listener")
	managers := httpConnectionManagers(t, res.Listeners[0])
	require.Len(t, managers, 1, "one HTTP filter chain")

	var names []string
	var authz *extauthz.ExtAuthz
	for _, f := range managers[0].GetHttpFilters() {
		names = append(names, f.GetName())
		if f.GetName() == extAuthzName {
			authz = &extauthz.ExtAuthz{}
			require.NoError(t, f.GetTypedConfig().UnmarshalTo(authz))
		}
	}
	return names, authz
}

func httpConnectionManagers(t *testing.T, l *listener.Listener) []*hcm.HttpConnectionManager {
	t.Helper()
	var out []*hcm.HttpConnectionManager
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			if f.GetName() != "envoy.filters.network.http_connection_manager" {
				continue
			}
			m := &hcm.HttpConnectionManager{}
			require.NoError(t, f.GetTypedConfig().UnmarshalTo(m))
			out = append(out, m)
		}
	}
	return out
}

package manifests_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networking "istio.io/api/networking/v1"
	networkingalpha "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1"

	"github.com/hopguard/hopguard/gateway-configs/istio/generator/manifests"
)

// manifestDir is gateway-configs/istio, seen from this package.
const manifestDir = "../.."

func loadSet(t *testing.T) *manifests.Set {
	t.Helper()
	set, err := manifests.Load(manifestDir)
	require.NoError(t, err)
	return set
}

func TestLoadParsesEveryManifestStrictly(t *testing.T) {
	set := loadSet(t)

	kinds := map[string]int{}
	for _, o := range set.Objects {
		kinds[o.Kind]++
	}
	assert.Equal(t, map[string]int{
		manifests.KindGateway:             1,
		manifests.KindVirtualService:      1,
		manifests.KindServiceEntry:        8, // llm, six MCP servers, synapse
		manifests.KindDestinationRule:     1, // synapse's replicas
		manifests.KindAuthorizationPolicy: 1,
		manifests.KindEnvoyFilter:         1,
	}, kinds)
}

// The EnvoyFilter must reach the gateway's HTTP connection manager and its model route and
// nothing else, and only add to them: a patch that replaced or removed would drop what pilot made
// (ext_authz among it). Its second patch inserts the json_to_metadata filter (a JSON-RPC request's
// id, for the fail-closed reply) right before ext_authz; its third the response path (ext_proc)
// right after it; its fourth disables both on the model route.
func TestEnvoyFilterOnlyMergesIntoTheGatewaysConnectionManager(t *testing.T) {
	set := loadSet(t)

	filters := set.Find(manifests.KindEnvoyFilter)
	require.Len(t, filters, 1)
	ef, ok := filters[0].Spec.(*networkingalpha.EnvoyFilter)
	require.True(t, ok)
	assert.Equal(t, "istio-system", filters[0].Namespace)
	assert.Equal(t, map[string]string{"istio": "ingressgateway"}, ef.GetWorkloadSelector().GetLabels())
	assert.Empty(t, ef.GetTargetRefs())
	require.Len(t, ef.GetConfigPatches(), 4)
	patch := ef.GetConfigPatches()[0]
	assert.Equal(t, networkingalpha.EnvoyFilter_NETWORK_FILTER, patch.GetApplyTo())
	assert.Equal(t, networkingalpha.EnvoyFilter_GATEWAY, patch.GetMatch().GetContext())
	assert.Equal(t, "envoy.filters.network.http_connection_manager", patch.GetMatch().GetListener().GetFilterChain().GetFilter().GetName())
	assert.Equal(t, networkingalpha.EnvoyFilter_Patch_MERGE, patch.GetPatch().GetOperation())
	typed := patch.GetPatch().GetValue().GetFields()["typed_config"].GetStructValue().GetFields()
	assert.Equal(t, "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", typed["@type"].GetStringValue())
	keys := slices.Sorted(maps.Keys(typed))
	assert.Equal(t, []string{"@type", "local_reply_config"}, keys, "the patch sets the local reply config and nothing else")

	insert := ef.GetConfigPatches()[1]
	assert.Equal(t, networkingalpha.EnvoyFilter_HTTP_FILTER, insert.GetApplyTo())
	assert.Equal(t, networkingalpha.EnvoyFilter_GATEWAY, insert.GetMatch().GetContext())
	filter := insert.GetMatch().GetListener().GetFilterChain().GetFilter()
	assert.Equal(t, "envoy.filters.network.http_connection_manager", filter.GetName())
	assert.Equal(t, "envoy.filters.http.ext_authz", filter.GetSubFilter().GetName())
	assert.Equal(t, networkingalpha.EnvoyFilter_Patch_INSERT_BEFORE, insert.GetPatch().GetOperation())
	assert.Equal(t, "envoy.filters.http.json_to_metadata", insert.GetPatch().GetValue().GetFields()["name"].GetStringValue())

	after := ef.GetConfigPatches()[2]
	assert.Equal(t, networkingalpha.EnvoyFilter_HTTP_FILTER, after.GetApplyTo())
	assert.Equal(t, "envoy.filters.http.ext_authz", after.GetMatch().GetListener().GetFilterChain().GetFilter().GetSubFilter().GetName())
	assert.Equal(t, networkingalpha.EnvoyFilter_Patch_INSERT_AFTER, after.GetPatch().GetOperation())
	assert.Equal(t, "envoy.filters.http.ext_proc", after.GetPatch().GetValue().GetFields()["name"].GetStringValue())
	proc := after.GetPatch().GetValue().GetFields()["typed_config"].GetStructValue().GetFields()
	assert.False(t, proc["failure_mode_allow"].GetBoolValue(), "no answer from synapse fails the request")

	// The fourth disables both on the model route (VirtualService route "llm"): it merges that
	// route's per-filter config and nothing else.
	off := ef.GetConfigPatches()[3]
	assert.Equal(t, networkingalpha.EnvoyFilter_HTTP_ROUTE, off.GetApplyTo())
	assert.Equal(t, networkingalpha.EnvoyFilter_GATEWAY, off.GetMatch().GetContext())
	assert.Equal(t, "llm", off.GetMatch().GetRouteConfiguration().GetVhost().GetRoute().GetName())
	assert.Equal(t, networkingalpha.EnvoyFilter_Patch_MERGE, off.GetPatch().GetOperation())
	value := off.GetPatch().GetValue().GetFields()
	assert.Equal(t, []string{"typed_per_filter_config"}, slices.Sorted(maps.Keys(value)))
	perFilter := value["typed_per_filter_config"].GetStructValue().GetFields()
	assert.Equal(t, []string{"envoy.filters.http.ext_proc", "envoy.filters.http.json_to_metadata"}, slices.Sorted(maps.Keys(perFilter)))
	assert.True(t, perFilter["envoy.filters.http.ext_proc"].GetStructValue().GetFields()["disabled"].GetBoolValue())
	config := perFilter["envoy.filters.http.json_to_metadata"].GetStructValue().GetFields()
	assert.Equal(t, "type.googleapis.com/envoy.config.route.v3.FilterConfig", config["@type"].GetStringValue())
	assert.True(t, config["disabled"].GetBoolValue())
}

func TestMeshConfigNamesSynapseFailClosedWithTheWholeBody(t *testing.T) {
	set := loadSet(t)

	require.Len(t, set.Mesh.GetExtensionProviders(), 1)
	provider := set.Mesh.GetExtensionProviders()[0]
	authz := provider.GetEnvoyExtAuthzGrpc()
	require.NotNil(t, authz, "the provider must be envoyExtAuthzGrpc")
	assert.Equal(t, "synapse.hopguard.local", authz.GetService())
	assert.False(t, authz.GetFailOpen())
	assert.Equal(t, "503", authz.GetStatusOnError())
	body := authz.GetIncludeRequestBodyInCheck()
	require.NotNil(t, body)
	assert.EqualValues(t, 1<<20, body.GetMaxRequestBytes())
	assert.False(t, body.GetAllowPartialMessage())
	assert.True(t, body.GetPackAsBytes())
}

func TestAuthorizationPolicyChecksEveryRequestOnTheGateway(t *testing.T) {
	set := loadSet(t)

	policies := set.Find(manifests.KindAuthorizationPolicy)
	require.Len(t, policies, 1)
	ap, ok := policies[0].Spec.(*security.AuthorizationPolicy)
	require.True(t, ok)
	assert.Equal(t, security.AuthorizationPolicy_CUSTOM, ap.GetAction())
	assert.Equal(t, set.Mesh.GetExtensionProviders()[0].GetName(), ap.GetProvider().GetName())
	assert.Equal(t, "istio-system", policies[0].Namespace)
	assert.Equal(t, map[string]string{"istio": "ingressgateway"}, ap.GetSelector().GetMatchLabels())
	// One rule without conditions matches every request; any condition would let some skip it.
	require.Len(t, ap.GetRules(), 1)
	assert.Empty(t, ap.GetRules()[0].GetFrom())
	assert.Empty(t, ap.GetRules()[0].GetTo())
	assert.Empty(t, ap.GetRules()[0].GetWhen())
}

func TestEveryDestinationIsRegistered(t *testing.T) {
	set := loadSet(t)

	registered := map[string]map[uint32]bool{}
	for _, o := range set.Find(manifests.KindServiceEntry) {
		se := o.Spec.(*networking.ServiceEntry)
		for _, h := range se.GetHosts() {
			registered[h] = map[uint32]bool{}
			for _, p := range se.GetPorts() {
				registered[h][p.GetNumber()] = true
			}
		}
	}
	authz := set.Mesh.GetExtensionProviders()[0].GetEnvoyExtAuthzGrpc()
	assert.True(t, registered[authz.GetService()][authz.GetPort()], "ext_authz provider %s:%d has no ServiceEntry", authz.GetService(), authz.GetPort())
	for _, r := range virtualService(t, set).GetHttp() {
		for _, d := range r.GetRoute() {
			dest := d.GetDestination()
			assert.True(t, registered[dest.GetHost()][dest.GetPort().GetNumber()], "route %s: %s:%d has no ServiceEntry", r.GetName(), dest.GetHost(), dest.GetPort().GetNumber())
		}
	}
}

// The one DestinationRule is synapse's, the ext_authz provider's host: checks go round robin over
// the replicas, and a replica is ejected after one failed check, every replica may be ejected,
// and below half of them healthy every replica is asked again (Envoy's panic threshold), so that
// one replica is never left out with nothing else to ask. It sets nothing else (no TLS, no
// connection pool, no subsets), so the cluster stays pilot's but for these.
func TestDestinationRuleBalancesSynapsesReplicas(t *testing.T) {
	set := loadSet(t)

	rules := set.Find(manifests.KindDestinationRule)
	require.Len(t, rules, 1)
	dr, ok := rules[0].Spec.(*networking.DestinationRule)
	require.True(t, ok)
	assert.Equal(t, set.Mesh.GetExtensionProviders()[0].GetEnvoyExtAuthzGrpc().GetService(), dr.GetHost())
	assert.Empty(t, dr.GetSubsets())
	assert.Empty(t, dr.GetExportTo(), "visible to the gateway's namespace")
	policy := dr.GetTrafficPolicy()
	assert.Nil(t, policy.GetTls())
	assert.Nil(t, policy.GetConnectionPool())
	assert.Empty(t, policy.GetPortLevelSettings())
	assert.Equal(t, networking.LoadBalancerSettings_ROUND_ROBIN, policy.GetLoadBalancer().GetSimple())
	outlier := policy.GetOutlierDetection()
	require.NotNil(t, outlier)
	assert.EqualValues(t, 1, outlier.GetConsecutiveGatewayErrors().GetValue())
	assert.Nil(t, outlier.GetConsecutive_5XxErrors(), "Envoy's default (5 in a row)")
	assert.Equal(t, time.Second, outlier.GetInterval().AsDuration())
	assert.Equal(t, time.Second, outlier.GetBaseEjectionTime().AsDuration())
	assert.EqualValues(t, 100, outlier.GetMaxEjectionPercent())
	assert.EqualValues(t, 50, outlier.GetMinHealthPercent())
	assert.False(t, outlier.GetSplitExternalLocalOriginErrors(), "a refused connection counts as a gateway error")
}

// synapse must resolve every path the VirtualService routes to the resource behind that route:
// Istio sends no context extensions, so this agreement is all that ties a path to a resource.
func TestRouteTableAgreesWithVirtualService(t *testing.T) {
	set := loadSet(t)

	for _, r := range virtualService(t, set).GetHttp() {
		require.Len(t, r.GetRoute(), 1, "route %s", r.GetName())
		want := resourceOfHost(t, r.GetRoute()[0].GetDestination().GetHost())
		for _, m := range r.GetMatch() {
			path := m.GetUri().GetExact() + m.GetUri().GetPrefix()
			require.NotEmpty(t, path, "route %s matches on something other than an exact path or prefix", r.GetName())
			got, ok := set.Routes.Resolve(path)
			assert.True(t, ok, "synapse has no route for %s", path)
			assert.Equal(t, want, got, "path %s", path)
		}
	}
}

func TestRouteTableResolve(t *testing.T) {
	set := loadSet(t)

	for _, tc := range []struct {
		path     string
		resource string
		found    bool
	}{
		{path: "/v1/chat/completions", resource: "llm", found: true},
		{path: "/mcp/payments", resource: "mcp:payments", found: true},
		{path: "/mcp/payroll?session=1", resource: "mcp:payroll", found: true},
		{path: "/mcp", found: false},
		{path: "/", found: false},
		{path: "/admin", found: false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got, ok := set.Routes.Resolve(tc.path)
			assert.Equal(t, tc.found, ok)
			assert.Equal(t, tc.resource, got)
		})
	}
}

func TestProviderKeyIsSetOnlyOnTheModelRoute(t *testing.T) {
	set := loadSet(t)

	for _, r := range virtualService(t, set).GetHttp() {
		set := r.GetHeaders().GetRequest().GetSet()
		if r.GetName() == "llm" {
			assert.Equal(t, map[string]string{"Authorization": "Bearer sk-hopguard-provider"}, set)
			continue
		}
		assert.Empty(t, set, "route %s", r.GetName())
		assert.Equal(t, "/mcp", r.GetRewrite().GetUri(), "route %s", r.GetName())
	}
}

func TestParseObjectsRejects(t *testing.T) {
	const valid = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
`
	_, err := manifests.ParseObjects("valid.yaml", []byte(valid))
	require.NoError(t, err, "the base document must parse, or the cases below prove nothing")

	for _, tc := range []struct {
		name string
		doc  string
		want string
	}{
		{name: "unknown spec field", doc: valid + "  selectr: {}\n", want: "selectr"},
		{name: "unknown nested field", doc: valid + "  servers:\n    - port: {number: 80, protocol: HTTP, nam: http}\n", want: "nam"},
		{name: "unknown top-level field", doc: valid + "status: {}\n", want: "status"},
		{name: "labels in metadata", doc: strings.Replace(valid, "  name: gw\n", "  name: gw\n  labels: {a: b}\n", 1), want: "labels"},
		{name: "unsupported kind", doc: strings.Replace(valid, "kind: Gateway", "kind: Sidecar", 1), want: "unsupported resource"},
		{name: "old api version", doc: strings.Replace(valid, "networking.istio.io/v1", "networking.istio.io/v1alpha3", 1), want: "unsupported resource"},
		{name: "EnvoyFilter in a version it has not", doc: strings.Replace(valid, "kind: Gateway", "kind: EnvoyFilter", 1), want: "unsupported resource"},
		{name: "unknown EnvoyFilter field", doc: `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: f, namespace: istio-system}
spec: {configPatch: []}
`, want: "configPatch"},
		{name: "duplicate key", doc: valid + "  selector: {}\n", want: "selector"},
		{name: "missing namespace", doc: strings.Replace(valid, "  namespace: istio-system\n", "", 1), want: "namespace"},
		{name: "missing spec", doc: valid[:strings.Index(valid, "spec:")], want: "spec is required"},
		{name: "bad enum", doc: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: istio-system}
spec: {action: CUSTOMER}
`, want: "CUSTOMER"},
		{name: "no resources", doc: "# only a comment\n", want: "no resources"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manifests.ParseObjects("case.yaml", []byte(tc.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseMeshRejectsUnknownFields(t *testing.T) {
	_, err := manifests.ParseMesh([]byte("extensionProviders:\n  - name: x\n    envoyExtAuthzGrpc: {service: s, port: 1, failOpen: false, packAsByte: true}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "packAsByte")
}

func TestParseRouteTableRejects(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{name: "unknown field", doc: "routes: [{path_prefix: /v1, resource: llm, priority: 1}]"},
		{name: "empty", doc: "routes: []"},
		{name: "relative prefix", doc: "routes: [{path_prefix: v1, resource: llm}]"},
		{name: "no resource", doc: "routes: [{path_prefix: /v1}]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manifests.ParseRouteTable([]byte(tc.doc))
			assert.Error(t, err)
		})
	}
}

func TestLoadRejectsUnknownManifestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range append([]string{manifests.MeshFile, manifests.RoutesFile}, manifests.ConfigFiles...) {
		data, err := os.ReadFile(filepath.Join(manifestDir, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	_, err := manifests.Load(dir)
	require.NoError(t, err, "a copy of the manifests must load")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "peerauthentication.yaml"), []byte("{}"), 0o600))
	_, err = manifests.Load(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "peerauthentication.yaml")
}

func TestWithoutDropsOneKind(t *testing.T) {
	set := loadSet(t)

	without := set.Without(manifests.KindAuthorizationPolicy)
	assert.Empty(t, without.Find(manifests.KindAuthorizationPolicy))
	assert.Len(t, without.Objects, len(set.Objects)-1)
	assert.NotContains(t, without.ConfigString(), "kind: AuthorizationPolicy")
	assert.Len(t, set.Find(manifests.KindAuthorizationPolicy), 1, "the original set is unchanged")
}

func virtualService(t *testing.T, set *manifests.Set) *networking.VirtualService {
	t.Helper()
	vs := set.Find(manifests.KindVirtualService)
	require.Len(t, vs, 1)
	return vs[0].Spec.(*networking.VirtualService)
}

// resourceOfHost is the resource each upstream host stands for.
func resourceOfHost(t *testing.T, host string) string {
	t.Helper()
	if host == "llm.hopguard.local" {
		return "llm"
	}
	server, ok := strings.CutSuffix(host, ".mcp.hopguard.local")
	require.True(t, ok, "unknown upstream host %s", host)
	return "mcp:" + server
}

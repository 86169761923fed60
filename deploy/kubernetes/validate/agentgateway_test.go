package validate

import (
	"cmp"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	agwconfig "github.com/hopguard/hopguard/gateway-configs/agentgateway"
	"github.com/hopguard/hopguard/synapse/config"
	"github.com/hopguard/hopguard/synapse/mapping"
)

var update = flag.Bool("update", false, "rewrite ../agentgateway/config.yaml from gateway-configs/agentgateway's renderer")

const (
	agentgatewayDir = "../agentgateway"
	// The ConfigMap's key, and the file the configMapGenerator reads.
	agentgatewayConfigFile = "config.yaml"
	// The variable config.yaml takes the model provider's key from.
	providerKeyEnv = "HOPGUARD_PROVIDER_KEY"
	// The version config.yaml is rendered for and checked against (gateway-configs/agentgateway).
	agentgatewayImage = "cr.agentgateway.dev/agentgateway:v1.4.1"
)

// agentgatewayParams are the Params deploy/kubernetes/agentgateway/config.yaml is rendered with:
// gateway-configs/agentgateway's own (its config.yaml's routes, policies and ports), with
// in-cluster addresses.
func agentgatewayParams() agwconfig.Params {
	p := agwconfig.DefaultParams()
	// The base's Service, not a pod: v1.4.1's extAuthz names one host, so a pod's address would
	// send every check to that replica alone (kustomization.yaml says what the Service does
	// instead). TestAgentgatewayAsksTheBasesSynapse holds it to base/service.yaml.
	p.SynapseAddr = "synapse.hopguard.svc.cluster.local:9191"
	// Placeholders, which an overlay replaces with its own upstreams (kustomization.yaml).
	p.LLMAddr = "llm.example.svc.cluster.local:80"
	for i, s := range p.MCPServers {
		p.MCPServers[i].Addr = "mcp-" + s.Name + ".example.svc.cluster.local:80"
	}
	// A reference, not a key: agentgateway replaces it with the variable's value when it loads
	// the file, so the key lives in a Secret, never in the ConfigMap. Quoted, because the
	// template writes the key into a flow mapping, where an unquoted "{" would not parse.
	p.ProviderKey = strconv.Quote("${" + providerKeyEnv + "}")
	return p
}

// agentgatewayConfigHeader comes before the rendering in config.yaml, for its readers. No "$"
// in it: agentgateway expands variables in the whole file, comments included.
const agentgatewayConfigHeader = `# deploy/kubernetes/agentgateway's agentgateway config (the ConfigMap agentgateway-config).
# Generated, do not edit: gateway-configs/agentgateway's rendering with the Params of
# deploy/kubernetes/validate (agentgatewayParams in agentgateway_test.go). Regenerate with
#   cd deploy/kubernetes/validate && go test -run TestAgentgatewayConfigIsTheRendering -update
# In the cluster, unlike in the test environment the comments below describe: synapse is its
# Service (kustomization.yaml says why); the upstreams (*.example.svc.cluster.local) are
# placeholders that an overlay replaces; the provider key comes from the environment (the
# Secret agentgateway); the Deployment moves the readiness listener off loopback
# (READINESS_ADDR) for the kubelet's probe; the gateway's port listens on the pod's own
# interfaces, where its Service sends the agents.
#
`

func renderAgentgatewayConfig(t *testing.T) string {
	t.Helper()
	rendered, err := agwconfig.Render(agentgatewayParams())
	require.NoError(t, err)
	return agentgatewayConfigHeader + string(rendered)
}

// agwConfig is the part of agentgateway's config file these checks read.
type agwConfig struct {
	Config struct {
		AdminAddr     string `json:"adminAddr"`
		StatsAddr     string `json:"statsAddr"`
		ReadinessAddr string `json:"readinessAddr"`
	} `json:"config"`
	Gateways map[string]struct {
		Port int32 `json:"port"`
	} `json:"gateways"`
	Routes []agwRoute `json:"routes"`
}

type agwRoute struct {
	Name    string `json:"name"`
	Matches []struct {
		Path struct {
			Exact      string `json:"exact"`
			PathPrefix string `json:"pathPrefix"`
		} `json:"path"`
	} `json:"matches"`
	Policies struct {
		ExtAuthz *struct {
			Host        string `json:"host"`
			FailureMode any    `json:"failureMode"`
			Protocol    struct {
				GRPC struct {
					Context map[string]string `json:"context"`
				} `json:"grpc"`
			} `json:"protocol"`
		} `json:"extAuthz"`
		ExtProc *struct {
			Host        string `json:"host"`
			FailureMode string `json:"failureMode"`
		} `json:"extProc"`
	} `json:"policies"`
	Backends []agwBackend `json:"backends"`
}

type agwBackend struct {
	MCP any `json:"mcp"`
}

// builtAgentgateway is the agentgateway kustomization as kustomize renders it, with its config.
func builtAgentgateway(t *testing.T) (built, string, agwConfig) {
	t.Helper()
	b := build(t, agentgatewayDir)
	require.Len(t, b.configMaps, 1)
	data, ok := b.configMaps[0].Data[agentgatewayConfigFile]
	require.True(t, ok, "ConfigMap %s has no %s", b.configMaps[0].Name, agentgatewayConfigFile)
	var cfg agwConfig
	require.NoError(t, yaml.Unmarshal([]byte(data), &cfg))
	return b, data, cfg
}

// TestAgentgatewayConfigIsTheRendering keeps the ConfigMap from drifting from the config the
// conformance and security suites run agentgateway with: it is the same renderer's output.
func TestAgentgatewayConfigIsTheRendering(t *testing.T) {
	want := renderAgentgatewayConfig(t)
	path := filepath.Join(agentgatewayDir, agentgatewayConfigFile)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
	}
	_, got, _ := builtAgentgateway(t)
	assert.Equal(t, want, got, "%s is not the rendering of agentgatewayParams: regenerate it (go test -run %s -update)", path, t.Name())
}

func TestAgentgatewayConfigMatchesItsSchema(t *testing.T) {
	_, data, _ := builtAgentgateway(t)
	schema, err := agwconfig.LoadSchema()
	require.NoError(t, err)
	require.NoError(t, schema.Validate([]byte(data)))
}

func TestAgentgatewayBuildsAndDecodesStrictly(t *testing.T) {
	b, _, _ := builtAgentgateway(t)
	assert.Empty(t, b.namespaces, "the base creates the namespace: this kustomization is applied beside it")
	require.Len(t, b.deployments, 1)
	require.Len(t, b.services, 1)
	require.Len(t, b.pdbs, 1)
	assertWired(t, b)

	d := b.deployments[0]
	assert.Equal(t, "hopguard", d.Namespace, "beside the base")
	require.NotNil(t, d.Spec.Replicas)
	assert.GreaterOrEqual(t, *d.Spec.Replicas, int32(2), "replicas: losing one gateway must not stop every agent")
	pod := d.Spec.Template.Spec
	require.NotNil(t, pod.SecurityContext)
	require.NotNil(t, pod.SecurityContext.RunAsNonRoot)
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)

	agw, ok := containersByName(d)["agentgateway"]
	require.True(t, ok)
	assert.Equal(t, agentgatewayImage, agw.Image)
	require.NotNil(t, agw.SecurityContext)
	require.NotNil(t, agw.SecurityContext.ReadOnlyRootFilesystem)
	assert.True(t, *agw.SecurityContext.ReadOnlyRootFilesystem)
	require.NotNil(t, agw.SecurityContext.AllowPrivilegeEscalation)
	assert.False(t, *agw.SecurityContext.AllowPrivilegeEscalation)
	require.NotNil(t, agw.SecurityContext.Capabilities)
	assert.Contains(t, agw.SecurityContext.Capabilities.Drop, corev1.Capability("ALL"))
	assert.Contains(t, agw.Resources.Requests, corev1.ResourceCPU)
	assert.Contains(t, agw.Resources.Requests, corev1.ResourceMemory)
	assert.NotContains(t, agw.Resources.Limits, corev1.ResourceCPU, "no CPU limit: throttling becomes every hop's p99")
	require.NotNil(t, agw.ReadinessProbe)
	require.NotNil(t, agw.ReadinessProbe.HTTPGet)
	assert.Equal(t, "/healthz/ready", agw.ReadinessProbe.HTTPGet.Path, "agentgateway's readiness endpoint")

	// The file agentgateway is told to load is the generated ConfigMap's (by its hashed name).
	var mountPath string
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == b.configMaps[0].Name {
			for _, m := range agw.VolumeMounts {
				if m.Name == v.Name {
					mountPath = m.MountPath
				}
			}
		}
	}
	require.NotEmpty(t, mountPath, "agentgateway mounts ConfigMap %s", b.configMaps[0].Name)
	assert.Equal(t, []string{"-f", mountPath + "/" + agentgatewayConfigFile}, agw.Args)

	// agentgateway's own drain must end before the kubelet's SIGKILL.
	require.NotNil(t, pod.TerminationGracePeriodSeconds)
	require.NotNil(t, agw.Lifecycle)
	require.NotNil(t, agw.Lifecycle.PreStop)
	require.NotNil(t, agw.Lifecycle.PreStop.Sleep)
	drain, err := strconv.ParseInt(envValue(agw, "TERMINATION_GRACE_PERIOD_SECONDS"), 10, 64)
	require.NoError(t, err, "TERMINATION_GRACE_PERIOD_SECONDS sets agentgateway's drain")
	assert.Equal(t, *pod.TerminationGracePeriodSeconds, agw.Lifecycle.PreStop.Sleep.Seconds+drain,
		"the grace period is the preStop sleep and agentgateway's drain")
}

// TestAgentgatewayListenersMatchThePod: each of agentgateway's listeners is where the pod
// expects it, its address from the config file unless an environment variable overrides it
// (which v1.4.1 lets win). The gateway and readiness ports must be reachable on the pod's
// address, where the Service and the kubelet connect; admin and stats stay on loopback (the
// admin API shows the whole config, provider key included).
func TestAgentgatewayListenersMatchThePod(t *testing.T) {
	b, _, cfg := builtAgentgateway(t)
	agw := containersByName(b.deployments[0])["agentgateway"]

	gateway, ok := cfg.Gateways["default"]
	require.True(t, ok, "the routes attach to the gateway named default")
	assert.Equal(t, gateway.Port, containerPort(t, agw, "gateway"), "the container's gateway port is the config's")

	for _, l := range []struct {
		field, value, fallback, env string
		containerPort               string // "" for a listener kept on loopback
	}{
		// The fallbacks are v1.4.1's defaults, where the config leaves an address out.
		{"adminAddr", cfg.Config.AdminAddr, "127.0.0.1:15000", "ADMIN_ADDR", ""},
		{"statsAddr", cfg.Config.StatsAddr, "[::]:15020", "STATS_ADDR", ""},
		{"readinessAddr", cfg.Config.ReadinessAddr, "[::]:15021", "READINESS_ADDR", "readiness"},
	} {
		t.Run(l.field, func(t *testing.T) {
			addr := cmp.Or(envValue(agw, l.env), l.value, l.fallback)
			host, port, err := net.SplitHostPort(addr)
			require.NoError(t, err, "%s: %q", l.field, addr)
			ip, err := netip.ParseAddr(host)
			require.NoError(t, err, "%s: %q", l.field, addr)
			if l.containerPort == "" {
				assert.True(t, ip.IsLoopback(), "%s listens on %s: keep it on loopback", l.field, addr)
				return
			}
			assert.True(t, ip.IsUnspecified(), "%s listens on %s, which the pod's address does not reach", l.field, addr)
			_, configPort, err := net.SplitHostPort(cmp.Or(l.value, l.fallback))
			require.NoError(t, err)
			assert.Equal(t, configPort, port, "%s overrides the config's port", l.env)
			assert.Equal(t, port, strconv.Itoa(int(containerPort(t, agw, l.containerPort))), "container port %s", l.containerPort)
		})
	}
}

// A variable reference as agentgateway expands it when it loads its config.
var envReference = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// TestAgentgatewayConfigNamesOnlyVariablesThePodSets: agentgateway refuses to load a file
// naming a variable that is not set, and would expand any other "$" too.
func TestAgentgatewayConfigNamesOnlyVariablesThePodSets(t *testing.T) {
	b, data, _ := builtAgentgateway(t)
	agw := containersByName(b.deployments[0])["agentgateway"]
	refs := envReference.FindAllStringSubmatch(data, -1)
	require.NotEmpty(t, refs, "the provider key comes from the environment")
	assert.Equal(t, len(refs), strings.Count(data, "$"), "every $ in the file is a variable reference")
	for _, ref := range refs {
		assert.True(t, slices.ContainsFunc(agw.Env, func(e corev1.EnvVar) bool { return e.Name == ref[1] }),
			"the config names %s, which the container does not set", ref[1])
	}
	assert.Contains(t, refs, []string{"${" + providerKeyEnv + "}", providerKeyEnv})
	for _, e := range agw.Env {
		if e.Name == providerKeyEnv {
			assert.Empty(t, e.Value, "the provider key comes from a Secret")
			require.NotNil(t, e.ValueFrom)
			assert.NotNil(t, e.ValueFrom.SecretKeyRef, "the provider key comes from a Secret")
		}
	}
}

// TestAgentgatewayAsksTheBasesSynapse: every route is guarded by the base's synapse, through
// its Service, failing closed, and names a resource synapse's own route table agrees with.
func TestAgentgatewayAsksTheBasesSynapse(t *testing.T) {
	base := build(t, "../base")
	synapseCfg := loadSynapseConfig(t, base)
	synapse := synapseGRPCAddr(t, base, synapseCfg)
	routes := routeTable(synapseCfg.Routes)
	_, _, cfg := builtAgentgateway(t)
	require.NotEmpty(t, cfg.Routes)

	for _, r := range cfg.Routes {
		t.Run(r.Name, func(t *testing.T) {
			authz := r.Policies.ExtAuthz
			require.NotNil(t, authz, "a route without extAuthz lets every request through")
			assert.Equal(t, synapse, authz.Host, "extAuthz asks the base's synapse Service")
			assert.Equal(t, map[string]any{"denyWithStatus": float64(503)}, authz.FailureMode, "fail closed, with 503 as under Envoy")
			resource := authz.Protocol.GRPC.Context["resource"]
			require.NotEmpty(t, resource, "synapse is told the route's resource")

			if slices.ContainsFunc(r.Backends, func(b agwBackend) bool { return b.MCP != nil }) {
				require.NotNil(t, r.Policies.ExtProc, "an MCP route without the response path shows the agent every tool")
			}
			if proc := r.Policies.ExtProc; proc != nil {
				assert.Equal(t, synapse, proc.Host, "extProc asks the base's synapse Service")
				assert.Equal(t, "failClosed", proc.FailureMode)
			}

			// synapse denies every request whose resource its route table contradicts
			// (route_conflict).
			for _, path := range matchedPaths(r) {
				if fromTable, ok := routes.Lookup(path); ok {
					assert.Equal(t, resource, fromTable, "synapse's routes name another resource for %s", path)
				}
			}
		})
	}
}

// TestAgentgatewayOverlayReplacesTheConfig is what kustomization.yaml tells an overlay to do
// with its own upstreams: replace config.yaml. The pods then load the overlay's file, under a
// new name, so they roll.
func TestAgentgatewayOverlayReplacesTheConfig(t *testing.T) {
	dir := t.TempDir()
	abs, err := filepath.Abs(agentgatewayDir)
	require.NoError(t, err)
	// kustomize takes a base by a relative path only.
	agentgateway, err := filepath.Rel(dir, abs)
	require.NoError(t, err)
	ours := strings.ReplaceAll(renderAgentgatewayConfig(t), "llm.example.svc.cluster.local:80", "vllm.models.svc.cluster.local:8000")
	require.NoError(t, os.WriteFile(filepath.Join(dir, agentgatewayConfigFile), []byte(ours), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(`resources:
  - `+agentgateway+`
configMapGenerator:
  - name: agentgateway-config
    behavior: replace
    files:
      - config.yaml
`), 0o600))

	b := build(t, dir)
	require.Len(t, b.configMaps, 1)
	assert.Equal(t, ours, b.configMaps[0].Data[agentgatewayConfigFile])
	original, _, _ := builtAgentgateway(t)
	assert.NotEqual(t, original.configMaps[0].Name, b.configMaps[0].Name, "a new config is a new name")
	assert.True(t, slices.ContainsFunc(b.deployments[0].Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
		return v.ConfigMap != nil && v.ConfigMap.Name == b.configMaps[0].Name
	}), "the pods mount the overlay's config")
}

// synapseGRPCAddr is the in-cluster address of the base's Service port that reaches synapse's
// gRPC listener (ext_authz and ext_proc).
func synapseGRPCAddr(t *testing.T, base built, cfg *config.Config) string {
	t.Helper()
	_, listenPort, err := net.SplitHostPort(cfg.GRPC.ListenAddr)
	require.NoError(t, err)
	require.Len(t, base.deployments, 1)
	syn, ok := containersByName(base.deployments[0])["synapse"]
	require.True(t, ok)
	var grpcPort string
	for _, p := range syn.Ports {
		if strconv.Itoa(int(p.ContainerPort)) == listenPort {
			grpcPort = p.Name
		}
	}
	require.NotEmpty(t, grpcPort, "synapse's container names its gRPC port %s", listenPort)
	var addrs []string
	for _, s := range base.services {
		for _, p := range s.Spec.Ports {
			if p.TargetPort.StrVal == grpcPort {
				addrs = append(addrs, net.JoinHostPort(s.Name+"."+s.Namespace+".svc.cluster.local", strconv.Itoa(int(p.Port))))
			}
		}
	}
	require.Len(t, addrs, 1, "one Service port reaches synapse's gRPC listener")
	return addrs[0]
}

func routeTable(routes []config.Route) mapping.RouteTable {
	t := make(mapping.RouteTable, len(routes))
	for i, r := range routes {
		t[i] = mapping.Route{PathPrefix: r.PathPrefix, Resource: r.Resource}
	}
	return t
}

// matchedPaths are paths a route matches: an exact path, or a prefix and a path below it.
func matchedPaths(r agwRoute) []string {
	var paths []string
	for _, m := range r.Matches {
		if m.Path.Exact != "" {
			paths = append(paths, m.Path.Exact)
		}
		if p := m.Path.PathPrefix; p != "" {
			paths = append(paths, p, strings.TrimSuffix(p, "/")+"/below")
		}
	}
	return paths
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	i := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == name })
	require.GreaterOrEqual(t, i, 0, "container %s has no port %s", c.Name, name)
	return c.Ports[i].ContainerPort
}

// envValue is the literal value the container sets name to, "" if none.
func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

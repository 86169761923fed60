package stack

import (
	"fmt"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/gateway-configs/istio"
)

// synapseConfig is the YAML config (see synapse/config/example.yaml) of the synapse replica
// called name for one run; shared keeps its task registry in Postgres.
func synapseConfig(l env.Layout, name, adminToken string, shared bool) ([]byte, error) {
	type listen struct {
		ListenAddr string `yaml:"listenAddr"`
	}
	type route struct {
		PathPrefix string `yaml:"pathPrefix"`
		Resource   string `yaml:"resource"`
	}
	dir := l.Dir(name)
	// One synapse serves every gateway, always with Istio's route table: Istio sends no context
	// extensions, and the resource Envoy or agentgateway sends must agree with the table.
	table, err := istio.SynapseRoutes()
	if err != nil {
		return nil, err
	}
	routes := make([]route, 0, len(table))
	for _, r := range table {
		routes = append(routes, route{PathPrefix: r.PathPrefix, Resource: r.Resource})
	}
	config := map[string]any{
		"grpc": listen{ListenAddr: l.Addr(name, PortGRPC).String()},
		"http": listen{ListenAddr: l.Addr(name, PortHTTP).String()},
		"admin": map[string]string{
			"listenAddr": l.Addr(name, PortAdmin).String(),
			"token":      adminToken,
		},
		"cerbos": map[string]string{
			"addr":    l.Addr(Cerbos, PortGRPC).String(),
			"timeout": "500ms",
		},
		"identity": map[string]string{
			"jwksURL": "http://" + l.Addr(STS, PortHTTP).String() + "/.well-known/jwks.json",
			"issuer":  Issuer,
		},
		"routes": routes,
		"tasks":  map[string]string{"dbPath": filepath.Join(dir, "tasks.db")},
		"audit":  map[string]string{"sink": filepath.Join(dir, SynapseAuditFile)},
		"log":    map[string]string{"level": "info"},
	}
	if shared {
		// Read per check, so a revocation through any replica holds at the next hop through
		// every other (synapse/tasks/pgstore).
		config["tasks"] = map[string]string{"backend": "postgres", "postgresDSNFile": filepath.Join(dir, PostgresDSNFile)}
		// One key for every replica: a list's check and its answer may reach different ones.
		config["responsePath"] = map[string]string{"grantKeyFile": filepath.Join(dir, GrantKeyFile)}
	}
	out, err := yaml.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("encode synapse config: %w", err)
	}
	return out, nil
}

// synapseEnv is synapse's extra environment on a machine with cpus cores. On two cores or
// fewer synapse shares them with Cerbos, Envoy and the upstreams, and one P spends less CPU
// per check (fewer wake-ups of idle Ps) at the same latency: 186 -> 147 µs per check at
// saturation in BENCHMARKS.md's run. With more cores it keeps the Go default.
func synapseEnv(cpus int) []string {
	if cpus <= 2 {
		return []string{"GOMAXPROCS=1"}
	}
	return nil
}

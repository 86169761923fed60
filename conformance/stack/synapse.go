package stack

import (
	"fmt"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/hopguard/hopguard/conformance/env"
)

// synapseConfig is synapse's YAML config (see synapse/config/example.yaml) for one run.
func synapseConfig(l env.Layout, adminToken string) ([]byte, error) {
	type listen struct {
		ListenAddr string `yaml:"listenAddr"`
	}
	type route struct {
		PathPrefix string `yaml:"pathPrefix"`
		Resource   string `yaml:"resource"`
	}
	dir := l.Dir(Synapse)
	routes := []route{{PathPrefix: "/v1/", Resource: "llm"}}
	for _, server := range MCPServers() {
		routes = append(routes, route{PathPrefix: "/mcp/" + server, Resource: "mcp:" + server})
	}
	config := map[string]any{
		"grpc": listen{ListenAddr: l.Addr(Synapse, PortGRPC).String()},
		"http": listen{ListenAddr: l.Addr(Synapse, PortHTTP).String()},
		"admin": map[string]string{
			"listenAddr": l.Addr(Synapse, PortAdmin).String(),
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
		// For gateways that send no context extensions (Istio); Envoy's must agree with it.
		"routes": routes,
		"tasks":  map[string]string{"dbPath": filepath.Join(dir, "tasks.db")},
		"audit":  map[string]string{"sink": filepath.Join(dir, SynapseAuditFile)},
		"log":    map[string]string{"level": "info"},
	}
	out, err := yaml.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("encode synapse config: %w", err)
	}
	return out, nil
}

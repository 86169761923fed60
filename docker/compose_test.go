// Package docker_test keeps docker/compose.yaml honest: every service on the host's network,
// non-root and read-only, on the same default ports as gateway-configs/agentgateway/config.yaml,
// and docker/compose/envoy.yaml the current rendering of gateway-configs/envoy on those ports.
package docker_test

import (
	"context"
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/agentgateway"
	envoyconfig "github.com/hopguard/hopguard/gateway-configs/envoy"
)

var update = flag.Bool("update", false, "rewrite docker/compose/envoy.yaml from gateway-configs/envoy")

const envoyConfigPath = "compose/envoy.yaml"

// Envoy's own ports in the compose file; the rest are agentgateway's defaults.
var (
	envoyListen = netip.MustParseAddrPort("127.0.0.1:8080")
	envoyAdmin  = netip.MustParseAddrPort("127.0.0.1:9901")
)

type service struct {
	Image       string            `yaml:"image"`
	NetworkMode string            `yaml:"network_mode"`
	User        string            `yaml:"user"`
	ReadOnly    bool              `yaml:"read_only"`
	CapDrop     []string          `yaml:"cap_drop"`
	SecurityOpt []string          `yaml:"security_opt"`
	Ports       []string          `yaml:"ports"`
	Networks    any               `yaml:"networks"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
}

func loadCompose(t *testing.T) map[string]service {
	t.Helper()
	data, err := os.ReadFile("compose.yaml")
	require.NoError(t, err)
	var file struct {
		Services map[string]service `yaml:"services"`
		Networks any                `yaml:"networks"`
	}
	require.NoError(t, yaml.Unmarshal(data, &file))
	require.Nil(t, file.Networks, "the compose file must not declare networks: every service uses the host's")
	require.NotEmpty(t, file.Services)
	return file.Services
}

func envoyParams() envoyconfig.Params {
	d := agentgateway.DefaultParams()
	p := envoyconfig.Params{
		Listen:  envoyListen,
		Admin:   envoyAdmin,
		Synapse: []netip.AddrPort{netip.MustParseAddrPort(d.SynapseAddr)},
		LLM:     netip.MustParseAddrPort(d.LLMAddr),
	}
	for _, s := range d.MCPServers {
		p.MCPServers = append(p.MCPServers, envoyconfig.MCPServer{Name: s.Name, Addr: netip.MustParseAddrPort(s.Addr)})
	}
	return p
}

func TestComposeServicesAreHardenedAndLocal(t *testing.T) {
	for name, s := range loadCompose(t) {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, "host", s.NetworkMode)
			assert.Equal(t, "65532:65532", s.User, "never root")
			assert.True(t, s.ReadOnly, "read-only root file system")
			assert.Equal(t, []string{"ALL"}, s.CapDrop)
			assert.Contains(t, s.SecurityOpt, "no-new-privileges:true")
			assert.Empty(t, s.Ports, "with host networking nothing is published")
			assert.Nil(t, s.Networks)
			for _, v := range append(slices.Clone(s.Command), values(s.Environment)...) {
				assert.NotContains(t, v, "0.0.0.0", "bind and reach 127.0.0.1 only")
			}
		})
	}
}

func TestComposeUsesOfficialImagesByDefault(t *testing.T) {
	services := loadCompose(t)
	for name, want := range map[string]string{
		"cerbos":       "${HOPGUARD_IMAGE_CERBOS:-ghcr.io/cerbos/cerbos:0.55.0}",
		"envoy":        "${HOPGUARD_IMAGE_ENVOY:-envoyproxy/envoy:v1.40.0}",
		"agentgateway": "${HOPGUARD_IMAGE_AGENTGATEWAY:-cr.agentgateway.dev/agentgateway:v1.4.1}",
		"synapse":      "${HOPGUARD_IMAGE_SYNAPSE:-hopguard/synapse:dev}",
	} {
		assert.Equal(t, want, services[name].Image, name)
	}
}

// TestComposePortsAgreeWithTheGatewayConfigs: the upstreams listen where both gateways' configs
// send traffic.
func TestComposePortsAgreeWithTheGatewayConfigs(t *testing.T) {
	services := loadCompose(t)
	d := agentgateway.DefaultParams()
	assert.Contains(t, services["llm"].Command, "--addr="+d.LLMAddr)
	for _, s := range d.MCPServers {
		assert.Contains(t, services["mcp-"+s.Name].Command, "--addr="+s.Addr, s.Name)
		assert.Contains(t, services["mcp-"+s.Name].Command, "--server="+s.Name, s.Name)
	}
	assert.Equal(t, d.SynapseAddr, services["synapse"].Environment["SYNAPSE_GRPC_ADDR"])
	assert.Equal(t, "http://"+envoyListen.String(), services["agent"].Environment["HOPGUARD_AGENT_GATEWAY"])
	assert.Equal(t, 3000, d.GatewayPort, "the agentgateway front door compose.yaml documents")
}

func TestComposeEnvoyConfigIsCurrent(t *testing.T) {
	want, err := envoyconfig.Render(envoyParams())
	require.NoError(t, err)
	want = append([]byte("# Generated from gateway-configs/envoy by `go test ./docker -update`: do not edit.\n"), want...)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(envoyConfigPath), 0o755))
		require.NoError(t, os.WriteFile(envoyConfigPath, want, 0o644))
	}
	got, err := os.ReadFile(envoyConfigPath)
	require.NoError(t, err, "run go test ./docker -update")
	require.Equal(t, string(want), string(got), "docker/compose/envoy.yaml is stale: run go test ./docker -update")

	envoy, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("envoy --mode validate not run: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, envoy, "--mode", "validate", "-c", envoyConfigPath, "--use-dynamic-base-id", "--disable-hot-restart", "--log-level", "warn").CombinedOutput()
	require.NoError(t, err, "envoy rejected docker/compose/envoy.yaml:\n%s", out)
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, strings.TrimSpace(v))
	}
	return out
}

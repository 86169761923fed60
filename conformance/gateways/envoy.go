package gateways

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/stack"
	envoyconfig "github.com/hopguard/hopguard/gateway-configs/envoy"
)

// EnvoyConfigFile is the rendered bootstrap in the gateway's directory.
const EnvoyConfigFile = "envoy.yaml"

// Envoy is upstream Envoy (1.40) with the config of gateway-configs/envoy.
type Envoy struct {
	// Named is its name in the environment and the report; empty means "envoy". Two Envoys in
	// one environment (the benchmark's governed one and its baseline) need two names.
	Named string
	// WithoutAuthz renders its config without ext_authz: nothing is authorized. Only the
	// benchmark's baseline uses it, in front of the mocks.
	WithoutAuthz bool

	detail string
}

var _ Gateway = (*Envoy)(nil)

// Name implements Gateway.
func (e *Envoy) Name() string {
	if e.Named != "" {
		return e.Named
	}
	return "envoy"
}

// Detail implements Gateway.
func (e *Envoy) Detail() string { return e.detail }

// Component implements Gateway.
func (e *Envoy) Component(ctx context.Context) (env.Component, error) {
	name := e.Name()
	c, version, err := envoyComponent(ctx, name, env.File{Name: EnvoyConfigFile, Render: func(l env.Layout) ([]byte, error) {
		p := EnvoyParams(l, name)
		p.WithoutAuthz = e.WithoutAuthz
		return envoyconfig.Render(p)
	}})
	if err != nil {
		return env.Component{}, err
	}
	e.detail = "Envoy " + version + ", config from gateway-configs/envoy"
	if e.WithoutAuthz {
		e.detail += ", ext_authz removed"
	}
	return c, nil
}

// envoyComponent is an Envoy as the harness runs every one (the Envoy and Istio gateways): the
// envoy tool, started on the bootstrap it renders into its directory, listening on PortHTTP,
// ready when its admin interface on PortAdmin says so. It also returns Envoy's version.
func envoyComponent(ctx context.Context, name string, bootstrap env.File) (env.Component, string, error) {
	path, err := binaries.Tool("envoy")
	if err != nil {
		return env.Component{}, "", err
	}
	version, err := envoyVersion(ctx, path)
	if err != nil {
		return env.Component{}, "", err
	}
	return env.Component{
		Name:    name,
		Program: env.Program{Tool: "envoy"},
		Ports:   []string{stack.PortHTTP, stack.PortAdmin},
		Files:   []env.File{bootstrap},
		Args: func(l env.Layout) []string {
			return []string{
				"-c", filepath.Join(l.Dir(name), bootstrap.Name),
				// Several Envoys (and other tests' Envoys) may run on one machine at once.
				"--use-dynamic-base-id",
				// Nothing is ever hot-restarted; with hot restart on, every run would leave an
				// envoy_shared_memory_* file behind in /dev/shm.
				"--disable-hot-restart",
				"--log-level", "warning",
			}
		},
		Ready: env.Probe{Kind: env.ProbeHTTP, Port: stack.PortAdmin, Path: "/ready"},
	}, version, nil
}

// EnvoyParams are the render parameters for the gateway component called name in layout l.
func EnvoyParams(l env.Layout, name string) envoyconfig.Params {
	p := envoyconfig.Params{
		Listen:  l.Addr(name, stack.PortHTTP),
		Admin:   l.Addr(name, stack.PortAdmin),
		Synapse: stack.SynapseAddrs(l),
		LLM:     l.Addr(stack.LLM, stack.PortHTTP),
	}
	for _, server := range stack.MCPServers() {
		p.MCPServers = append(p.MCPServers, envoyconfig.MCPServer{Name: server, Addr: l.Addr(stack.MCPComponent(server), stack.PortHTTP)})
	}
	return p
}

var envoyVersionPattern = regexp.MustCompile(`/([0-9]+\.[0-9]+\.[0-9]+)/`)

func envoyVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", path, err)
	}
	m := envoyVersionPattern.FindStringSubmatch(string(out))
	if m == nil {
		return "", fmt.Errorf("%s --version: no version in %q", path, strings.TrimSpace(string(out)))
	}
	return m[1], nil
}

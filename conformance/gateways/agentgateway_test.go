package gateways_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/conformance/stack"
)

// loopback and eth0 are interface lists as net.Interfaces returns them: inside `unshare -n`,
// and on an ordinary host.
func loopback() ([]net.Interface, error) {
	return []net.Interface{{Index: 1, Name: "lo", Flags: net.FlagUp | net.FlagLoopback}}, nil
}

func eth0() ([]net.Interface, error) {
	lo, _ := loopback()
	return append(lo, net.Interface{Index: 2, Name: "eth0", Flags: net.FlagUp | net.FlagBroadcast}), nil
}

func TestAgentGatewayOnProcessesNeedsABinary(t *testing.T) {
	bin := t.TempDir()
	t.Setenv(binaries.BinDirEnv, bin)
	for _, runtime := range []string{"", "process"} {
		_, err := (&gateways.AgentGateway{Runtime: runtime, Interfaces: loopback}).Component(t.Context())
		require.ErrorContains(t, err, "not installed in bin/agentgateway", runtime)
		assert.ErrorContains(t, err, "HOPGUARD_AGENTGATEWAY", runtime, "names the first way to get it")
		assert.ErrorContains(t, err, "cr.agentgateway.dev/agentgateway:v1.4.1", runtime, "names the second way")
	}

	require.NoError(t, os.WriteFile(filepath.Join(bin, gateways.AgentGatewayTool), []byte("#!/bin/sh\n"), 0o755))
	g := &gateways.AgentGateway{Runtime: "process", Interfaces: loopback}
	c, err := g.Component(t.Context())
	require.NoError(t, err)
	assert.Equal(t, env.Program{Tool: gateways.AgentGatewayTool}, c.Program)
	assert.Contains(t, g.Detail(), "binary")
}

// agentgateway binds every interface, so it may run only where loopback is the only one.
func TestAgentGatewayRunsOnlyWhereLoopbackIsTheOnlyInterface(t *testing.T) {
	bin := t.TempDir()
	t.Setenv(binaries.BinDirEnv, bin)
	require.NoError(t, os.WriteFile(filepath.Join(bin, gateways.AgentGatewayTool), []byte("#!/bin/sh\n"), 0o755))
	listErr := func() ([]net.Interface, error) { return nil, errors.New("netlink: permission denied") }

	tests := []struct {
		name       string
		runtime    string
		network    netns.Where
		interfaces func() ([]net.Interface, error)
		wantErr    string
	}{
		{"process, loopback only", "process", netns.Where{Isolated: true}, loopback, ""},
		{"container, loopback only", "container", netns.Where{Isolated: true, Holder: "c0ffee"}, loopback, ""},
		{"process, another interface", "process", netns.Where{}, eth0, "this network has eth0 besides loopback"},
		{"container, another interface", "container", netns.Where{}, eth0, "this network has eth0 besides loopback"},
		{"no namespace, says why", "process", netns.Where{Why: errors.New("unshare: operation not permitted")}, eth0, "could not enter one (unshare: operation not permitted)"},
		{"interfaces unknown", "process", netns.Where{}, listErr, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&gateways.AgentGateway{Runtime: tt.runtime, Network: tt.network, Interfaces: tt.interfaces}).Component(t.Context())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestAgentGatewayComponent(t *testing.T) {
	g := &gateways.AgentGateway{Runtime: "container", Interfaces: loopback}
	c, err := g.Component(t.Context())
	require.NoError(t, err)
	require.NoError(t, env.Environment{Components: []env.Component{c}}.Validate())
	assert.True(t, c.Optional, "an image that cannot be had here makes the column not run, not the suite fail")
	assert.Equal(t, env.Program{Tool: "agentgateway"}, c.Program)

	l := newFakeLayout(t.TempDir())
	require.Len(t, c.Files, 1)
	config, err := c.Files[0].Render(l)
	require.NoError(t, err)
	for _, want := range []string{
		"host: " + l.Addr(stack.Synapse, stack.PortGRPC).String(),
		"hostOverride: " + l.Addr(stack.LLM, stack.PortHTTP).String(),
		"http://" + l.Addr(stack.MCPComponent("payroll"), stack.PortHTTP).String() + "/mcp",
		"readinessAddr: " + l.Addr(g.Name(), gateways.PortReadiness).String(),
		"port: " + strings.TrimPrefix(l.Addr(g.Name(), stack.PortHTTP).String(), "127.0.0.1:"),
	} {
		assert.Contains(t, string(config), want)
	}
	assert.Equal(t, []string{"-f", l.Dir(g.Name()) + "/" + gateways.AgentGatewayConfigFile}, c.Args(l))
}

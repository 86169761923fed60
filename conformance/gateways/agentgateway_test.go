package gateways_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/stack"
)

func TestAgentGatewayOnProcessesNeedsABinary(t *testing.T) {
	bin := t.TempDir()
	t.Setenv(binaries.BinDirEnv, bin)
	for _, runtime := range []string{"", "process"} {
		_, err := (&gateways.AgentGateway{Runtime: runtime}).Component(t.Context())
		require.ErrorContains(t, err, "publishes no binary", runtime)
		assert.ErrorContains(t, err, "bin/agentgateway", runtime)
	}

	require.NoError(t, os.WriteFile(filepath.Join(bin, gateways.AgentGatewayTool), []byte("#!/bin/sh\n"), 0o755))
	g := &gateways.AgentGateway{Runtime: "process"}
	c, err := g.Component(t.Context())
	require.NoError(t, err)
	assert.Equal(t, env.Program{Tool: gateways.AgentGatewayTool}, c.Program)
	assert.Contains(t, g.Detail(), "binary")
}

func TestAgentGatewayComponent(t *testing.T) {
	g := &gateways.AgentGateway{Runtime: "container"}
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

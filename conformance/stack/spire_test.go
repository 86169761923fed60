package stack_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/stack"
)

func spireStack(t *testing.T) env.Environment {
	t.Helper()
	secrets, err := stack.NewSecrets()
	require.NoError(t, err)
	e, err := stack.New(stack.Options{Secrets: secrets, SPIRE: &stack.SPIREOptions{}})
	require.NoError(t, err)
	require.NoError(t, e.Validate())
	return e
}

func renderFile(t *testing.T, e env.Environment, l env.Layout, component, file string) (string, error) {
	t.Helper()
	c, ok := e.Component(component)
	require.True(t, ok, component)
	i := slices.IndexFunc(c.Files, func(f env.File) bool { return f.Name == file })
	require.GreaterOrEqual(t, i, 0, file)
	out, err := c.Files[i].Render(l)
	return string(out), err
}

func TestSPIREStartsBeforeTheSTSWhichTakesItsSVIDs(t *testing.T) {
	e := spireStack(t)
	var names []string
	for _, c := range e.Components {
		names = append(names, c.Name)
	}
	assert.Less(t, slices.Index(names, stack.SPIREServer), slices.Index(names, stack.SPIREAgent))
	assert.Less(t, slices.Index(names, stack.SPIREAgent), slices.Index(names, stack.STS), "the STS gets its bundle from SPIRE's agent at start")
	l := fakeLayout{e: e, dir: "/run/hg"}
	sts, _ := e.Component(stack.STS)
	assert.Contains(t, sts.Args(l), "--spiffe-socket=unix:///run/hg/spire-agent/workload.sock")
	assert.Equal(t, []string{stack.SPIREAgent}, sts.Reaches, "a container STS has the socket's directory mounted")
	expired, _ := e.Component(stack.ExpiredSTS)
	assert.NotContains(t, strings.Join(expired.Args(l), " "), "spiffe")
	assert.Empty(t, expired.Reaches)
	for _, c := range e.Components {
		assert.Equal(t, c.Name == stack.SPIREAgent, c.InspectsProcesses, "%s: only SPIRE's agent reads other processes", c.Name)
	}

	without, _ := newStack(t)
	for _, c := range without.Components {
		assert.NotContains(t, c.Name, "spire", "no SPIRE unless asked")
	}
}

func TestSPIREConfigs(t *testing.T) {
	e := spireStack(t)
	dir := t.TempDir()
	l := fakeLayout{e: e, dir: dir}
	require.NoError(t, os.MkdirAll(l.Dir(stack.SPIREServer), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(l.Dir(stack.SPIREServer), "join-token"), []byte("token-123"), 0o600))

	server, err := renderFile(t, e, l, stack.SPIREServer, "server.conf")
	require.NoError(t, err)
	assert.Contains(t, server, `trust_domain = "hopguard.local"`)
	assert.Contains(t, server, `bind_address = "127.0.0.1"`)
	assert.Contains(t, server, `NodeAttestor "join_token"`)
	assert.Contains(t, server, `ready_path = "/ready"`)

	agent, err := renderFile(t, e, l, stack.SPIREAgent, "agent.conf")
	require.NoError(t, err)
	assert.Contains(t, agent, `join_token = "token-123"`)
	assert.Contains(t, agent, `socket_path = "`+filepath.Join(dir, stack.SPIREAgent, stack.WorkloadSocketFile)+`"`)
	assert.Contains(t, agent, `WorkloadAttestor "unix"`)
	assert.Contains(t, agent, "discover_workload_path = true", "the unix:sha256 selector needs it")
	assert.Contains(t, agent, `ready_path = "/ready"`)

	deep := fakeLayout{e: e, dir: "/" + strings.Repeat("d", 120)}
	_, err = renderFile(t, e, deep, stack.SPIREServer, "server.conf")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "longer than the 107 bytes a unix socket may have")
}

func TestSocketsFitUnderTheRunDirectory(t *testing.T) {
	assert.NoError(t, stack.SocketsFit("/work/hopguard/out/conformance/env"))
	err := stack.SocketsFit("/" + strings.Repeat("deep/", 20) + "env")
	require.Error(t, err, "a checkout too deep for SPIRE's sockets: SPIRE is then not run, with this reason")
	assert.Contains(t, err.Error(), "unix socket")
}

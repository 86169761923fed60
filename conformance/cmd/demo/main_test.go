package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/netns"
)

// stayOnTheHost is the isolator of the tests: running the test binary again would run its tests.
func stayOnTheHost(context.Context, string, io.Writer, string) (netns.Where, int, bool) {
	return netns.Where{Why: errors.New("tests stay on the host's network")}, 0, false
}

// TestRunRefusesBeforeAnythingStarts covers what the demo settles from its flags alone: none
// of these starts a component.
func TestRunRefusesBeforeAnythingStarts(t *testing.T) {
	t.Setenv(binaries.BinDirEnv, t.TempDir()) // whatever this machine has, no agentgateway binary
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // in stderr, or in stdout for a run that got as far as the story
	}{
		{name: "help names the gateways and the runtimes", args: []string{"--help"}, wantCode: 0,
			want: []string{"--gateway", "envoy", "istio", "agentgateway", "--runtime", "process", "container", "HOPGUARD_AGENTGATEWAY", "cr.agentgateway.dev/agentgateway:v1.4.1", "default agentgateway where it can run, else envoy"}},
		{name: "an unknown gateway", args: []string{"--gateway=nginx"}, wantCode: 2,
			want: []string{`no gateway "nginx": want one of envoy, agentgateway, istio`}},
		{name: "an unknown runtime", args: []string{"--runtime=podman"}, wantCode: 2,
			want: []string{`no runtime "podman": want process or container`}},
		{name: "stray arguments", args: []string{"istio"}, wantCode: 2, want: []string{`unexpected arguments ["istio"]`}},
		{name: "help names --version", args: []string{"--help"}, wantCode: 0, want: []string{"-version"}},
		{name: "version, before any other flag is checked", args: []string{"--version", "--gateway=nginx"}, wantCode: 0,
			want: []string{"demo ", " go1."}},
		{name: "agentgateway on the process runtime says why, before anything starts",
			args: []string{"--gateway=agentgateway", "--runtime=process", "--out=" + t.TempDir()}, wantCode: 1,
			want: []string{"agentgateway cannot run here: agentgateway is not installed", "HOPGUARD_AGENTGATEWAY="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, &stdout, &stderr, stayOnTheHost)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr.String())
			for _, w := range tt.want {
				assert.Contains(t, stdout.String()+stderr.String(), w)
			}
			assert.NotContains(t, stdout.String(), "starting:", "nothing may start")
		})
	}
}

// TestChooseGateway: with no --gateway the demo plays behind the seed's gateway where it can run,
// and behind Envoy with the reason where it cannot.
func TestChooseGateway(t *testing.T) {
	installed := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(installed, "agentgateway"), []byte("#!/bin/sh\n"), 0o755))
	isolated := netns.Where{Isolated: true}
	loopbackOnly := func() ([]net.Interface, error) {
		return []net.Interface{{Name: "lo", Flags: net.FlagUp | net.FlagLoopback}}, nil
	}
	tests := []struct {
		name    string
		bin     string
		network netns.Where
		asked   string
		want    string
		wantWhy []string
	}{
		{"installed, in a namespace: the seed's gateway", installed, isolated, "", "agentgateway", []string{"the seed's gateway"}},
		{"not installed: Envoy, saying how to install it", t.TempDir(), isolated, "", "envoy", []string{"agentgateway cannot run here", "HOPGUARD_AGENTGATEWAY=", "cr.agentgateway.dev/agentgateway:v1.4.1"}},
		{"asked for: as asked", t.TempDir(), isolated, "istio", "istio", []string{"as --gateway asks"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(binaries.BinDirEnv, tt.bin)
			byName := func(name string) (gateways.Gateway, error) {
				g, err := gateways.ByName("process", tt.network, name)
				if agw, ok := g.(*gateways.AgentGateway); ok {
					agw.Interfaces = loopbackOnly // this machine's own interfaces must not decide
				}
				return g, err
			}
			g, why, err := chooseGateway(t.Context(), "process", byName, tt.asked)
			require.NoError(t, err)
			assert.Equal(t, tt.want, g.Name())
			for _, w := range tt.wantWhy {
				assert.Contains(t, why, w)
			}
		})
	}
}

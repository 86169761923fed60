package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hopguard/hopguard/conformance/binaries"
)

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
			want: []string{"--gateway", "envoy", "istio", "agentgateway", "--runtime", "process", "container", "docker pull cr.agentgateway.dev/agentgateway:v1.4.1"}},
		{name: "an unknown gateway", args: []string{"--gateway=nginx"}, wantCode: 2,
			want: []string{`no gateway "nginx": want one of envoy, agentgateway, istio`}},
		{name: "an unknown runtime", args: []string{"--runtime=podman"}, wantCode: 2,
			want: []string{`no runtime "podman": want process or container`}},
		{name: "stray arguments", args: []string{"istio"}, wantCode: 2, want: []string{`unexpected arguments ["istio"]`}},
		{name: "agentgateway on the process runtime says why, before anything starts",
			args: []string{"--gateway=agentgateway", "--runtime=process", "--out=" + t.TempDir()}, wantCode: 1,
			want: []string{"agentgateway cannot run here: agentgateway publishes no binary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, &stdout, &stderr)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr.String())
			for _, w := range tt.want {
				assert.Contains(t, stdout.String()+stderr.String(), w)
			}
			assert.NotContains(t, stdout.String(), "starting:", "nothing may start")
		})
	}
}

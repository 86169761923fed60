package harness

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/env"
)

func TestWhyNotRunning(t *testing.T) {
	missing := errors.New("image cr.agentgateway.dev/agentgateway:v1.4.1 not available offline")
	tests := []struct {
		name       string
		components []string
		notRunning map[string]error
		want       string // "" when the gateway runs
	}{
		{name: "everything runs", components: []string{"envoy"}, notRunning: map[string]error{}},
		{name: "another component did not start", components: []string{"envoy"}, notRunning: map[string]error{"agentgateway": missing}},
		{name: "the gateway did not start: the runtime's reason as it is", components: []string{"agentgateway"},
			notRunning: map[string]error{"agentgateway": missing}, want: missing.Error()},
		{name: "a companion did not start", components: []string{"istio-xds", "istio"},
			notRunning: map[string]error{"istio-xds": missing}, want: "its component istio-xds did not start: " + missing.Error()},
		{name: "a gateway with no components runs nothing to miss", notRunning: map[string]error{"istio": missing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gateway := "envoy"
			if len(tt.components) > 0 {
				gateway = tt.components[len(tt.components)-1]
			}
			err := whyNotRunning(gateway, tt.components, tt.notRunning)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)
			assert.ErrorIs(t, err, missing)
		})
	}
}

func TestRuntimeNameFromEnv(t *testing.T) {
	for value, want := range map[string]string{"": "process", "process": "process", "container": "container", "podman": "podman"} {
		t.Setenv(RuntimeEnv, value)
		assert.Equal(t, want, RuntimeNameFromEnv(), value)
	}
}

func TestRuntimeByNameRefusesAnUnknownRuntime(t *testing.T) {
	_, err := RuntimeByName("podman")(RuntimeConfig{})
	require.EqualError(t, err, `HOPGUARD_RUNTIME="podman": no runtime "podman": want process or container`)
	for _, name := range []string{"", "process", "container"} {
		assert.NoError(t, CheckRuntimeName(name), name)
	}
}

func TestReportDirKeepsEachRuntimesReport(t *testing.T) {
	assert.Equal(t, "/src/out/conformance", ReportDir("/src", "process"))
	assert.Equal(t, "/src/out/conformance/container", ReportDir("/src", "container"))
}

func TestWithEnvAddsToOneComponentOnly(t *testing.T) {
	e := env.Environment{Components: []env.Component{
		{Name: "cerbos", Env: []string{"GOGC=200"}},
		{Name: "synapse", Env: []string{"GOMAXPROCS=1"}},
	}}
	for _, tc := range []struct {
		name        string
		extra       []string
		wantSynapse []string
	}{
		{"nothing to add", nil, []string{"GOMAXPROCS=1"}},
		{"after the stack's own", []string{"SYNAPSE_DECISION_CACHE_TTL=0s"}, []string{"GOMAXPROCS=1", "SYNAPSE_DECISION_CACHE_TTL=0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := withEnv(e, "synapse", tc.extra)
			synapse, _ := got.Component("synapse")
			cerbos, _ := got.Component("cerbos")
			assert.Equal(t, tc.wantSynapse, synapse.Env)
			assert.Equal(t, []string{"GOGC=200"}, cerbos.Env)
			original, _ := e.Component("synapse")
			assert.Equal(t, []string{"GOMAXPROCS=1"}, original.Env, "the description given is not changed")
		})
	}
}

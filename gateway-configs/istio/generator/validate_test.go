package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/validation/agent"

	"github.com/hopguard/hopguard/gateway-configs/istio/generator/manifests"
)

// envoyFilterCaution is the warning Istio's validation gives every EnvoyFilter, whatever it holds.
const envoyFilterCaution = "EnvoyFilter exposes internal implementation details that may change at any time. " +
	"Prefer other APIs if possible, and exercise extreme caution, especially around upgrades."

// The translation's fake server skips validation; istiod's admission webhook would not. Every
// manifest must pass Istio's own validation without a warning, as a real install would demand;
// the EnvoyFilter with none but the caution Istio gives every EnvoyFilter.
func TestManifestsPassIstioValidation(t *testing.T) {
	set, err := manifests.Load(manifestDir)
	require.NoError(t, err)

	configs, unknown, err := crd.ParseInputs(set.ConfigString())
	require.NoError(t, err)
	require.Empty(t, unknown, "kinds Istio does not know")
	require.Len(t, configs, len(set.Objects))
	for _, cfg := range configs {
		schema, ok := collections.All.FindByGroupVersionAliasesKind(cfg.GroupVersionKind)
		require.True(t, ok, "no schema for %v", cfg.GroupVersionKind)
		warning, err := schema.ValidateConfig(cfg)
		assert.NoError(t, err, "%s %s/%s", cfg.GroupVersionKind.Kind, cfg.Namespace, cfg.Name)
		if cfg.GroupVersionKind.Kind == manifests.KindEnvoyFilter {
			// Istio warns about every EnvoyFilter; anything beyond that warning (an unknown field
			// in a patch, a deprecated name) is a finding.
			require.Error(t, warning, "Istio's validation always cautions against EnvoyFilter")
			assert.Equal(t, envoyFilterCaution, warning.Error(), "%s/%s", cfg.Namespace, cfg.Name)
			continue
		}
		assert.NoError(t, warning, "%s %s/%s", cfg.GroupVersionKind.Kind, cfg.Namespace, cfg.Name)
	}

	meshConfig, err := mesh.ApplyMeshConfigDefaults(set.MeshYAML)
	require.NoError(t, err)
	warning, err := agent.ValidateMeshConfig(meshConfig)
	assert.NoError(t, err)
	assert.NoError(t, warning)
}

// Istio decodes a patch value loosely when it translates (an unknown field is dropped), so the
// strict check is the validation's: a misspelt field must show up as a warning of its own.
func TestEnvoyFilterValidationCatchesAMisspeltPatchField(t *testing.T) {
	set, err := manifests.Load(manifestDir)
	require.NoError(t, err)
	filters := set.Find(manifests.KindEnvoyFilter)
	require.Len(t, filters, 1)
	misspelt := strings.Replace(filters[0].YAML, "local_reply_config:", "local_reply_confg:", 1)
	require.NotEqual(t, filters[0].YAML, misspelt)

	configs, _, err := crd.ParseInputs(misspelt)
	require.NoError(t, err)
	require.Len(t, configs, 1)
	schema, ok := collections.All.FindByGroupVersionAliasesKind(configs[0].GroupVersionKind)
	require.True(t, ok)
	warning, err := schema.ValidateConfig(configs[0])
	require.NoError(t, err, "a misspelt field is a warning, not an error")
	require.Error(t, warning)
	assert.NotEqual(t, envoyFilterCaution, warning.Error())
	assert.Contains(t, warning.Error(), "local_reply_confg")
}

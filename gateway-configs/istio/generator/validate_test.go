package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/validation/agent"

	"github.com/hopguard/hopguard/gateway-configs/istio/generator/manifests"
)

// The translation's fake server skips validation; istiod's admission webhook would not. Every
// manifest must pass Istio's own validation without a warning, as a real install would demand.
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
		assert.NoError(t, warning, "%s %s/%s", cfg.GroupVersionKind.Kind, cfg.Namespace, cfg.Name)
	}

	meshConfig, err := mesh.ApplyMeshConfigDefaults(set.MeshYAML)
	require.NoError(t, err)
	warning, err := agent.ValidateMeshConfig(meshConfig)
	assert.NoError(t, err)
	assert.NoError(t, warning)
}

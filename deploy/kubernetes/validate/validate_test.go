// Package validate checks deploy/kubernetes offline, since no cluster runs here: kustomize builds
// it as `kubectl kustomize` would, every object decodes strictly into its Kubernetes API type (a
// misspelt or misplaced field fails), and the parts agree with each other and with synapse (the
// selectors match the pods, the probes name synapse's endpoints, the config loads in synapse's
// own loader); agentgateway_test.go does as much for the agentgateway kustomization, whose
// config is gateway-configs/agentgateway's own rendering and asks the base's synapse. A nested
// module: the Kubernetes API types are a large build the main one does not need.
package validate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/hopguard/hopguard/synapse/config"
)

// built is the base as kustomize renders it, decoded.
type built struct {
	deployments []appsv1.Deployment
	services    []corev1.Service
	configMaps  []corev1.ConfigMap
	pdbs        []policyv1.PodDisruptionBudget
	namespaces  []corev1.Namespace
}

func build(t *testing.T, dir string) built {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err, "kustomize build %s", dir)
	var b built
	for _, r := range resources.Resources() {
		doc, err := r.AsYAML()
		require.NoError(t, err)
		switch kind := r.GetKind(); kind {
		case "Deployment":
			b.deployments = append(b.deployments, decode[appsv1.Deployment](t, doc))
		case "Service":
			b.services = append(b.services, decode[corev1.Service](t, doc))
		case "ConfigMap":
			b.configMaps = append(b.configMaps, decode[corev1.ConfigMap](t, doc))
		case "PodDisruptionBudget":
			b.pdbs = append(b.pdbs, decode[policyv1.PodDisruptionBudget](t, doc))
		case "Namespace":
			b.namespaces = append(b.namespaces, decode[corev1.Namespace](t, doc))
		default:
			t.Errorf("%s %s: a kind this check does not decode; add it", kind, r.GetName())
		}
	}
	return b
}

// decode reads doc strictly, as the API server does under kubectl's default field validation:
// a field the type does not have, or one given twice, is an error. Field names match case
// sensitively (sigs.k8s.io/json), where encoding/json would take readOnlyRootFileSystem for
// readOnlyRootFilesystem, which the API server refuses.
func decode[T any](t *testing.T, doc []byte) T {
	t.Helper()
	asJSON, err := yaml.YAMLToJSONStrict(doc)
	require.NoError(t, err, "%s", doc)
	var v T
	strictErrs, err := kjson.UnmarshalStrict(asJSON, &v)
	require.NoError(t, err, "%s", doc)
	require.NoError(t, errors.Join(strictErrs...), "%s", doc)
	return v
}

func TestBaseBuildsAndDecodesStrictly(t *testing.T) {
	b := build(t, "../base")
	require.Len(t, b.deployments, 1)
	require.Len(t, b.pdbs, 1)
	require.Len(t, b.configMaps, 1)
	require.Len(t, b.services, 2)
	d := b.deployments[0]
	assert.Equal(t, "hopguard", d.Namespace)
	require.NotNil(t, d.Spec.Replicas)
	assert.GreaterOrEqual(t, *d.Spec.Replicas, int32(2), "replicas: losing one synapse must not stop every agent")

	assertWired(t, b)

	containers := containersByName(d)
	syn, ok := containers["synapse"]
	require.True(t, ok)
	require.NotNil(t, syn.ReadinessProbe)
	assert.Equal(t, "/readyz", syn.ReadinessProbe.HTTPGet.Path, "ready only while Cerbos answers")
	assert.Equal(t, "hopguard/synapse:dev", syn.Image)
	require.NotNil(t, syn.SecurityContext)
	assert.True(t, *syn.SecurityContext.ReadOnlyRootFilesystem)
	assert.False(t, *syn.SecurityContext.AllowPrivilegeEscalation)
	assert.NotContains(t, syn.Resources.Limits, corev1.ResourceCPU, "no CPU limit: throttling becomes every hop's p99")
	_, ok = containers["cerbos"]
	assert.True(t, ok, "Cerbos is the sidecar synapse asks on 127.0.0.1")

	var policyImage string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Image != nil {
			policyImage = v.Image.Reference
		}
	}
	assert.Equal(t, "hopguard/policies:dev", policyImage, "images: sets the policy image's tag too")
	for _, s := range b.services {
		for _, p := range s.Spec.Ports {
			assert.True(t, slices.ContainsFunc(syn.Ports, func(c corev1.ContainerPort) bool { return c.Name == p.TargetPort.StrVal }),
				"Service %s port %s targets a port synapse names", s.Name, p.Name)
		}
	}
}

// TestSynapseConfigLoads: the config the base ships is one synapse's own loader accepts, with
// the PostgreSQL task registry, and listening where the pod's ports are.
func TestSynapseConfigLoads(t *testing.T) {
	cfg := loadSynapseConfig(t, build(t, "../base"))
	assert.Equal(t, config.TasksPostgres, cfg.Tasks.Backend, "replicas share the task registry")
	assert.Equal(t, "127.0.0.1:3593", cfg.Cerbos.Addr, "the sidecar")
	assert.Equal(t, "0.0.0.0:9191", cfg.GRPC.ListenAddr)
	assert.Equal(t, "0.0.0.0:9192", cfg.HTTP.ListenAddr)
}

// loadSynapseConfig loads the base's synapse config as synapse itself would.
func loadSynapseConfig(t *testing.T, b built) *config.Config {
	t.Helper()
	require.Len(t, b.configMaps, 1)
	data, ok := b.configMaps[0].Data["synapse.yaml"]
	require.True(t, ok)
	dir := t.TempDir()
	path := filepath.Join(dir, "synapse.yaml")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
	// The Secret's file, which only the pod has.
	token := filepath.Join(dir, "admin-token")
	require.NoError(t, os.WriteFile(token, []byte("a-token-of-thirty-two-characters"), 0o600))
	cfg, err := config.Load([]string{"--config", path, "--admin-token-file", token}, func(string) string { return "" }, &bytes.Buffer{})
	require.NoError(t, err)
	return cfg
}

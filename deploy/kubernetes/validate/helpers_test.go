package validate

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func metaSelector(match map[string]string) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: match})
}

func containersByName(d appsv1.Deployment) map[string]corev1.Container {
	containers := map[string]corev1.Container{}
	for _, c := range d.Spec.Template.Spec.Containers {
		containers[c.Name] = c
	}
	return containers
}

// assertWired checks what every kustomization here must get right whatever it runs, since a
// cluster would accept each mistake silently: the Deployment selects its own pods, the
// PodDisruptionBudget and every Service select them too (else a drain or the traffic misses
// them), every Service port targets a port the pods name, and every probe names a port of its
// own container (else it probes nothing and the pod is never ready).
func assertWired(t *testing.T, b built) {
	t.Helper()
	require.Len(t, b.deployments, 1)
	d := b.deployments[0]
	pod := labels.Set(d.Spec.Template.Labels)
	selector, err := metaSelector(d.Spec.Selector.MatchLabels)
	require.NoError(t, err)
	assert.True(t, selector.Matches(pod), "Deployment %s selects its own pods", d.Name)
	for _, pdb := range b.pdbs {
		pdbSelector, err := metaSelector(pdb.Spec.Selector.MatchLabels)
		require.NoError(t, err)
		assert.True(t, pdbSelector.Matches(pod), "PodDisruptionBudget %s covers %s's pods", pdb.Name, d.Name)
	}

	var podPorts []string
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			podPorts = append(podPorts, p.Name)
		}
		for kind, probe := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
			// The kubelet probes from the node: an httpGet host of 127.0.0.1 checks the node's
			// own port, never the pod's, and a server bound to the pod's loopback is reached by
			// an exec probe instead.
			if probe != nil && probe.HTTPGet != nil {
				assert.Empty(t, probe.HTTPGet.Host, "container %s's %s probe sets a host: the kubelet would probe that host, not the pod", c.Name, kind)
			}
			if port, ok := probePort(probe); ok && port.Type == intstr.String {
				assert.True(t, slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == port.StrVal }),
					"container %s's %s probe names port %s, which it does not have", c.Name, kind, port.StrVal)
			}
		}
	}
	for _, s := range b.services {
		assert.True(t, labels.SelectorFromSet(s.Spec.Selector).Matches(pod), "Service %s selects %s's pods", s.Name, d.Name)
		for _, p := range s.Spec.Ports {
			assert.Equal(t, intstr.String, p.TargetPort.Type, "Service %s port %s: target a named port, so a renumbered container port follows", s.Name, p.Name)
			assert.Contains(t, podPorts, p.TargetPort.StrVal, "Service %s port %s targets a port %s's pods name", s.Name, p.Name, d.Name)
		}
	}
}

// probePort is the port a probe checks, if it checks one.
func probePort(p *corev1.Probe) (intstr.IntOrString, bool) {
	switch {
	case p == nil:
		return intstr.IntOrString{}, false
	case p.HTTPGet != nil:
		return p.HTTPGet.Port, true
	case p.TCPSocket != nil:
		return p.TCPSocket.Port, true
	default:
		return intstr.IntOrString{}, false
	}
}

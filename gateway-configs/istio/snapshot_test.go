package istio

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What conformance does next: the resources make a consistent ADS snapshot, so every RDS name a
// listener asks for and every EDS name a cluster asks for is served.
func TestResourcesMakeAConsistentSnapshot(t *testing.T) {
	res, _, err := Build(sampleParams())
	require.NoError(t, err)

	byType := res.ByType()
	assert.Len(t, byType[resource.ListenerType], len(res.Listeners))
	assert.Len(t, byType[resource.RouteType], len(res.Routes))
	assert.Len(t, byType[resource.ClusterType], len(res.Clusters))
	assert.Len(t, byType[resource.EndpointType], len(res.Endpoints))
	snap, err := cache.NewSnapshot("1", byType)
	require.NoError(t, err)
	require.NoError(t, snap.Consistent())
}

// Pilot names the Istio the generator module really uses.
func TestPilotIsTheGeneratorsIstio(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("generator", "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "\n\t"+Pilot+"\n")
}

package istio

import (
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"
)

// What conformance does next: the resources make a consistent ADS snapshot, so every RDS name a
// listener asks for and every EDS name a cluster asks for is served.
func TestResourcesMakeAConsistentSnapshot(t *testing.T) {
	res, _, err := Build(sampleParams())
	require.NoError(t, err)

	snap, err := cache.NewSnapshot("1", map[resource.Type][]types.Resource{
		resource.ListenerType: asResources(res.Listeners),
		resource.RouteType:    asResources(res.Routes),
		resource.ClusterType:  asResources(res.Clusters),
		resource.EndpointType: asResources(res.Endpoints),
	})
	require.NoError(t, err)
	require.NoError(t, snap.Consistent())
}

func asResources[R types.Resource](in []R) []types.Resource {
	out := make([]types.Resource, len(in))
	for i, r := range in {
		out[i] = r
	}
	return out
}

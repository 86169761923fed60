package translate

import (
	"encoding/json"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestFilesWriteAnyWrappedArraysAReaderCanLoad(t *testing.T) {
	res := &Resources{
		Clusters: []*cluster.Cluster{{Name: "a"}, {Name: "b"}},
		Routes: []*route.RouteConfiguration{{
			Name: "r",
			VirtualHosts: []*route.VirtualHost{{Name: "v", Domains: []string{"*"}, Routes: []*route.Route{{
				Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: "^/a<b>&c$"}}},
			}}}},
		}},
	}

	files, err := res.Files()
	require.NoError(t, err)
	require.Len(t, files, 4)
	assert.Equal(t, "[]\n", string(files[ListenersFile]), "an empty type is an empty array, not null")

	// What the conformance side does: each element is an Any that protojson resolves.
	var raw []json.RawMessage
	require.NoError(t, json.Unmarshal(files[ClustersFile], &raw))
	require.Len(t, raw, 2)
	for i, want := range res.Clusters {
		a := &anypb.Any{}
		require.NoError(t, protojson.Unmarshal(raw[i], a))
		got := &cluster.Cluster{}
		require.NoError(t, a.UnmarshalTo(got))
		assert.True(t, proto.Equal(want, got))
	}
	assert.Contains(t, string(files[RoutesFile]), `"regex": "^/a<b>&c$"`, "regexes stay readable")
}

// Maps (filter metadata, Structs) are where an encoder's order could wander between runs.
func TestFilesAreStable(t *testing.T) {
	fields := map[string]any{}
	for _, k := range []string{"k", "c", "x", "a", "q", "m", "b", "z", "d", "y"} {
		fields[k] = k
	}
	meta, err := structpb.NewStruct(fields)
	require.NoError(t, err)
	res := &Resources{Clusters: []*cluster.Cluster{{
		Name:     "a",
		Metadata: &core.Metadata{FilterMetadata: map[string]*structpb.Struct{"istio": meta, "envoy": meta, "lb": meta}},
	}}}
	first, err := res.Files()
	require.NoError(t, err)
	for range 20 {
		again, err := res.Files()
		require.NoError(t, err)
		assert.Equal(t, first, again)
	}
}

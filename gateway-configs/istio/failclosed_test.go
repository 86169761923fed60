package istio

import (
	"encoding/json"
	"net/netip"
	"testing"

	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/hopguard/hopguard/gateway-configs/envoy"
)

// Istio's gateway marks its own fail-closed reply exactly as hopguard's Envoy config does: the
// local reply config pilot made from envoyfilter.yaml is served unchanged and is the same
// message as gateway-configs/envoy's.
func TestServedFailClosedReplyIsMarkedAsUnderEnvoy(t *testing.T) {
	res, _, err := Build(sampleParams())
	require.NoError(t, err)
	require.Len(t, res.Listeners, 1)
	served := connectionManager(t, res.Listeners[0]).GetLocalReplyConfig()
	require.NotNil(t, served, "the gateway's own 503 would go out unmarked")

	want := envoyLocalReplyConfig(t)
	require.NotEmpty(t, want.GetMappers(), "gateway-configs/envoy marks its fail-closed reply")
	assert.True(t, proto.Equal(want, served), "Istio's local reply config differs from Envoy's:\nistio: %v\nenvoy: %v", served, want)
}

// envoyLocalReplyConfig is the local_reply_config of gateway-configs/envoy's connection manager.
func envoyLocalReplyConfig(t *testing.T) *hcm.LocalReplyConfig {
	t.Helper()
	at := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port) }
	rendered, err := envoy.Render(envoy.Params{Listen: at(1), Admin: at(2), Synapse: []netip.AddrPort{at(3)}, LLM: at(4)})
	require.NoError(t, err)

	var doc struct {
		StaticResources struct {
			Listeners []struct {
				FilterChains []struct {
					Filters []struct {
						TypedConfig struct {
							LocalReplyConfig map[string]any `yaml:"local_reply_config"`
						} `yaml:"typed_config"`
					}
				} `yaml:"filter_chains"`
			}
		} `yaml:"static_resources"`
	}
	require.NoError(t, yaml.Unmarshal(rendered, &doc))
	require.Len(t, doc.StaticResources.Listeners, 1)
	require.Len(t, doc.StaticResources.Listeners[0].FilterChains, 1)
	require.Len(t, doc.StaticResources.Listeners[0].FilterChains[0].Filters, 1)
	js, err := json.Marshal(doc.StaticResources.Listeners[0].FilterChains[0].Filters[0].TypedConfig.LocalReplyConfig)
	require.NoError(t, err)
	config := &hcm.LocalReplyConfig{}
	require.NoError(t, protojson.Unmarshal(js, config))
	return config
}

package gateways_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/stack"
	agwconfig "github.com/hopguard/hopguard/gateway-configs/agentgateway"
	envoyconfig "github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/gateway-configs/istio"
)

// Every gateway is told every synapse replica the layout declares: Envoy's synapse cluster and
// Istio's synapse load assignment have one endpoint each, in order, and the Istio xDS server is
// given each. agentgateway v1.4.1's extAuthz takes one upstream: its config names the first
// replica alone, and its profile says so.
func TestGatewaysAreToldEverySynapseReplica(t *testing.T) {
	for _, replicas := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("%d replicas", replicas), func(t *testing.T) {
			l := newFakeLayout(t.TempDir())
			l.replicas = replicas
			want := stack.SynapseAddrs(l)
			require.Len(t, want, replicas)
			assert.Equal(t, l.Addr(stack.Synapse, stack.PortGRPC), want[0], "the first is synapse itself")

			t.Run("envoy", func(t *testing.T) {
				p := gateways.EnvoyParams(l, "envoy")
				assert.Equal(t, want, p.Synapse)
				config, err := envoyconfig.Render(p)
				require.NoError(t, err)
				assert.Equal(t, want, envoySynapseEndpoints(t, config))
			})

			t.Run("istio", func(t *testing.T) {
				p := gateways.IstioParams(l, "istio")
				assert.Equal(t, want, p.Synapse)
				res, _, err := istio.Build(p)
				require.NoError(t, err)
				var got []netip.AddrPort
				for _, cla := range res.Endpoints {
					if !strings.HasSuffix(cla.GetClusterName(), "|synapse.hopguard.local") {
						continue
					}
					for _, locality := range cla.GetEndpoints() {
						for _, lb := range locality.GetLbEndpoints() {
							sock := lb.GetEndpoint().GetAddress().GetSocketAddress()
							got = append(got, netip.AddrPortFrom(netip.MustParseAddr(sock.GetAddress()), uint16(sock.GetPortValue())))
						}
					}
				}
				assert.Equal(t, want, got)

				companions, err := (&gateways.Istio{}).Companions(t.Context())
				require.NoError(t, err)
				require.Len(t, companions, 1)
				var flags []string
				for _, arg := range companions[0].Args(l) {
					if a, ok := strings.CutPrefix(arg, "--synapse="); ok {
						flags = append(flags, a)
					}
				}
				assert.Equal(t, addrStrings(want), flags, "one --synapse per replica, in order")
			})

			t.Run("agentgateway", func(t *testing.T) {
				p := gateways.AgentGatewayParams(l, "agentgateway")
				assert.Equal(t, want[0].String(), p.SynapseAddr)
				config, err := agwconfig.Render(p)
				require.NoError(t, err)
				assert.Contains(t, string(config), "host: "+want[0].String())
				for _, other := range want[1:] {
					assert.NotContains(t, string(config), other.String(), "extAuthz takes one upstream")
				}
				notes := strings.Join((&gateways.AgentGateway{}).Profile().Notes, "\n")
				assert.Contains(t, notes, "several synapse replicas: every check goes to the first replica alone")
				assert.Contains(t, notes, "$defs.ExtAuthz.oneOf", "the schema's place that says what extAuthz may name")
				assert.Contains(t, notes, "unknown field `service`", "what the v1.4.1 binary answers")
			})
		})
	}
}

// envoySynapseEndpoints are the endpoints of the synapse cluster of a rendered Envoy config.
func envoySynapseEndpoints(t *testing.T, config []byte) []netip.AddrPort {
	t.Helper()
	var doc struct {
		StaticResources struct {
			Clusters []struct {
				Name           string `yaml:"name"`
				LoadAssignment struct {
					Endpoints []struct {
						LbEndpoints []struct {
							Endpoint struct {
								Address struct {
									SocketAddress struct {
										Address   string `yaml:"address"`
										PortValue uint16 `yaml:"port_value"`
									} `yaml:"socket_address"`
								} `yaml:"address"`
							} `yaml:"endpoint"`
						} `yaml:"lb_endpoints"`
					} `yaml:"endpoints"`
				} `yaml:"load_assignment"`
			} `yaml:"clusters"`
		} `yaml:"static_resources"`
	}
	require.NoError(t, yaml.Unmarshal(config, &doc))
	var got []netip.AddrPort
	for _, c := range doc.StaticResources.Clusters {
		if c.Name != "synapse" {
			continue
		}
		for _, locality := range c.LoadAssignment.Endpoints {
			for _, lb := range locality.LbEndpoints {
				sock := lb.Endpoint.Address.SocketAddress
				got = append(got, netip.AddrPortFrom(netip.MustParseAddr(sock.Address), sock.PortValue))
			}
		}
	}
	return got
}

func addrStrings(addrs []netip.AddrPort) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

package agentgateway

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommittedConfigIsTheDefaultRendering(t *testing.T) {
	want, err := Render(DefaultParams())
	require.NoError(t, err)
	got, err := os.ReadFile("config.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "config.yaml is stale: regenerate it with `go generate ./gateway-configs/agentgateway`")
}

func TestCommittedProviderConfigsAreTheirRenderings(t *testing.T) {
	examples := Examples()
	require.Len(t, examples, 3)
	assert.Equal(t, DefaultParams(), examples["config.yaml"])
	for file, params := range examples {
		t.Run(file, func(t *testing.T) {
			want, err := Render(params)
			require.NoError(t, err)
			got, err := os.ReadFile(file)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got), "%s is stale: regenerate it with `go generate ./gateway-configs/agentgateway`", file)
		})
	}
}

func TestRenderedConfigsMatchAgentgatewaySchema(t *testing.T) {
	schema, err := LoadSchema()
	require.NoError(t, err)

	noMCP := DefaultParams()
	noMCP.MCPServers = nil
	ephemeral := DefaultParams()
	ephemeral.GatewayPort, ephemeral.AdminPort, ephemeral.StatsPort, ephemeral.ReadinessPort = 41000, 41001, 41002, 41003
	ephemeral.SynapseAddr = "127.0.0.1:41004"

	withCA := DefaultParams()
	withCA.Provider = &Provider{Host: "llm.internal.example", Port: 8443, CAFile: "/etc/hopguard/ca.pem", KeyEnv: "LLM_KEY"}

	for name, params := range map[string]Params{
		"default ports":             DefaultParams(),
		"ephemeral ports":           ephemeral,
		"model route only":          noMCP,
		"OpenAI":                    Examples()["config.openai.yaml"],
		"Anthropic":                 Examples()["config.anthropic.yaml"],
		"a provider with a CA file": withCA,
	} {
		t.Run(name, func(t *testing.T) {
			config, err := Render(params)
			require.NoError(t, err)
			require.NoError(t, schema.Validate(config))
		})
	}
}

func TestSchemaRejectsBrokenConfigs(t *testing.T) {
	schema, err := LoadSchema()
	require.NoError(t, err)
	good, err := Render(DefaultParams())
	require.NoError(t, err)

	tests := []struct {
		name, from, to string
	}{
		{"typo in failureMode", "failureMode: {denyWithStatus: 503}", "failureMod: {denyWithStatus: 503}"},
		{"unknown failure mode", "failureMode: {denyWithStatus: 503}", "failureMode: maybe"},
		{"typo in denyWithStatus", "failureMode: {denyWithStatus: 503}", "failureMode: {denyWithStatu: 503}"},
		{"typo in the call timeout", "requestTimeout: 2s", "requestTimout: 2s"},
		{"typo in the gateway's transformations", "    transformations:", "    transformation:"},
		{"typo in includeRequestBody", "includeRequestBody:", "includeRequestBodies:"},
		{"context value not a string", "context: {resource: llm}", "context: {resource: [llm]}"},
		{"typo in a path match", "pathPrefix: /v1", "pathPrefx: /v1"},
		{"typo in an MCP target", `mcp: {host: "http://127.0.0.1:9001/mcp"}`, `mcp: {hots: "http://127.0.0.1:9001/mcp"}`},
		{"unknown route type", `ai: {routes: {"*": passthrough}}`, `ai: {routes: {"*": passthru}}`},
		{"typo in the model routes' policy", `ai: {routes: {"*": passthrough}}`, `ai: {route: {"*": passthrough}}`},
		// Route objects themselves allow unknown fields in v1.4.1's schema ("match:" instead of
		// "matches:" passes), which is why TestRoutesAreGuarded checks each route's shape.
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.True(t, bytes.Contains(good, []byte(tt.from)), "the rendered config no longer contains %q", tt.from)
			broken := bytes.Replace(good, []byte(tt.from), []byte(tt.to), 1)
			assert.Error(t, schema.Validate(broken))
		})
	}
}

func TestRenderRefusesParametersThatOpenAHole(t *testing.T) {
	zeroBody := DefaultParams()
	zeroBody.MaxRequestBytes = 0
	_, err := Render(zeroBody)
	assert.ErrorContains(t, err, "413")

	noKey := DefaultParams()
	noKey.ProviderKey = ""
	_, err = Render(noKey)
	assert.Error(t, err)
}

// TestRoutesAreGuarded checks what the schema cannot: every route names its matches, carries
// extAuthz failing closed with 503 within a bounded time and an explicit body limit, and tells
// synapse its resource.
func TestRoutesAreGuarded(t *testing.T) {
	config, err := Render(DefaultParams())
	require.NoError(t, err)
	var doc struct {
		Routes []struct {
			Name     string           `yaml:"name"`
			Matches  []map[string]any `yaml:"matches"`
			Policies struct {
				ExtAuthz struct {
					FailureMode struct {
						DenyWithStatus int `yaml:"denyWithStatus"`
					} `yaml:"failureMode"`
					Policies struct {
						HTTP struct {
							RequestTimeout string `yaml:"requestTimeout"`
						} `yaml:"http"`
					} `yaml:"policies"`
					IncludeRequestBody struct {
						MaxRequestBytes     int  `yaml:"maxRequestBytes"`
						AllowPartialMessage bool `yaml:"allowPartialMessage"`
					} `yaml:"includeRequestBody"`
					Protocol struct {
						GRPC struct {
							Context map[string]string `yaml:"context"`
						} `yaml:"grpc"`
					} `yaml:"protocol"`
				} `yaml:"extAuthz"`
			} `yaml:"policies"`
		} `yaml:"routes"`
	}
	require.NoError(t, yaml.Unmarshal(config, &doc))
	wantResources := []string{"llm", "llm", "mcp:tickets", "mcp:crm", "mcp:payments", "mcp:payroll", "mcp:knowledge"}
	require.Len(t, doc.Routes, len(wantResources))
	for i, r := range doc.Routes {
		authz := r.Policies.ExtAuthz
		assert.NotEmpty(t, r.Matches, "route %s", r.Name)
		assert.Equal(t, 503, authz.FailureMode.DenyWithStatus, "route %s", r.Name)
		assert.NotEmpty(t, authz.Policies.HTTP.RequestTimeout, "route %s: agentgateway has no default ext_authz timeout", r.Name)
		assert.Positive(t, authz.IncludeRequestBody.MaxRequestBytes, "route %s", r.Name)
		assert.False(t, authz.IncludeRequestBody.AllowPartialMessage, "route %s", r.Name)
		assert.Equal(t, wantResources[i], authz.Protocol.GRPC.Context["resource"], "route %s", r.Name)
	}
}

// modelRoute is a route as TestModelAPIsGoToBackendsOfTheirOwnFormat reads it.
type modelRoute struct {
	Name    string `yaml:"name"`
	Matches []struct {
		Path map[string]string `yaml:"path"`
	} `yaml:"matches"`
	Backends []struct {
		AI struct {
			Name         string         `yaml:"name"`
			Provider     map[string]any `yaml:"provider"`
			HostOverride string         `yaml:"hostOverride"`
		} `yaml:"ai"`
		Policies struct {
			AI struct {
				Routes map[string]string `yaml:"routes"`
			} `yaml:"ai"`
			BackendAuth struct {
				Key string `yaml:"key"`
			} `yaml:"backendAuth"`
		} `yaml:"policies"`
	} `yaml:"backends"`
}

func modelRoutes(t *testing.T, p Params) []modelRoute {
	t.Helper()
	config, err := Render(p)
	require.NoError(t, err)
	var doc struct {
		Routes []modelRoute `yaml:"routes"`
	}
	require.NoError(t, yaml.Unmarshal(config, &doc))
	var out []modelRoute
	for _, r := range doc.Routes {
		if !strings.HasPrefix(r.Name, "mcp-") {
			out = append(out, r)
		}
	}
	return out
}

// TestModelAPIsGoToBackendsOfTheirOwnFormat: on the mock, OpenAI's APIs go to the OpenAI
// provider and Anthropic's Messages to the Anthropic provider, each passed through ("*":
// passthrough) so that agentgateway translates no body; TestModelAPIsReachTheMockUnchanged shows
// it with the real gateway.
func TestModelAPIsGoToBackendsOfTheirOwnFormat(t *testing.T) {
	t.Run("the mock", func(t *testing.T) {
		routes := modelRoutes(t, DefaultParams())
		require.Len(t, routes, 2)
		want := []struct{ name, prefix, provider string }{
			{"llm", "/v1", "openAI"},
			{"llm-anthropic", "/v1/messages", "anthropic"},
		}
		for i, w := range want {
			r := routes[i]
			assert.Equal(t, w.name, r.Name)
			require.Len(t, r.Matches, 1)
			assert.Equal(t, map[string]string{"pathPrefix": w.prefix}, r.Matches[0].Path)
			require.Len(t, r.Backends, 1)
			b := r.Backends[0]
			assert.Contains(t, b.AI.Provider, w.provider, "route %s", r.Name)
			assert.Len(t, b.AI.Provider, 1)
			assert.Equal(t, "127.0.0.1:8089", b.AI.HostOverride, "route %s: the mock", r.Name)
			assert.Equal(t, map[string]string{"*": "passthrough"}, b.Policies.AI.Routes, "route %s: no body translated", r.Name)
			assert.Equal(t, "sk-hopguard-provider", b.Policies.BackendAuth.Key, "route %s", r.Name)
		}
	})
	t.Run("OpenAI: everything passes through", func(t *testing.T) {
		routes := modelRoutes(t, Examples()["config.openai.yaml"])
		require.Len(t, routes, 1)
		assert.Equal(t, map[string]string{"*": "passthrough"}, routes[0].Backends[0].Policies.AI.Routes)
	})
	t.Run("Anthropic: messages pass through, the agent's chat completions are translated", func(t *testing.T) {
		routes := modelRoutes(t, Examples()["config.anthropic.yaml"])
		require.Len(t, routes, 1)
		assert.Equal(t, map[string]string{"/v1/chat/completions": "completions", "*": "passthrough"}, routes[0].Backends[0].Policies.AI.Routes)
	})
}

// TestMCPDeleteAnswersAsTheUpstream: every MCP route turns agentgateway's own 202 to a DELETE
// into the 200 the upstream gave (TestMCPSessionLifecycleMatchesTheUpstream runs it), governed or
// not, and changes no other status.
func TestMCPDeleteAnswersAsTheUpstream(t *testing.T) {
	for _, withoutAuthz := range []bool{false, true} {
		p := DefaultParams()
		p.WithoutAuthz = withoutAuthz
		config, err := Render(p)
		require.NoError(t, err)
		var doc struct {
			Routes []struct {
				Name     string `yaml:"name"`
				Policies struct {
					Transformations struct {
						Response struct {
							Set map[string]string `yaml:"set"`
						} `yaml:"response"`
					} `yaml:"transformations"`
				} `yaml:"policies"`
			} `yaml:"routes"`
		}
		require.NoError(t, yaml.Unmarshal(config, &doc))
		var mcpRoutes int
		for _, r := range doc.Routes {
			set := r.Policies.Transformations.Response.Set
			if !strings.HasPrefix(r.Name, "mcp-") {
				assert.Empty(t, set, "route %s", r.Name)
				continue
			}
			mcpRoutes++
			assert.Equal(t, map[string]string{":status": "request.method == 'DELETE' && response.code == 202 ? 200 : response.code"}, set, "route %s", r.Name)
		}
		assert.Equal(t, len(p.MCPServers), mcpRoutes)
	}
}

// TestWithoutAuthzIsTheSameGatewayUngoverned holds the benchmark's baseline to its promise:
// the governed config less each route's extAuthz policy, nothing else.
func TestWithoutAuthzIsTheSameGatewayUngoverned(t *testing.T) {
	schema, err := LoadSchema()
	require.NoError(t, err)
	governedYAML, err := Render(DefaultParams())
	require.NoError(t, err)
	p := DefaultParams()
	p.WithoutAuthz = true
	baselineYAML, err := Render(p)
	require.NoError(t, err)
	require.NoError(t, schema.Validate(baselineYAML))
	assert.NotContains(t, string(baselineYAML), "extAuthz:")
	assert.NotContains(t, string(baselineYAML), "extProc:")
	assert.Contains(t, string(baselineYAML), "# hopguard's benchmark baseline", "says what it is")

	var governed, baseline map[string]any
	require.NoError(t, yaml.Unmarshal(governedYAML, &governed))
	require.NoError(t, yaml.Unmarshal(baselineYAML, &baseline))
	routes, ok := governed["routes"].([]any)
	require.True(t, ok)
	require.NotEmpty(t, routes)
	for _, r := range routes {
		route, ok := r.(map[string]any)
		require.True(t, ok)
		policies, ok := route["policies"].(map[string]any)
		require.True(t, ok, "route %v has policies", route["name"])
		require.Contains(t, policies, "extAuthz")
		delete(policies, "extAuthz")
		delete(policies, "extProc") // the MCP routes' response path goes with it
		// A route whose only policy was extAuthz renders no policies at all.
		if len(policies) == 0 {
			delete(route, "policies")
		}
	}
	assert.Equal(t, governed, baseline)
}

func TestWithoutAuthzStillRefusesParametersThatOpenAHole(t *testing.T) {
	p := DefaultParams()
	p.WithoutAuthz = true
	p.MaxRequestBytes = 0
	_, err := Render(p)
	assert.ErrorContains(t, err, "413")
}

func TestRenderProviderSendsTheModelRouteOverTLSByHostName(t *testing.T) {
	type backend struct {
		AI struct {
			Provider     map[string]any `yaml:"provider"`
			HostOverride string         `yaml:"hostOverride"`
			PathPrefix   string         `yaml:"pathPrefix"`
		} `yaml:"ai"`
		Policies struct {
			BackendAuth struct {
				Key string `yaml:"key"`
			} `yaml:"backendAuth"`
			BackendTLS *struct {
				Hostname string `yaml:"hostname"`
				Root     string `yaml:"root"`
			} `yaml:"backendTLS"`
			HTTP struct {
				Version string `yaml:"version"`
			} `yaml:"http"`
		} `yaml:"policies"`
	}
	llmBackend := func(t *testing.T, p Params) (backend, string) {
		t.Helper()
		config, err := Render(p)
		require.NoError(t, err)
		var doc struct {
			Routes []struct {
				Name     string    `yaml:"name"`
				Backends []backend `yaml:"backends"`
			} `yaml:"routes"`
		}
		require.NoError(t, yaml.Unmarshal(config, &doc))
		require.Equal(t, "llm", doc.Routes[0].Name)
		require.Len(t, doc.Routes[0].Backends, 1)
		return doc.Routes[0].Backends[0], string(config)
	}

	t.Run("the mock, by default: plaintext, the key inline", func(t *testing.T) {
		b, _ := llmBackend(t, DefaultParams())
		assert.Equal(t, "127.0.0.1:8089", b.AI.HostOverride)
		assert.Nil(t, b.Policies.BackendTLS)
		assert.Equal(t, "sk-hopguard-provider", b.Policies.BackendAuth.Key)
	})
	t.Run("OpenAI", func(t *testing.T) {
		b, text := llmBackend(t, Examples()["config.openai.yaml"])
		assert.Contains(t, b.AI.Provider, "openAI")
		assert.Equal(t, "api.openai.com:443", b.AI.HostOverride)
		assert.Empty(t, b.AI.PathPrefix, "the agent's path goes on as it is")
		require.NotNil(t, b.Policies.BackendTLS, "TLS to the provider")
		assert.Equal(t, "api.openai.com", b.Policies.BackendTLS.Hostname)
		assert.Empty(t, b.Policies.BackendTLS.Root, "the system roots")
		assert.Equal(t, "${OPENAI_API_KEY}", b.Policies.BackendAuth.Key, "expanded by agentgateway from its environment")
		assert.Equal(t, "HTTP/1.1", b.Policies.HTTP.Version)
		assert.NotContains(t, text, "sk-hopguard-provider", "the mock's key is not used")
		assert.NotContains(t, text, "127.0.0.1:8089", "nor the mock")
		assert.Equal(t, 1, strings.Count(text, "$"), "one expansion only: agentgateway expands every $ in the file")
	})
	t.Run("Anthropic", func(t *testing.T) {
		b, _ := llmBackend(t, Examples()["config.anthropic.yaml"])
		assert.Contains(t, b.AI.Provider, "anthropic")
		assert.Equal(t, "api.anthropic.com:443", b.AI.HostOverride)
		assert.Equal(t, "/v1", b.AI.PathPrefix, "translated calls go to /v1/messages")
		require.NotNil(t, b.Policies.BackendTLS)
		assert.Equal(t, "api.anthropic.com", b.Policies.BackendTLS.Hostname)
		assert.Equal(t, "${ANTHROPIC_API_KEY}", b.Policies.BackendAuth.Key)
	})
	t.Run("a CA file and a port", func(t *testing.T) {
		p := DefaultParams()
		p.Provider = &Provider{Host: "localhost", Port: 8443, CAFile: "/tmp/ca.pem", KeyEnv: "K"}
		b, _ := llmBackend(t, p)
		assert.Equal(t, "localhost:8443", b.AI.HostOverride)
		assert.Equal(t, "/tmp/ca.pem", b.Policies.BackendTLS.Root)
		assert.Equal(t, Provider{Host: "localhost", Port: 8443, CAFile: "/tmp/ca.pem", KeyEnv: "K"}, *p.Provider, "the caller's Provider is left as it was")
	})
	t.Run("the routes stay guarded, and the baseline is the same gateway less extAuthz and extProc", func(t *testing.T) {
		p := Examples()["config.openai.yaml"]
		config, err := Render(p)
		require.NoError(t, err)
		p.WithoutAuthz = true
		baselineYAML, err := Render(p)
		require.NoError(t, err)
		var governed, baseline map[string]any
		require.NoError(t, yaml.Unmarshal(config, &governed))
		require.NoError(t, yaml.Unmarshal(baselineYAML, &baseline))
		for _, r := range governed["routes"].([]any) {
			route := r.(map[string]any)
			policies := route["policies"].(map[string]any)
			require.Contains(t, policies, "extAuthz", "route %v", route["name"])
			delete(policies, "extAuthz")
			if strings.HasPrefix(route["name"].(string), "mcp-") {
				require.Contains(t, policies, "extProc", "MCP route %v has the response path", route["name"])
				delete(policies, "extProc")
			}
			if len(policies) == 0 {
				delete(route, "policies")
			}
		}
		assert.Equal(t, governed, baseline)
	})
}

func TestRenderRejectsBadProviders(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Provider)
		want   string
	}{
		{name: "an unknown kind", mutate: func(p *Provider) { p.Kind = "gemini" }, want: "kind"},
		{name: "an IP address", mutate: func(p *Provider) { p.Host = "203.0.113.7" }, want: "DNS name"},
		{name: "a host with a port", mutate: func(p *Provider) { p.Host = "api.openai.com:443" }, want: "DNS name"},
		{name: "a host with YAML", mutate: func(p *Provider) { p.Host = "x}" }, want: "DNS name"},
		{name: "a port too large", mutate: func(p *Provider) { p.Port = 70000 }, want: "port"},
		{name: "no key variable", mutate: func(p *Provider) { p.KeyEnv = "" }, want: "environment variable"},
		{name: "a key, not a variable", mutate: func(p *Provider) { p.KeyEnv = "sk-proj-123" }, want: "environment variable"},
		{name: "a relative CA file", mutate: func(p *Provider) { p.CAFile = "ca.pem" }, want: "absolute path"},
		{name: "a CA file agentgateway would expand", mutate: func(p *Provider) { p.CAFile = "/etc/$HOME/ca.pem" }, want: "absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			p.Provider = OpenAI()
			tt.mutate(p.Provider)
			_, err := Render(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	t.Run("the mock's address and key are not needed", func(t *testing.T) {
		p := DefaultParams()
		p.Provider = OpenAI()
		p.LLMAddr, p.ProviderKey = "", ""
		_, err := Render(p)
		assert.NoError(t, err)
	})
}

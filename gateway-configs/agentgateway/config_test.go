package agentgateway

import (
	"bytes"
	"os"
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

func TestRenderedConfigsMatchAgentgatewaySchema(t *testing.T) {
	schema, err := LoadSchema()
	require.NoError(t, err)

	noMCP := DefaultParams()
	noMCP.MCPServers = nil
	ephemeral := DefaultParams()
	ephemeral.GatewayPort, ephemeral.AdminPort, ephemeral.StatsPort, ephemeral.ReadinessPort = 41000, 41001, 41002, 41003
	ephemeral.SynapseAddr = "127.0.0.1:41004"

	for name, params := range map[string]Params{
		"default ports":    DefaultParams(),
		"ephemeral ports":  ephemeral,
		"model route only": noMCP,
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
	wantResources := []string{"llm", "mcp:tickets", "mcp:crm", "mcp:payments", "mcp:payroll"}
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

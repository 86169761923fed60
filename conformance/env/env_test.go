package env_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/env"
)

func valid() env.Component {
	return env.Component{
		Name:    "synapse",
		Program: env.Program{Package: "./synapse/cmd/synapse"},
		Ports:   []string{"grpc", "http"},
		Files:   []env.File{{Name: "synapse.yaml", Render: func(env.Layout) ([]byte, error) { return nil, nil }}},
		Ready:   env.Probe{Kind: env.ProbeHTTP, Port: "http", Path: "/readyz"},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*env.Component)
		want   string
	}{
		{name: "valid", mutate: func(*env.Component) {}},
		{name: "name with a slash", mutate: func(c *env.Component) { c.Name = "../etc" }, want: "component name"},
		{name: "no program", mutate: func(c *env.Component) { c.Program = env.Program{} }, want: "exactly one of tool, package or path"},
		{name: "two programs", mutate: func(c *env.Component) { c.Program.Tool = "envoy" }, want: "exactly one of tool, package or path"},
		{name: "port twice", mutate: func(c *env.Component) { c.Ports = append(c.Ports, "http") }, want: `port "http" is listed twice`},
		{name: "file escaping its directory", mutate: func(c *env.Component) { c.Files[0].Name = "../x.yaml" }, want: "not a plain file name"},
		{name: "file without renderer", mutate: func(c *env.Component) { c.Files[0].Render = nil }, want: "no renderer"},
		{name: "probe on an undeclared port", mutate: func(c *env.Component) { c.Ready.Port = "admin" }, want: `port "admin", which the component does not declare`},
		{name: "no probe", mutate: func(c *env.Component) { c.Ready = env.Probe{} }, want: "readiness probe kind"},
		{name: "tree escaping its directory", mutate: func(c *env.Component) {
			c.Trees = []env.Tree{{Name: "../policies", From: func(env.Layout) string { return "/src" }}}
		}, want: "not a plain directory name"},
		{name: "tree named as a file", mutate: func(c *env.Component) {
			c.Trees = []env.Tree{{Name: "synapse.yaml", From: func(env.Layout) string { return "/src" }}}
		}, want: "has the name of a file"},
		{name: "tree without source", mutate: func(c *env.Component) { c.Trees = []env.Tree{{Name: "policies"}} }, want: "no source"},
		{name: "reaches itself", mutate: func(c *env.Component) { c.Reaches = []string{"synapse"} }, want: `reaches "synapse", which is not a component before it`},
		{name: "reaches an unknown component", mutate: func(c *env.Component) { c.Reaches = []string{"spire-agent"} }, want: `reaches "spire-agent"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			c.Files = append([]env.File(nil), c.Files...)
			tt.mutate(&c)
			err := env.Environment{Components: []env.Component{c}}.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestValidateRejectsDuplicateComponents(t *testing.T) {
	err := env.Environment{Components: []env.Component{valid(), valid()}}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `component "synapse" is listed twice`)
}

func TestValidateReachesOnlyEarlierComponents(t *testing.T) {
	agent := valid()
	agent.Name = "spire-agent"
	sts := valid()
	sts.Name, sts.Reaches = "sts", []string{"spire-agent"}
	require.NoError(t, env.Environment{Components: []env.Component{agent, sts}}.Validate())
	err := env.Environment{Components: []env.Component{sts, agent}}.Validate()
	require.Error(t, err, "a component reaches a directory only once its owner has made it")
	assert.Contains(t, err.Error(), `component "sts" reaches "spire-agent", which is not a component before it`)
}

func TestComponentLookup(t *testing.T) {
	e := env.Environment{Components: []env.Component{valid()}}
	c, ok := e.Component("synapse")
	require.True(t, ok)
	assert.Equal(t, "./synapse/cmd/synapse", c.Program.Package)
	_, ok = e.Component("cerbos")
	assert.False(t, ok)
}

package runtime_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
)

// TestPrepareCopiesATreeOnce: a tree is the source's on the first start and what the run made
// of it on every later one.
func TestPrepareCopiesATreeOnce(t *testing.T) {
	source := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(source, "resource_policies"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(source, "resource_policies", "llm.yaml"), []byte("cap: 5000\n"), 0o644))
	c := env.Component{
		Name: "cerbos", Program: env.Program{Tool: "cerbos"}, Ports: []string{"http"},
		Trees: []env.Tree{{Name: "policies", From: func(env.Layout) string { return source }}},
		Ready: env.Probe{Kind: env.ProbeTCP, Port: "http"},
	}
	e := env.Environment{Components: []env.Component{c}}
	require.NoError(t, e.Validate())
	l, err := runtime.NewLayout(e, t.TempDir(), source)
	require.NoError(t, err)

	_, err = l.Prepare(c)
	require.NoError(t, err)
	copied := filepath.Join(l.Dir("cerbos"), "policies", "resource_policies", "llm.yaml")
	got, err := os.ReadFile(copied)
	require.NoError(t, err)
	assert.Equal(t, "cap: 5000\n", string(got))

	require.NoError(t, os.WriteFile(copied, []byte("cap: 10000\n"), 0o644))
	_, err = l.Prepare(c) // a restart
	require.NoError(t, err)
	got, err = os.ReadFile(copied)
	require.NoError(t, err)
	assert.Equal(t, "cap: 10000\n", string(got), "a restart keeps what the run changed")
	entries, err := os.ReadDir(l.Dir("cerbos"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing but the tree is left in the directory")

	c.Trees[0].From = func(env.Layout) string { return filepath.Join(source, "missing") }
	_, err = l.Prepare(env.Component{Name: "other", Program: c.Program, Trees: c.Trees})
	assert.Error(t, err, "a missing source is an error")
}

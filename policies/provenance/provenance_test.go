package provenance_test

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/policies/provenance"
)

// TestTheShippedBundleIsStamped holds policies/bundle to its version: a policy changed without
// `make policy-stamp` would be decided under the old version's name.
func TestTheShippedBundleIsStamped(t *testing.T) {
	require.NoError(t, provenance.Check(filepath.Join("..", "bundle")))
}

func bundle() fstest.MapFS {
	return fstest.MapFS{
		"resource_policies/mcp_payments.yaml": {Data: []byte("rules: [cap]\n")},
		"export_constants/hopguard.yaml":      {Data: []byte("tier1_refund_cap_cents: 5000\n")},
		provenance.File:                       {Data: []byte("    policy_version: \"sha256:0\"\n")},
		"tests/mcp_payments_test.yaml":        {Data: []byte("tests: []\n")},
	}
}

func TestVersionChangesWithWhatDecides(t *testing.T) {
	base, err := provenance.Version(bundle())
	require.NoError(t, err)
	assert.Regexp(t, `^sha256:[0-9a-f]{16}$`, base)

	tests := []struct {
		name    string
		change  func(fstest.MapFS)
		changes bool
	}{
		{name: "a constant", change: func(b fstest.MapFS) {
			b["export_constants/hopguard.yaml"] = &fstest.MapFile{Data: []byte("tier1_refund_cap_cents: 10000\n")}
		}, changes: true},
		{name: "a new policy", change: func(b fstest.MapFS) {
			b["resource_policies/mcp_crm.yaml"] = &fstest.MapFile{Data: []byte("rules: []\n")}
		}, changes: true},
		{name: "a renamed policy", change: func(b fstest.MapFS) {
			b["resource_policies/payments.yaml"] = b["resource_policies/mcp_payments.yaml"]
			delete(b, "resource_policies/mcp_payments.yaml")
		}, changes: true},
		{name: "a test suite", change: func(b fstest.MapFS) {
			b["tests/mcp_payments_test.yaml"] = &fstest.MapFile{Data: []byte("tests: [more]\n")}
		}},
		{name: "the written version itself", change: func(b fstest.MapFS) {
			b[provenance.File] = &fstest.MapFile{Data: []byte("    policy_version: \"sha256:1\"\n")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bundle()
			tt.change(b)
			got, err := provenance.Version(b)
			require.NoError(t, err)
			if tt.changes {
				assert.NotEqual(t, base, got)
			} else {
				assert.Equal(t, base, got)
			}
		})
	}
}

func TestStampThenCheck(t *testing.T) {
	dir := t.TempDir()
	for name, f := range bundle() {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, f.Data, 0o644))
	}
	require.ErrorIs(t, provenance.Check(dir), provenance.ErrStale)

	version, err := provenance.Stamp(dir)
	require.NoError(t, err)
	require.NoError(t, provenance.Check(dir))
	stamped, err := provenance.Stamped(os.DirFS(dir))
	require.NoError(t, err)
	assert.Equal(t, version, stamped)

	capFile := filepath.Join(dir, "export_constants", "hopguard.yaml")
	require.NoError(t, provenance.WriteFile(capFile, []byte("tier1_refund_cap_cents: 10000\n")))
	require.ErrorIs(t, provenance.Check(dir), provenance.ErrStale, "a change makes the written version stale")
	again, err := provenance.Stamp(dir)
	require.NoError(t, err)
	assert.NotEqual(t, version, again)

	leftovers, err := filepath.Glob(filepath.Join(dir, "*", ".*.tmp"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "nothing of the writes is left beside the files")
}

func TestStampRefusesABundleWithoutTheVersionLine(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "export_constants"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(provenance.File)), []byte("definitions: {}\n"), 0o644))
	_, err := provenance.Stamp(dir)
	require.ErrorContains(t, err, "no policy_version line")
	_, err = provenance.Version(os.DirFS(filepath.Join(dir, "missing")))
	require.Error(t, err)
}

package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuditTailCountsWholeNewLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	tail := &auditTail{path: path}
	for _, tc := range []struct {
		name              string
		appended          string
		decisions, cached uint64
	}{
		{"nothing yet", "", 0, 0},
		{"two decisions, one cached", `{"effect":"allow"}` + "\n" + `{"effect":"allow","cached":true,"cached_from":"x"}` + "\n", 2, 1},
		{"a line being written waits", `{"effect":"deny","cached":true`, 0, 0},
		{"and counts once whole", `}` + "\n" + `{"effect":"deny"}` + "\n", 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString(tc.appended)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			decisions, cached, err := tail.read()
			require.NoError(t, err)
			assert.Equal(t, tc.decisions, decisions)
			assert.Equal(t, tc.cached, cached)
		})
	}
	var none *auditTail
	decisions, _, err := none.read()
	assert.NoError(t, err, "no audit log to read: nothing counted")
	assert.Zero(t, decisions)
	_, _, err = (&auditTail{path: filepath.Join(t.TempDir(), "missing")}).read()
	assert.ErrorContains(t, err, "synapse's audit log")
}

func TestCachedShare(t *testing.T) {
	for _, tc := range []struct {
		decisions, cached uint64
		want              float64
	}{
		{0, 0, -1},
		{200, 150, 75},
		{1000, 0, 0},
	} {
		assert.InDelta(t, tc.want, Step{Decisions: tc.decisions, CachedDecisions: tc.cached}.CachedShare(), 1e-9)
	}
	assert.Equal(t, "–", percent(-1))
	assert.Equal(t, "75%", percent(75))
}

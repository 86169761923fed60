package decisionlog_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/security/decisionlog"
)

func TestSynapseReadsFromAnOffsetAndLeavesAPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	first := `{"decision_id":"a","effect":"allow","latency_ms":1}` + "\n"
	second := `{"decision_id":"b","effect":"deny","code":"x","cerbos_call_id":"c1","latency_ms":1}` + "\n"
	partial := `{"decision_id":"c",`
	require.NoError(t, os.WriteFile(path, []byte(first+second+partial), 0o600))

	recs, end, err := decisionlog.Synapse(path, int64(len(first)))
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "b", recs[0].DecisionID)
	assert.Equal(t, "c1", recs[0].CerbosCallID)
	assert.Equal(t, int64(len(first+second)), end, "the partial line is left for later")

	size, err := decisionlog.Size(path)
	require.NoError(t, err)
	assert.Equal(t, int64(len(first+second+partial)), size)
}

func TestCerbosKeepsDecisionsWithTheirDecisionIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	lines := []string{
		`{"log.kind":"access","callId":"x"}`,
		`{"log.kind":"decision","callId":"01J","checkResources":{"inputs":[{"requestId":"d1"}]},"metadata":{"x-hopguard-decision-id":{"values":["d1"]}}}`,
	}
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))

	entries, _, err := decisionlog.Cerbos(path, 0)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, decisionlog.CerbosEntry{CallID: "01J", DecisionIDs: []string{"d1"}, RequestIDs: []string{"d1"}}, entries[0])
}

func TestMissingLogsAreEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none")
	size, err := decisionlog.Size(path)
	require.NoError(t, err)
	assert.Zero(t, size)
	recs, end, err := decisionlog.Synapse(path, 0)
	require.NoError(t, err)
	assert.Empty(t, recs)
	assert.Zero(t, end)
}

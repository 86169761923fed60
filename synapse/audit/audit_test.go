package audit_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/audit"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sampleRecords() []audit.Record {
	return []audit.Record{
		{Time: t0, DecisionID: "d1", Effect: "allow", Task: "task-1", AgentID: "triage", Kind: "llm"},
		{Time: t0.Add(time.Minute), DecisionID: "d2", Effect: "deny", Code: "refund_cap_exceeded", Task: "task-1", AgentID: "triage", Kind: "mcp:payments"},
		{Time: t0.Add(2 * time.Minute), DecisionID: "d3", Effect: "deny", Code: "task_not_active", Task: "task-2", AgentID: "other", Kind: "llm"},
		{Time: t0.Add(3 * time.Minute), DecisionID: "d4", Effect: "allow", Task: "task-2", AgentID: "triage", Kind: "mcp:crm"},
	}
}

func writeLog(t *testing.T, path string, recs []audit.Record) {
	t.Helper()
	log, err := audit.Open(path)
	require.NoError(t, err)
	for _, r := range recs {
		require.NoError(t, log.Write(r))
	}
	require.NoError(t, log.Close())
}

func TestFileSinkAppendsOneLinePerDecision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	recs := sampleRecords()
	writeLog(t, path, recs[:2])
	writeLog(t, path, recs[2:]) // reopening appends

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, 4)
	for i, line := range lines {
		var got audit.Record
		require.NoError(t, json.Unmarshal([]byte(line), &got))
		assert.Equal(t, recs[i].DecisionID, got.DecisionID)
		assert.True(t, recs[i].Time.Equal(got.Time))
	}
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestLogIsSafeForConcurrentWriters(t *testing.T) {
	var buf bytes.Buffer
	log := audit.NewLog(&buf)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			assert.NoError(t, log.Write(audit.Record{DecisionID: strings.Repeat("x", i+1), Effect: "deny"}))
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 50)
	for _, line := range lines {
		assert.True(t, json.Valid([]byte(line)), line)
	}
}

func TestFilterLog(t *testing.T) {
	var log bytes.Buffer
	l := audit.NewLog(&log)
	for _, r := range sampleRecords() {
		require.NoError(t, l.Write(r))
	}
	log.WriteString("{not json\n\n")

	tests := []struct {
		name   string
		filter audit.Filter
		want   []string
	}{
		{"everything", audit.Filter{}, []string{"d1", "d2", "d3", "d4"}},
		{"task", audit.Filter{Task: "task-1"}, []string{"d1", "d2"}},
		{"agent", audit.Filter{Agent: "triage"}, []string{"d1", "d2", "d4"}},
		{"effect", audit.Filter{Effect: "deny"}, []string{"d2", "d3"}},
		{"since is inclusive", audit.Filter{Since: t0.Add(time.Minute)}, []string{"d2", "d3", "d4"}},
		{"until is exclusive", audit.Filter{Until: t0.Add(2 * time.Minute)}, []string{"d1", "d2"}},
		{"all together", audit.Filter{Task: "task-2", Agent: "triage", Effect: "allow", Since: t0, Until: t0.Add(time.Hour)}, []string{"d4"}},
		{"nothing", audit.Filter{Task: "task-9"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			st, err := audit.FilterLog(bytes.NewReader(log.Bytes()), &out, tt.filter)
			require.NoError(t, err)
			assert.Equal(t, tt.want, decisionIDs(t, out.String()))
			assert.Equal(t, len(tt.want), st.Matched)
			assert.Equal(t, 1, st.Skipped)
		})
	}
}

func TestRunCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, sampleRecords())
	now := t0.Add(150 * time.Second)

	tests := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		want     []string
		stderrRe string
	}{
		{"file and filters", []string{"--task", "task-1", "--effect", "deny", path}, "", 0, []string{"d2"}, ""},
		{"relative since", []string{"--since", "1m", path}, "", 0, []string{"d3", "d4"}, ""},
		{"rfc3339 until", []string{"--until", "2026-03-01T12:01:00Z", path}, "", 0, []string{"d1"}, ""},
		{"stdin", []string{"--agent", "other"}, mustRead(t, path), 0, []string{"d3"}, ""},
		{"bad effect", []string{"--effect", "maybe", path}, "", 2, nil, "--effect must be allow or deny"},
		{"bad time", []string{"--since", "yesterday", path}, "", 2, nil, "neither an RFC 3339 time"},
		{"missing file", []string{filepath.Join(t.TempDir(), "nope")}, "", 1, nil, "no such file"},
		{"help", []string{"--help"}, "", 0, nil, "Usage: synapse audit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := audit.RunCommand(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr, now)
			assert.Equal(t, tt.code, code, stderr.String())
			assert.Equal(t, tt.want, decisionIDs(t, stdout.String()))
			if tt.stderrRe != "" {
				assert.Contains(t, stderr.String(), tt.stderrRe)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func decisionIDs(t *testing.T, ndjson string) []string {
	t.Helper()
	var ids []string
	for line := range strings.Lines(ndjson) {
		var r audit.Record
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		ids = append(ids, r.DecisionID)
	}
	return ids
}

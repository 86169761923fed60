package summary_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/conformance/security/summary"
)

func TestWriteListsEveryCasePerGateway(t *testing.T) {
	corpus := []bypass.Case{
		{ID: "batch-refund", Category: "batch", Attack: "hide | the refund", Expect: []string{"refund_cap_exceeded"}},
		{ID: "route-dot", Category: "route", Attack: "dot segments"},
	}
	controls := []bypass.Case{{ID: "control-ok", Category: "control", Attack: "allowed", Allow: true}}
	rec := summary.NewRecorder("process", []summary.Gateway{
		{Name: "envoy", Detail: "Envoy 1.40.0"},
		{Name: "agentgateway", NotRunReason: "no binary here"},
	}, corpus, controls)
	rec.Result(bypass.Result{Case: "control-ok", Gateway: "envoy", Control: true, Status: 200, Pass: true})
	rec.Result(bypass.Result{Case: "batch-refund", Gateway: "envoy", Denied: true, Layer: bypass.LayerSynapse, Code: "refund_cap_exceeded", Status: 200, Pass: true})
	rec.Result(bypass.Result{Case: "route-dot", Gateway: "envoy", Layer: bypass.LayerNone, Status: 200, Problem: "LET THROUGH"})
	rec.Fault(summary.Fault{Name: "Cerbos killed", Gateway: "envoy", Pass: true, Probes: 10, InWindow: 4})
	rec.Audit(summary.Audit{Gateway: "envoy", Requests: 200, SynapseRecords: 199, Detail: "one record missing"})

	dir := t.TempDir()
	require.NoError(t, summary.Write(dir, rec.Summary(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))))
	md, err := os.ReadFile(filepath.Join(dir, summary.MarkdownFile))
	require.NoError(t, err)
	text := string(md)
	assert.Contains(t, text, "**envoy**: 1 of 2 cases pass (1 controls run; cases that do not apply are not counted)")
	assert.Contains(t, text, "| `batch-refund` | batch | hide \\| the refund | synapse refund_cap_exceeded (200) | not run |")
	assert.Contains(t, text, "| `route-dot` | route | dot segments | **FAIL** ALLOWED (200): LET THROUGH | not run |")
	assert.Contains(t, text, "| `control-ok (control: must be allowed)` | control | allowed | allowed (200) | not run |")
	assert.Contains(t, text, "**not run**: no binary here")
	assert.Contains(t, text, "| Cerbos killed | envoy | pass | 10 | 4 | 0 | 0 |")
	assert.Contains(t, text, "| envoy | 200 | 0 | 0 | 199 | 0 | 0 | 0 | 0 | **FAIL** |")

	raw, err := os.ReadFile(filepath.Join(dir, summary.JSONFile))
	require.NoError(t, err)
	var back summary.Summary
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Len(t, back.Results, 3)
	assert.Len(t, back.Cases, 3)
}

func TestWriteListsEveryEscapeAttempt(t *testing.T) {
	for _, tt := range []struct {
		name   string
		record func(*summary.Recorder)
		want   []string
	}{
		{
			name: "attempts made",
			record: func(r *summary.Recorder) {
				r.Escape(summary.Escape{Gateway: "envoy", Name: "envoy http", Attempt: "GET http://127.0.0.1:1/", Control: true, Got: "answered 404", Pass: true})
				r.Escape(summary.Escape{Gateway: "envoy", Name: "cerbos grpc", Attempt: "tcp 127.0.0.1:2", Got: "dial: connection refused", Pass: true})
				r.Escape(summary.Escape{Gateway: "envoy", Name: "llm http", Attempt: "tcp 127.0.0.1:3", Got: "connected", Pass: false})
			},
			want: []string{
				"| envoy | envoy http (control: must answer) | `GET http://127.0.0.1:1/` | answered 404 | pass |",
				"| envoy | cerbos grpc | `tcp 127.0.0.1:2` | dial: connection refused | pass |",
				"| envoy | llm http | `tcp 127.0.0.1:3` | connected | **FAIL** |",
			},
		},
		{
			name:   "no sandbox here",
			record: func(r *summary.Recorder) { r.SandboxNotRun("not root") },
			want:   []string{"## The agent's sandbox\n\n**not run**: not root"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := summary.NewRecorder("process", []summary.Gateway{{Name: "envoy"}}, nil, nil)
			tt.record(rec)
			text := summary.Markdown(rec.Summary(time.Now()))
			for _, line := range tt.want {
				assert.Contains(t, text, line)
			}
		})
	}
}

package report_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/report"
)

var (
	refundDenied  = report.Decision{Step: "refund $9,000", Decision: "deny", Code: "refund_cap_exceeded", Status: 200}
	refundAllowed = report.Decision{Step: "refund $40", Decision: "allow", Status: 200, Upstream: true}
)

func TestReportFillsTheMatrixAndComparesDecisions(t *testing.T) {
	rec := report.NewRecorder("process")
	rec.SetAgentIdentity("its JWT-SVID from SPIRE")
	rec.AddGateway(report.Gateway{Name: "envoy", Detail: "Envoy 1.40.0"})
	rec.AddGateway(report.Gateway{Name: "istio", Detail: "Istio translation", Notes: []string{"removed HTTP filter istio.alpn", "a | b"}})
	rec.AddGateway(report.Gateway{Name: "agentgateway", NotRunReason: "no container runtime here"})
	rec.AddScenario(report.Scenario{ID: "refund", Title: "1. refund cap"})
	rec.AddScenario(report.Scenario{ID: "payroll", Title: "2. payroll | handshake"})
	rec.AddScenario(report.Scenario{ID: "pinning", Title: "3. model pinning"})

	rec.Record(report.Result{Gateway: "envoy", Scenario: "refund", Outcome: report.Pass, Decisions: []report.Decision{refundDenied, refundAllowed}})
	rec.Record(report.Result{Gateway: "istio", Scenario: "refund", Outcome: report.Pass, Decisions: []report.Decision{refundDenied, refundAllowed}})
	allowedEverything := refundDenied
	allowedEverything.Decision, allowedEverything.Code, allowedEverything.Upstream = "allow", "", true
	rec.Record(report.Result{Gateway: "envoy", Scenario: "payroll", Outcome: report.Pass, Decisions: []report.Decision{refundDenied}})
	rec.Record(report.Result{Gateway: "istio", Scenario: "payroll", Outcome: report.Fail, Reason: "payroll was reached", Decisions: []report.Decision{allowedEverything}})
	rec.Record(report.Result{Gateway: "envoy", Scenario: "pinning", Outcome: report.Pass, Decisions: []report.Decision{refundAllowed}})

	rep := rec.Report(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	require.Len(t, rep.Results, 9, "every declared cell is present")

	byCell := map[[2]string]report.Result{}
	for _, r := range rep.Results {
		byCell[[2]string{r.Gateway, r.Scenario}] = r
	}
	assert.Equal(t, report.NotRun, byCell[[2]string{"agentgateway", "refund"}].Outcome)
	assert.Equal(t, "no container runtime here", byCell[[2]string{"agentgateway", "refund"}].Reason)
	assert.Equal(t, report.NotRun, byCell[[2]string{"istio", "pinning"}].Outcome)
	assert.NotEmpty(t, byCell[[2]string{"istio", "pinning"}].Reason)

	require.Len(t, rep.Agreement, 3)
	require.NotNil(t, rep.Agreement[0].Agree)
	assert.True(t, *rep.Agreement[0].Agree)
	assert.Equal(t, []string{"envoy", "istio"}, rep.Agreement[0].Gateways)
	require.NotNil(t, rep.Agreement[1].Agree)
	assert.False(t, *rep.Agreement[1].Agree)
	assert.Contains(t, rep.Agreement[1].Detail, "refund $9,000")
	assert.Nil(t, rep.Agreement[2].Agree, "one gateway alone cannot agree or disagree")

	dir := t.TempDir()
	require.NoError(t, report.Write(dir, rep))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	text := string(md)
	assert.Contains(t, text, "| 1. refund cap | ✅ pass | ✅ pass | ⏸ not run | yes |")
	assert.Contains(t, text, "| 2. payroll \\| handshake | ✅ pass | ❌ fail | ⏸ not run | **no**")
	assert.Contains(t, text, "not run: no container runtime here")
	assert.Contains(t, text, "The autonomous triage agent's identity: its JWT-SVID from SPIRE.")
	assert.Contains(t, text, "**istio** notes:\n\n- removed HTTP filter istio.alpn\n- a \\| b\n")
	assert.Contains(t, text, "| refund $9,000 | deny | refund_cap_exceeded | 200 | no |")

	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	var decoded report.Report
	require.NoError(t, json.Unmarshal(raw, &decoded))
	assert.Equal(t, rep, decoded)
}

func TestRecordReplacesTheSameCell(t *testing.T) {
	rec := report.NewRecorder("process")
	rec.AddGateway(report.Gateway{Name: "envoy"})
	rec.AddScenario(report.Scenario{ID: "refund", Title: "refund"})
	rec.Record(report.Result{Gateway: "envoy", Scenario: "refund", Outcome: report.Pass})
	rec.Record(report.Result{Gateway: "envoy", Scenario: "refund", Outcome: report.Fail, Reason: "later assertion failed"})
	rep := rec.Report(time.Now())
	require.Len(t, rep.Results, 1)
	assert.Equal(t, report.Fail, rep.Results[0].Outcome)
}

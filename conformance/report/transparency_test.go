package report_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/hopguard/hopguard/conformance/report"
)

func TestTransparencyTable(t *testing.T) {
	r := report.NewRecorder("process")
	r.RecordTransparency(report.Transparency{
		Framework: "@modelcontextprotocol/conformance 0.1.16 (active suite)",
		Targets:   []string{report.TransparencyDirect, "envoy", "agentgateway"},
		Rows: []report.TransparencyRow{
			{Scenario: "ping", Cells: map[string]report.TransparencyCell{"direct": {Outcome: "pass"}, "envoy": {Outcome: "pass"}, "agentgateway": {Outcome: "pass"}}},
			{Scenario: "tools-call-sampling", Cells: map[string]report.TransparencyCell{"direct": {Outcome: "pass"}, "envoy": {Outcome: "fail", Detail: "sampling-response: no answer"},
				"agentgateway": {Outcome: "gateway behaviour", Detail: "it drops the request"}}},
		},
	})
	md := report.Markdown(r.Report(time.Now()))
	assert.Contains(t, md, "| scenario | direct | envoy | agentgateway |")
	assert.Contains(t, md, "| ping | ✅ pass | ✅ pass | ✅ pass |")
	assert.Contains(t, md, "| tools-call-sampling | ✅ pass | ❌ fail | ⚠️ gateway behaviour |")
	assert.Contains(t, md, "- tools-call-sampling, envoy: sampling-response: no answer")
	assert.True(t, strings.Contains(md, "- tools-call-sampling, agentgateway: it drops the request"))
}

func TestTransparencyNotRun(t *testing.T) {
	r := report.NewRecorder("process")
	r.RecordTransparency(report.Transparency{NotRun: "bin/node22 is missing: run make tools"})
	assert.Contains(t, report.Markdown(r.Report(time.Now())), "⏸ not run: bin/node22 is missing: run make tools")
}

package report_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/report"
)

func TestSessionLifecycleInTheReport(t *testing.T) {
	rec := report.NewRecorder("process")
	rec.AddGateway(report.Gateway{Name: "envoy"})
	rec.RecordLifecycle(
		report.LifecycleRun{Target: report.LifecycleUpstream, Endpoint: "/mcp", Outcome: report.Pass, Steps: []report.LifecycleStep{
			{Step: "initialize", Status: 200, ContentType: "application/json"},
			{Step: "DELETE", Status: 200},
		}},
		report.LifecycleRun{Target: "agentgateway", Endpoint: "/mcp/tickets", Outcome: report.Fail, Reason: "DELETE: the MCP Python SDK warns", Steps: []report.LifecycleStep{
			{Step: "initialize", Status: 200, ContentType: "text/event-stream", Diverges: true, Note: "MCP sessions are agentgateway's own | text/event-stream"},
			{Step: "DELETE", Status: 202, Diverges: true, Complaint: "the MCP Python SDK warns: Session termination failed: 202"},
		}},
	)
	rep := rec.Report(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	require.Len(t, rep.Lifecycle, 2)

	md := report.Markdown(rep)
	assert.Contains(t, md, "## Session lifecycle")
	assert.Contains(t, md, "| step | upstream (direct) | agentgateway |")
	assert.Contains(t, md, "| initialize | 200 `application/json` | ≠ 200 `text/event-stream` |")
	assert.Contains(t, md, "| DELETE | 200 | ≠ 202 ⚠ |")
	assert.Contains(t, md, "| result | ✅ pass | ❌ fail |")
	assert.Contains(t, md, "agentgateway's notes: \"MCP sessions are agentgateway's own \\| text/event-stream\"")
	assert.Contains(t, md, "an official SDK: the MCP Python SDK warns: Session termination failed: 202")

	assert.NotContains(t, report.Markdown(report.NewRecorder("process").Report(time.Now())), "## Session lifecycle")
}

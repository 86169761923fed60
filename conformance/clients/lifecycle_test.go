package clients

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hopguard/hopguard/conformance/report"
)

func TestLifecycleJudged(t *testing.T) {
	upstream := report.LifecycleRun{Target: report.LifecycleUpstream, Steps: []report.LifecycleStep{
		{Step: stepInitialize, Status: 200, ContentType: "application/json"},
		{Step: stepInitialized, Status: 202},
		{Step: stepDELETE, Status: 200},
		sessionStep("mcp-session-0a1b2c3d", nil),
	}}
	notes := []string{
		"MCP session DELETE: answers 202 itself",
		"MCP sessions are the gateway's own: the Mcp-Session-Id the client holds is the gateway's, and it answers as text/event-stream",
	}
	gateway := func(initCT string, initializedStatus, deleteStatus int, id string) report.LifecycleRun {
		x := func(step string, status int) report.LifecycleStep {
			s := report.LifecycleStep{Step: step, Status: status}
			s.Complaint = sdkComplaint(step, exchange{status: status})
			return s
		}
		init := report.LifecycleStep{Step: stepInitialize, Status: 200, ContentType: initCT}
		return report.LifecycleRun{Target: "gw", Steps: []report.LifecycleStep{init, x(stepInitialized, initializedStatus), x(stepDELETE, deleteStatus), sessionStep(id, nil)}}
	}

	same := gateway("application/json", 202, 200, "mcp-session-99ffee00")
	judgeLifecycle(&same, upstream, nil)
	assert.Equal(t, report.Pass, same.Outcome, same.Reason)
	assert.Contains(t, same.Steps[3].Detail, "the upstream's, passed through")

	own := gateway("text/event-stream", 202, 200, "f3c1e2d4-5b6a-4c7d-8e9f-000000000000")
	judgeLifecycle(&own, upstream, notes)
	assert.Equal(t, report.Pass, own.Outcome, own.Reason)
	assert.True(t, own.Steps[0].Diverges)
	assert.Equal(t, notes[1], own.Steps[0].Note)
	assert.Contains(t, own.Steps[3].Detail, "the gateway's own id")

	// Undocumented: a difference no note explains fails.
	undocumented := gateway("text/event-stream", 202, 200, "mcp-session-99ffee00")
	judgeLifecycle(&undocumented, upstream, nil)
	assert.Equal(t, report.Fail, undocumented.Outcome)

	// An SDK complains of 202 on DELETE (the Python SDK) and of 200 on a notification (the Go SDK).
	complained := gateway("application/json", 200, 202, "mcp-session-99ffee00")
	judgeLifecycle(&complained, upstream, notes)
	assert.Equal(t, report.Fail, complained.Outcome)
	assert.Contains(t, complained.Reason, "Session termination failed: 202")
	assert.Contains(t, complained.Reason, "unexpected status code 200 from non-call")
}

func TestSDKComplaints(t *testing.T) {
	assert.Empty(t, sdkComplaint(stepGET, exchange{status: 200, contentType: "text/event-stream"}))
	assert.Empty(t, sdkComplaint(stepGET, exchange{status: 405}))
	assert.Contains(t, sdkComplaint(stepGET, exchange{status: 200, contentType: "application/json"}), "instead of text/event-stream")
	assert.Contains(t, sdkComplaint(stepInitialize, exchange{status: 200, contentType: "text/plain"}), "fails initialize")
	assert.Empty(t, sdkComplaint(stepDELETE, exchange{status: 204}))
	assert.Empty(t, sdkComplaint(stepDELETEAgain, exchange{status: 404}))
	assert.Contains(t, sessionStep("a", []exchange{{sessionID: "b"}}).Complaint, "mismatching session IDs")
}

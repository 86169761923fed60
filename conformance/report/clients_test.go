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

func TestClientMatrixAndParityInTheReport(t *testing.T) {
	rec := report.NewRecorder("process")
	rec.AddGateway(report.Gateway{Name: "envoy"})
	rec.AddGateway(report.Gateway{Name: "agentgateway"})
	rec.AddGateway(report.Gateway{Name: "istio", NotRunReason: "no binary"})
	rec.SetClientSDKs([]report.ClientSDK{{Name: "openai-go", Module: "github.com/openai/openai-go/v3", Version: "v3.98.0", Speaks: "chat completions"}})
	rec.RecordClientCells(
		report.ClientCell{Client: "openai-go", Hop: "denied call", Gateway: "envoy", Outcome: report.Pass, Code: "model_not_allowed", ErrorType: "*openai.Error", Status: 403, Sent: 1, AtSynapse: 1},
		report.ClientCell{Client: "openai-go", Hop: "denied call", Gateway: "agentgateway", Outcome: report.Fail, Failed: []string{"no retry"}, Sent: 3, AtSynapse: 3, Retried: true, Reason: "a request | was sent again"},
		report.ClientCell{Client: "openai-go", Hop: "allowed call", Gateway: "envoy", Outcome: report.Pass, Sent: 1, AtSynapse: 1},
	)
	rec.RecordParity(
		report.ParityHop{Hop: "openai-go: allowed call", Gateways: []string{"envoy", "agentgateway"}, Outcome: report.Fail, Reason: "max_tokens differs",
			Differences: []report.ParityDifference{{Request: "POST /v1/chat/completions", Field: "max_tokens", Values: map[string]string{"envoy": "64"}, MeaningChanging: true, Why: "the bound"}}},
		report.ParityHop{Hop: "openai-go: streaming call", Gateways: []string{"envoy", "agentgateway"}, Outcome: report.Pass},
		report.ParityHop{Hop: "MCP: allowed call", Gateways: []string{"envoy", "agentgateway"}, Outcome: report.Pass,
			Differences: []report.ParityDifference{{Request: "POST /mcp initialize", Field: "params._meta", Values: map[string]string{"agentgateway": "{}"}, Why: "metadata"}}},
	)
	rep := rec.Report(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	require.Len(t, rep.ClientMatrix, 3)
	require.Len(t, rep.Parity, 3)

	md := report.Markdown(rep)
	assert.Contains(t, md, "| openai-go | `github.com/openai/openai-go/v3` | v3.98.0 | chat completions |")
	assert.Contains(t, md, "| client | hop | envoy | agentgateway | istio |")
	assert.Contains(t, md, "| openai-go | denied call | ✅ pass `model_not_allowed` | ❌ fail: no retry | ⏸ not run |")
	assert.Contains(t, md, "| openai-go | allowed call | ✅ pass | — | ⏸ not run |")
	assert.Contains(t, md, "| 3 / 3 (retried) | a request \\| was sent again |")
	assert.Contains(t, md, "| openai-go: allowed call | envoy, agentgateway | ❌ fail: max_tokens differs |")
	assert.Contains(t, md, "| openai-go: streaming call | envoy, agentgateway | ✅ pass: received alike |")
	assert.Contains(t, md, "| MCP: allowed call | envoy, agentgateway | ✅ pass: 1 difference(s), none that changes meaning |")
	assert.Contains(t, md, "| openai-go: allowed call | POST /v1/chat/completions | max_tokens | `64` | (absent) | yes | the bound |")

	dir := t.TempDir()
	require.NoError(t, report.Write(dir, rep))
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	var decoded report.Report
	require.NoError(t, json.Unmarshal(raw, &decoded))
	assert.Equal(t, rep, decoded)
}

func TestNoClientSectionsWhenNotRun(t *testing.T) {
	rec := report.NewRecorder("process")
	rec.AddGateway(report.Gateway{Name: "envoy"})
	md := report.Markdown(rec.Report(time.Now()))
	assert.NotContains(t, md, "## Client matrix")
	assert.NotContains(t, md, "## Upstream parity")
}

package pdp_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/internal/cpubench"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/pdp/cerbostest"
)

// BenchmarkClientCheck calls the real Cerbos through Client.Check, one call at a time and eight
// at a time. Besides ns/op (which includes Cerbos's own work, on the same cores) it reports
// cpu-ns/op: the CPU this process spent per call, i.e. the client's share (encoding, transport,
// flow control), the figure synapse pays for each decision.
func BenchmarkClientCheck(b *testing.B) {
	dir, err := filepath.Abs("testdata/policies")
	require.NoError(b, err)
	c := cerbostest.Start(b, cerbostest.Options{PolicyDir: dir})
	client, err := pdp.Dial(c.GRPCAddr, 2*time.Second)
	require.NoError(b, err)
	b.Cleanup(func() { _ = client.Close() })
	ctx := context.Background()
	req := pdp.Request{
		RequestID: "decision-1",
		Principal: pdp.Principal{ID: "alice", Roles: []string{"clerk"}, Attr: map[string]any{
			"agent_id": "triage", "harness_version": "1.0.0", "task_id": "task-1",
			"task": map[string]any{"id": "task-1", "status": "active", "ticket_id": "T-1001"},
		}},
		Resources: []pdp.Resource{{Kind: "invoice", ID: "inv-1", Attr: map[string]any{"amount": 500}, Actions: []string{"pay"}}},
		Metadata:  pdp.Metadata{DecisionID: "decision-1", AgentID: "triage-agent-7", HarnessVersion: "9.9.9", TaskID: "task-42"},
	}
	for range 100 { // connect and warm up both ends
		_, err := client.Check(ctx, req)
		require.NoError(b, err)
	}
	cpubench.SerialAndParallel(b, func() error {
		_, err := client.Check(ctx, req)
		return err
	})
}

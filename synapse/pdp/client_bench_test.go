package pdp_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime(b)
		for b.Loop() {
			if _, err := client.Check(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		start := cpuTime(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.Check(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
	})
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

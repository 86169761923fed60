package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/pdp/cerbostest"
)

// BenchmarkCerbosPlan is what a tools/list costs the real Cerbos (policies/), one call at a
// time: the list's own CheckResources, then PlanResources of its tools, one tool or all four of
// the tickets server's in one request (synapse/visibility asks them together). Besides the
// latency, it reports Cerbos's own CPU per call (cerbos-µs/op, from /proc), which is what the
// response path's plans cost on a shared machine:
//
//	go test -run XXX -bench CerbosPlan ./conformance/bench
func BenchmarkCerbosPlan(b *testing.B) {
	cerbos := cerbostest.Start(b, cerbostest.Options{})
	client, err := pdp.Dial(cerbos.GRPCAddr, 5*time.Second)
	require.NoError(b, err)
	b.Cleanup(func() { _ = client.Close() })
	principal := pdp.Principal{ID: benchSubject, Roles: []string{benchRole}, Attr: map[string]any{
		"task_id": "task-1", "agent_id": benchAgentID, "harness_version": benchHarnessVersion,
		"task": map[string]any{"id": "task-1", "status": "active", "ticket_id": benchTicket},
	}}
	meta := pdp.Metadata{DecisionID: "bench", AgentID: benchAgentID, HarnessVersion: benchHarnessVersion, TaskID: "task-1"}
	plan := func(actions ...string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := client.Plan(ctx, pdp.PlanRequest{RequestID: "bench", Principal: principal, Kind: "mcp:tickets", Actions: actions, Metadata: meta})
			return err
		}
	}
	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"check tools/list", func(ctx context.Context) error {
			_, err := client.Check(ctx, pdp.Request{RequestID: "bench", Principal: principal, Metadata: meta, Resources: []pdp.Resource{{
				Kind: "mcp:tickets", ID: "tickets", Actions: []string{"tools/list"},
				Attr: map[string]any{"method": "tools/list", "server": "tickets"},
			}}})
			return err
		}},
		// get_ticket: allowed by role alone; add_comment: a DENY rule on the arguments too.
		{"plan get_ticket", plan("tools/call/get_ticket")},
		{"plan add_comment", plan("tools/call/add_comment")},
		{"plan all four tools", plan("tools/call/add_comment", "tools/call/get_ticket", "tools/call/list_tickets", "tools/call/update_ticket")},
	}
	for _, c := range calls {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			require.NoError(b, c.call(ctx))
			before, err := ReadUsage(cerbos.PID())
			require.NoError(b, err)
			for b.Loop() {
				if err := c.call(ctx); err != nil {
					b.Fatal(err)
				}
			}
			after, err := ReadUsage(cerbos.PID())
			require.NoError(b, err)
			b.ReportMetric(float64((after.CPU-before.CPU).Microseconds())/float64(b.N), "cerbos-µs/op")
		})
	}
}

package pgstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/tasks"
	"github.com/hopguard/hopguard/synapse/tasks/pgstore"
	"github.com/hopguard/hopguard/synapse/tasks/pgstore/pgtest"
)

// BenchmarkGet is what the registry adds to every task-bound check (synapse reads the task on
// each): bbolt's file beside PostgreSQL on loopback, in one run, so that their ratio holds on a
// noisy machine. go test -bench Get -run ^$ ./synapse/tasks/pgstore
func BenchmarkGet(b *testing.B) {
	bolt, err := tasks.Open(filepath.Join(b.TempDir(), "tasks.db"))
	require.NoError(b, err)
	b.Cleanup(func() { _ = bolt.Close() })
	pg := pgtest.Start(b)
	shared, err := pgstore.Open(context.Background(), pg.DSN())
	require.NoError(b, err)
	b.Cleanup(func() { _ = shared.Close() })

	for _, r := range []struct {
		name     string
		registry tasks.Registry
	}{{"bbolt", bolt}, {"postgres", shared}} {
		_, err := r.registry.Create(context.Background(), tasks.NewTask{ID: "task-1", Principal: "alice", AgentID: "support-agent", TicketID: "T-1001"})
		require.NoError(b, err)
		b.Run(r.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if _, err := r.registry.Get(ctx, "task-1"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(r.name+"/parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := r.registry.Get(ctx, "task-1"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

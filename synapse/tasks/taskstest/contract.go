// Package taskstest is the contract every tasks.Registry keeps, run against each backend
// (bbolt's Store, PostgreSQL's pgstore), so that synapse behaves the same on either.
package taskstest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/tasks"
)

// Open returns an empty registry whose clock is now, closed when the test ends.
type Open func(t *testing.T, now func() time.Time) tasks.Registry

// Contract runs the registry contract against the registries open makes.
func Contract(t *testing.T, open Open) {
	t.Run("lifecycle", func(t *testing.T) { lifecycle(t, open) })
	t.Run("not found", func(t *testing.T) { notFound(t, open) })
	t.Run("invalid tasks", func(t *testing.T) { invalid(t, open) })
	t.Run("cancelled context", func(t *testing.T) {
		r := open(t, clock())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := r.Get(ctx, "x")
		require.ErrorIs(t, err, context.Canceled)
	})
}

// clock advances a second on every reading.
func clock() func() time.Time {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		now = now.Add(time.Second)
		return now
	}
}

func lifecycle(t *testing.T, open Open) {
	ctx := context.Background()
	r := open(t, clock())

	created, err := r.Create(ctx, tasks.NewTask{ID: "task-1", Principal: "alice", AgentID: "triage", TicketID: "T-1001"})
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusActive, created.Status)
	assert.False(t, created.CreatedAt.IsZero())
	assert.Nil(t, created.RevokedAt)
	got, err := r.Get(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, created, got, "what Create returned is what Get reads")

	generated, err := r.Create(ctx, tasks.NewTask{Principal: "bob", AgentID: "triage", TicketID: "T-1002"})
	require.NoError(t, err)
	assert.Regexp(t, `^task-[0-9a-f]{24}$`, generated.ID)

	_, err = r.Create(ctx, tasks.NewTask{ID: "task-1", Principal: "carol", AgentID: "x"})
	require.ErrorIs(t, err, tasks.ErrExists)

	revoked, err := r.Revoke(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusRevoked, revoked.Status)
	require.NotNil(t, revoked.RevokedAt)
	again, err := r.Revoke(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, revoked.RevokedAt, again.RevokedAt, "a second revoke keeps the first time")
	got, err = r.Get(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, revoked, got)

	all, err := r.List(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, "task-1", all[0].ID, "oldest first")
	assert.Equal(t, generated.ID, all[1].ID)
}

func notFound(t *testing.T, open Open) {
	ctx := context.Background()
	r := open(t, clock())
	for _, id := range []string{"missing", ""} {
		_, err := r.Get(ctx, id)
		require.ErrorIs(t, err, tasks.ErrNotFound)
		_, err = r.Revoke(ctx, id)
		require.ErrorIs(t, err, tasks.ErrNotFound)
	}
	all, err := r.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, all)
	assert.NotNil(t, all, "an empty list encodes as [] not null")
}

func invalid(t *testing.T, open Open) {
	r := open(t, clock())
	tests := []struct {
		name string
		req  tasks.NewTask
		want string
	}{
		{"no principal", tasks.NewTask{AgentID: "a"}, "principal is required"},
		{"no agent", tasks.NewTask{Principal: "p"}, "agent_id is required"},
		{"id with slash", tasks.NewTask{ID: "a/b", Principal: "p", AgentID: "a"}, "id may only hold"},
		{"control character", tasks.NewTask{Principal: "p\n", AgentID: "a"}, "principal must be printable"},
		{"too long", tasks.NewTask{Principal: string(make([]byte, 300)), AgentID: "a"}, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Create(context.Background(), tt.req)
			require.ErrorIs(t, err, tasks.ErrInvalid)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

package tasks_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/tasks"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time {
	c.t = c.t.Add(time.Second)
	return c.t
}

func openStore(t *testing.T, path string) *tasks.Store {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s, err := tasks.Open(path, tasks.WithClock(clock.now))
	require.NoError(t, err)
	return s
}

func TestStoreLifecycleSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	s := openStore(t, path)

	created, err := s.Create(ctx, tasks.NewTask{ID: "task-1", Principal: "alice", AgentID: "triage", TicketID: "T-1001"})
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusActive, created.Status)
	assert.False(t, created.CreatedAt.IsZero())
	assert.Nil(t, created.RevokedAt)

	generated, err := s.Create(ctx, tasks.NewTask{Principal: "bob", AgentID: "triage", TicketID: "T-1002"})
	require.NoError(t, err)
	assert.Regexp(t, `^task-[0-9a-f]{24}$`, generated.ID)

	_, err = s.Create(ctx, tasks.NewTask{ID: "task-1", Principal: "carol", AgentID: "x"})
	require.ErrorIs(t, err, tasks.ErrExists)

	revoked, err := s.Revoke(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusRevoked, revoked.Status)
	require.NotNil(t, revoked.RevokedAt)

	again, err := s.Revoke(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, revoked.RevokedAt, again.RevokedAt, "a second revoke keeps the first time")

	require.NoError(t, s.Close())

	reopened := openStore(t, path)
	t.Cleanup(func() { require.NoError(t, reopened.Close()) })

	got, err := reopened.Get(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusRevoked, got.Status)
	assert.Equal(t, "alice", got.Principal)
	assert.Equal(t, "T-1001", got.TicketID)

	all, err := reopened.List(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, "task-1", all[0].ID, "oldest first")
	assert.Equal(t, generated.ID, all[1].ID)
}

func TestStoreNotFound(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "tasks.db"))
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	for _, id := range []string{"missing", ""} {
		_, err := s.Get(ctx, id)
		require.ErrorIs(t, err, tasks.ErrNotFound)
		_, err = s.Revoke(ctx, id)
		require.ErrorIs(t, err, tasks.ErrNotFound)
	}
	all, err := s.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, all)
	assert.NotNil(t, all, "an empty list encodes as [] not null")
}

func TestStoreRejectsInvalidTasks(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "tasks.db"))
	t.Cleanup(func() { require.NoError(t, s.Close()) })

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
			_, err := s.Create(context.Background(), tt.req)
			require.ErrorIs(t, err, tasks.ErrInvalid)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestStoreHonoursCancelledContext(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "tasks.db"))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Get(ctx, "x")
	require.ErrorIs(t, err, context.Canceled)
}

func TestOpenFailsWhileAnotherHolderHasTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	s := openStore(t, path)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	_, err := tasks.Open(path, tasks.WithLockTimeout(10*time.Millisecond))
	require.ErrorContains(t, err, "open task database")
}

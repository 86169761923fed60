package tasks_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/tasks"
	"github.com/hopguard/hopguard/synapse/tasks/taskstest"
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

func TestStoreKeepsTheContract(t *testing.T) {
	taskstest.Contract(t, func(t *testing.T, now func() time.Time) tasks.Registry {
		s, err := tasks.Open(filepath.Join(t.TempDir(), "tasks.db"), tasks.WithClock(now))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

func TestOpenFailsWhileAnotherHolderHasTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	s := openStore(t, path)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	_, err := tasks.Open(path, tasks.WithLockTimeout(10*time.Millisecond))
	require.ErrorContains(t, err, "open task database")
}

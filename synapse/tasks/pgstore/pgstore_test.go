package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/tasks"
	"github.com/hopguard/hopguard/synapse/tasks/pgstore"
	"github.com/hopguard/hopguard/synapse/tasks/pgstore/pgtest"
)

func open(t *testing.T, dsn string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRegistryContract(t *testing.T) {
	pg := pgtest.Start(t)
	clock := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	s := open(t, pg.DSN(), pgstore.WithClock(func() time.Time { clock = clock.Add(time.Second); return clock }))
	ctx := context.Background()

	created, err := s.Create(ctx, tasks.NewTask{ID: "task-1", Principal: "alice", AgentID: "support-agent", TicketID: "T-1001"})
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusActive, created.Status)
	assert.Equal(t, time.Date(2026, 12, 5, 10, 0, 1, 123456000, time.UTC), created.CreatedAt, "kept to the microsecond, as PostgreSQL keeps it")

	got, err := s.Get(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, created, got, "what Create returned is what Get reads")

	_, err = s.Create(ctx, tasks.NewTask{ID: "task-1", Principal: "bob", AgentID: "support-agent"})
	assert.ErrorIs(t, err, tasks.ErrExists)
	_, err = s.Create(ctx, tasks.NewTask{ID: "bad id", Principal: "bob", AgentID: "a"})
	assert.ErrorIs(t, err, tasks.ErrInvalid)
	random, err := s.Create(ctx, tasks.NewTask{Principal: "bob", AgentID: "support-agent"})
	require.NoError(t, err)
	assert.NotEmpty(t, random.ID, "an id is chosen when none is asked for")

	_, err = s.Get(ctx, "no-such-task")
	assert.ErrorIs(t, err, tasks.ErrNotFound)
	_, err = s.Get(ctx, "")
	assert.ErrorIs(t, err, tasks.ErrNotFound)
	_, err = s.Revoke(ctx, "no-such-task")
	assert.ErrorIs(t, err, tasks.ErrNotFound)

	revoked, err := s.Revoke(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusRevoked, revoked.Status)
	require.NotNil(t, revoked.RevokedAt)
	again, err := s.Revoke(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, revoked.RevokedAt, again.RevokedAt, "revoking twice keeps the first revocation time")

	list, err := s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "task-1", list[0].ID, "oldest first")
}

// TestRevocationIsSeenByEveryReplica: two synapses on one database; a task revoked through one
// is revoked at the very next read through the other (nothing is cached).
func TestRevocationIsSeenByEveryReplica(t *testing.T) {
	pg := pgtest.Start(t)
	a, b := open(t, pg.DSN()), open(t, pg.DSN())
	ctx := context.Background()
	_, err := a.Create(ctx, tasks.NewTask{ID: "task-1", Principal: "alice", AgentID: "support-agent"})
	require.NoError(t, err)
	got, err := b.Get(ctx, "task-1")
	require.NoError(t, err)
	require.Equal(t, tasks.StatusActive, got.Status)

	_, err = a.Revoke(ctx, "task-1")
	require.NoError(t, err)
	got, err = b.Get(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusRevoked, got.Status)
}

// TestReplicasStartingTogetherMigrateOnce: the schema is created once however many synapses
// open a fresh database at the same time.
func TestReplicasStartingTogetherMigrateOnce(t *testing.T) {
	pg := pgtest.Start(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			s, err := pgstore.Open(context.Background(), pg.DSN())
			if err == nil {
				_, err = s.List(context.Background())
				_ = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	assert.NoError(t, errors.Join(errs...))
}

// TestUnreachableFailsAndRecoversWithoutAHand: with PostgreSQL down every call fails (so a
// task-bound check fails closed) and none waits long; once it is back, the same store works.
func TestUnreachableFailsAndRecoversWithoutAHand(t *testing.T) {
	pg := pgtest.Start(t)
	s := open(t, pg.DSN(), pgstore.WithConnectTimeout(500*time.Millisecond))
	ctx := context.Background()
	_, err := s.Create(ctx, tasks.NewTask{ID: "task-1", Principal: "alice", AgentID: "support-agent"})
	require.NoError(t, err)

	pg.Stop()
	began := time.Now()
	_, err = s.Get(ctx, "task-1")
	require.Error(t, err)
	assert.NotErrorIs(t, err, tasks.ErrNotFound, "an outage is not a missing task")
	assert.Less(t, time.Since(began), 5*time.Second, "the call fails, it does not hang")

	pg.Start()
	got, err := s.Get(ctx, "task-1")
	require.NoError(t, err)
	assert.Equal(t, tasks.StatusActive, got.Status)
}

// TestStartsWhilePostgreSQLIsDown: Open does not need PostgreSQL; calls fail until it is up,
// then the schema is made and they work.
func TestStartsWhilePostgreSQLIsDown(t *testing.T) {
	pg := pgtest.Start(t)
	pg.Stop()
	s := open(t, pg.DSN(), pgstore.WithConnectTimeout(500*time.Millisecond))
	_, err := s.List(context.Background())
	require.Error(t, err)
	pg.Start()
	_, err = s.Create(context.Background(), tasks.NewTask{ID: "task-1", Principal: "alice", AgentID: "support-agent"})
	require.NoError(t, err)
}

func TestOpenRefusesABadConnectionString(t *testing.T) {
	_, err := pgstore.Open(context.Background(), "postgres://user:secret@127.0.0.1:notaport/db")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret", "a password is never repeated")
}

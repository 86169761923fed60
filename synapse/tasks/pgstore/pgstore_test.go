package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/tasks"
	"github.com/hopguard/hopguard/synapse/tasks/pgstore"
	"github.com/hopguard/hopguard/synapse/tasks/pgstore/pgtest"
	"github.com/hopguard/hopguard/synapse/tasks/taskstest"
)

func open(t *testing.T, dsn string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreKeepsTheContract(t *testing.T) {
	pg := pgtest.Start(t)
	db := 0
	taskstest.Contract(t, func(t *testing.T, now func() time.Time) tasks.Registry {
		// A database of its own for each: the contract starts from an empty registry.
		db++
		return open(t, createDatabase(t, pg, fmt.Sprintf("contract_%d", db)), pgstore.WithClock(now))
	})
}

// TestTimesAreKeptToTheMicrosecond: PostgreSQL keeps microseconds, so the store does too, and
// what Create returns is what Get reads.
func TestTimesAreKeptToTheMicrosecond(t *testing.T) {
	pg := pgtest.Start(t)
	at := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	s := open(t, pg.DSN(), pgstore.WithClock(func() time.Time { return at }))
	created, err := s.Create(context.Background(), tasks.NewTask{ID: "task-1", Principal: "alice", AgentID: "support-agent"})
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 12, 5, 10, 0, 0, 123456000, time.UTC), created.CreatedAt)
}

// createDatabase makes an empty database on pg and returns its DSN.
func createDatabase(t *testing.T, pg *pgtest.Server, name string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pg.DSN())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	return strings.Replace(pg.DSN(), "/postgres?", "/"+name+"?", 1)
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

// Package pgstore is the task registry on PostgreSQL: the one several synapse replicas share, so
// that a task revoked through one of them is revoked at the next hop through any other.
//
// Every call reads or writes the database; nothing is cached, so a revocation is seen by every
// replica as soon as PostgreSQL has committed it (zero staleness), and it is durable once the
// admin API has acknowledged it (the commit returned, synchronous_commit left at its default).
// synapse creates and migrates the schema itself (migrate.go). While PostgreSQL cannot be
// reached every call fails, so task-bound checks fail closed (task_registry_unavailable); the
// pool reconnects by itself once it is back.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hopguard/hopguard/synapse/tasks"
)

// DefaultConnectTimeout bounds a connection attempt, so that an unreachable PostgreSQL fails a
// check quickly instead of holding it until the gateway gives up.
const DefaultConnectTimeout = 2 * time.Second

// Store is a tasks.Registry on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time

	// migrated is set once the schema is current; until then every call tries again (one at a
	// time, under mu), so a synapse started while PostgreSQL is down recovers without a restart.
	mu       sync.Mutex
	migrated atomic.Bool
}

var _ tasks.Registry = (*Store)(nil)

type options struct {
	now            func() time.Time
	connectTimeout time.Duration
	maxConns       int32
}

// Option configures a Store.
type Option func(*options)

// WithClock sets the clock used for created_at and revoked_at.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithConnectTimeout sets how long one connection attempt may take.
func WithConnectTimeout(d time.Duration) Option { return func(o *options) { o.connectTimeout = d } }

// WithMaxConns bounds the pool (pgxpool's default is the larger of 4 and the CPUs).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// Open connects to the database dsn names ("postgres://user@127.0.0.1:5432/db?sslmode=disable",
// or key=value pairs) and brings its schema up to date. A database that cannot be reached is
// not an error here: the store tries again on every call, and fails each until it can.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, connectTimeout: DefaultConnectTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: its text is not repeated.
		return nil, errors.New("task registry: the PostgreSQL connection string does not parse")
	}
	cfg.ConnConfig.ConnectTimeout = o.connectTimeout
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("task registry: postgres pool: %w", err)
	}
	s := &Store{pool: pool, now: o.now}
	if err := s.ready(ctx); err != nil && !unreachable(err) {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// ready migrates the schema once.
func (s *Store) ready(ctx context.Context) error {
	if s.migrated.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.migrated.Load() {
		return nil
	}
	if err := migrate(ctx, s.pool); err != nil {
		return err
	}
	s.migrated.Store(true)
	return nil
}

// unreachable says whether err is PostgreSQL not answering (worth trying again later) rather
// than PostgreSQL refusing (a wrong password, a missing database: a configuration error).
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 57P03: the server is starting up or shutting down.
		return pgErr.Code == "57P03"
	}
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr) || errors.Is(err, context.DeadlineExceeded)
}

const columns = "id, principal, agent_id, ticket_id, status, created_at, revoked_at"

// Create stores a new active task.
func (s *Store) Create(ctx context.Context, req tasks.NewTask) (tasks.Task, error) {
	if err := req.Validate(); err != nil {
		return tasks.Task{}, err
	}
	if err := s.ready(ctx); err != nil {
		return tasks.Task{}, fmt.Errorf("create task: %w", err)
	}
	id := req.ID
	if id == "" {
		var err error
		if id, err = tasks.NewID(); err != nil {
			return tasks.Task{}, err
		}
	}
	// Microseconds, what PostgreSQL keeps, so that what Create returns is what Get reads.
	created := s.now().UTC().Truncate(time.Microsecond)
	row := s.pool.QueryRow(ctx, `INSERT INTO hopguard_tasks (id, principal, agent_id, ticket_id, status, created_at)
		VALUES ($1, $2, $3, $4, 'active', $5) ON CONFLICT (id) DO NOTHING RETURNING `+columns,
		id, req.Principal, req.AgentID, req.TicketID, created)
	task, err := scan(row)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return tasks.Task{}, fmt.Errorf("create task: %w: %s", tasks.ErrExists, id)
	case err != nil:
		return tasks.Task{}, fmt.Errorf("create task: %w", err)
	}
	return task, nil
}

// Get returns the task with the given id, or tasks.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (tasks.Task, error) {
	if id == "" {
		return tasks.Task{}, tasks.ErrNotFound
	}
	if err := s.ready(ctx); err != nil {
		return tasks.Task{}, fmt.Errorf("get task: %w", err)
	}
	task, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM hopguard_tasks WHERE id = $1`, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return tasks.Task{}, fmt.Errorf("get task: %w: %s", tasks.ErrNotFound, id)
	case err != nil:
		return tasks.Task{}, fmt.Errorf("get task: %w", err)
	}
	return task, nil
}

// Revoke marks a task revoked. Revoking a revoked task is not an error: the task is returned
// as it is, with its first revocation time.
func (s *Store) Revoke(ctx context.Context, id string) (tasks.Task, error) {
	if err := s.ready(ctx); err != nil {
		return tasks.Task{}, fmt.Errorf("revoke task: %w", err)
	}
	at := s.now().UTC().Truncate(time.Microsecond)
	task, err := scan(s.pool.QueryRow(ctx, `UPDATE hopguard_tasks SET status = 'revoked', revoked_at = $2
		WHERE id = $1 AND status = 'active' RETURNING `+columns, id, at))
	if errors.Is(err, pgx.ErrNoRows) {
		// Not there, or revoked already.
		return s.Get(ctx, id)
	}
	if err != nil {
		return tasks.Task{}, fmt.Errorf("revoke task: %w", err)
	}
	return task, nil
}

// List returns every task, oldest first.
func (s *Store) List(ctx context.Context) ([]tasks.Task, error) {
	if err := s.ready(ctx); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM hopguard_tasks ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	out := []tasks.Task{}
	for rows.Next() {
		t, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return out, nil
}

func scan(row pgx.Row) (tasks.Task, error) {
	var (
		t       tasks.Task
		status  string
		revoked *time.Time
	)
	if err := row.Scan(&t.ID, &t.Principal, &t.AgentID, &t.TicketID, &status, &t.CreatedAt, &revoked); err != nil {
		return tasks.Task{}, err
	}
	t.Status, t.CreatedAt = tasks.Status(status), t.CreatedAt.UTC()
	if revoked != nil {
		at := revoked.UTC()
		t.RevokedAt = &at
	}
	return t, nil
}

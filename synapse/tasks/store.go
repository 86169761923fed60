package tasks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketTasks = []byte("tasks")

// lockTimeout bounds how long Open waits for another process that holds the
// database file, so a second synapse on the same file fails instead of hanging.
const defaultLockTimeout = 2 * time.Second

// Store is the embedded, persistent Registry: one bbolt file that survives a
// restart. Every call is its own transaction; nothing is cached in memory.
type Store struct {
	db  *bolt.DB
	now func() time.Time
}

type storeOptions struct {
	now         func() time.Time
	lockTimeout time.Duration
}

var _ Registry = (*Store)(nil)

// StoreOption configures a Store.
type StoreOption func(*storeOptions)

// WithClock sets the clock used for created_at and revoked_at.
func WithClock(now func() time.Time) StoreOption {
	return func(o *storeOptions) { o.now = now }
}

// WithLockTimeout sets how long Open waits for the file lock.
func WithLockTimeout(d time.Duration) StoreOption {
	return func(o *storeOptions) { o.lockTimeout = d }
}

// Open opens (or creates) the task database at path.
func Open(path string, opts ...StoreOption) (*Store, error) {
	o := storeOptions{now: time.Now, lockTimeout: defaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open task database %q: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketTasks)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("prepare task database %q: %w", path, err)
	}
	return &Store{db: db, now: o.now}, nil
}

// Close releases the database file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close task database: %w", err)
	}
	return nil
}

// Create stores a new active task.
func (s *Store) Create(ctx context.Context, req NewTask) (Task, error) {
	if err := ctx.Err(); err != nil {
		return Task{}, err
	}
	if err := req.Validate(); err != nil {
		return Task{}, err
	}
	id := req.ID
	if id == "" {
		var err error
		if id, err = NewID(); err != nil {
			return Task{}, err
		}
	}
	task := Task{
		ID:        id,
		Principal: req.Principal,
		AgentID:   req.AgentID,
		TicketID:  req.TicketID,
		Status:    StatusActive,
		CreatedAt: s.now().UTC(),
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTasks)
		if b.Get([]byte(id)) != nil {
			return fmt.Errorf("%w: %s", ErrExists, id)
		}
		return put(b, task)
	})
	if err != nil {
		return Task{}, fmt.Errorf("create task: %w", err)
	}
	return task, nil
}

// Get returns the task with the given id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Task, error) {
	if err := ctx.Err(); err != nil {
		return Task{}, err
	}
	var task Task
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		task, err = get(tx.Bucket(bucketTasks), id)
		return err
	})
	if err != nil {
		return Task{}, fmt.Errorf("get task: %w", err)
	}
	return task, nil
}

// Revoke marks a task revoked. Revoking a revoked task is not an error: the
// task is returned as it is, with its first revocation time.
func (s *Store) Revoke(ctx context.Context, id string) (Task, error) {
	if err := ctx.Err(); err != nil {
		return Task{}, err
	}
	var task Task
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTasks)
		var err error
		if task, err = get(b, id); err != nil {
			return err
		}
		if task.Status == StatusRevoked {
			return nil
		}
		at := s.now().UTC()
		task.Status, task.RevokedAt = StatusRevoked, &at
		return put(b, task)
	})
	if err != nil {
		return Task{}, fmt.Errorf("revoke task: %w", err)
	}
	return task, nil
}

// List returns every task, oldest first.
func (s *Store) List(ctx context.Context) ([]Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tasks := []Task{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTasks).ForEach(func(k, v []byte) error {
			var t Task
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("decode task %q: %w", k, err)
			}
			tasks = append(tasks, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	slices.SortStableFunc(tasks, func(a, b Task) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return tasks, nil
}

func get(b *bolt.Bucket, id string) (Task, error) {
	if id == "" {
		return Task{}, ErrNotFound
	}
	v := b.Get([]byte(id))
	if v == nil {
		return Task{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	var t Task
	if err := json.Unmarshal(v, &t); err != nil {
		return Task{}, fmt.Errorf("decode task %q: %w", id, err)
	}
	return t, nil
}

func put(b *bolt.Bucket, t Task) error {
	v, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode task %q: %w", t.ID, err)
	}
	return b.Put([]byte(t.ID), v)
}

// NewID is a random task id, for a NewTask without one.
func NewID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate task id: %w", err)
	}
	return "task-" + hex.EncodeToString(b[:]), nil
}

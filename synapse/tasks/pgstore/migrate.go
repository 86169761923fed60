package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are the schema's versions, in order: version i+1 is migrations[i]. A released
// migration is never edited; a change is a new one at the end.
var migrations = []string{
	`CREATE TABLE hopguard_tasks (
		id         text PRIMARY KEY,
		principal  text NOT NULL,
		agent_id   text NOT NULL,
		ticket_id  text NOT NULL DEFAULT '',
		status     text NOT NULL CHECK (status IN ('active', 'revoked')),
		created_at timestamptz NOT NULL,
		revoked_at timestamptz,
		CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
	)`,
}

// migrationLock is the advisory lock replicas starting together take in turn, so that each
// migration runs once.
const migrationLock = 0x686f7067 // "hopg"

// migrate brings the schema to the last version, in one transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS hopguard_schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM hopguard_schema_migrations`).Scan(&current); err != nil {
			return err
		}
		if current > len(migrations) {
			return fmt.Errorf("the database's schema is version %d, newer than this synapse knows (%d): run a newer synapse", current, len(migrations))
		}
		for v := current + 1; v <= len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO hopguard_schema_migrations (version) VALUES ($1)`, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("task registry: migrate the PostgreSQL schema: %w", err)
	}
	return nil
}

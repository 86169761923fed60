package pgserver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// DebianBinaries are the bin directories of the PostgreSQL majors Debian has installed
// (/usr/lib/postgresql/<major>/bin), newest first: where to look after `make tools`'s.
func DebianBinaries() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return major(b) - major(a) })
	return dirs
}

func major(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

// ErrExited is returned by WaitAccepting when the server exits before it accepts a connection.
var ErrExited = errors.New("postgres exited during start")

// WaitAccepting waits until the server at dsn accepts a connection. It returns ErrExited once
// exited is closed, and ctx's error with the last connection error when ctx ends first.
func WaitAccepting(ctx context.Context, dsn string, exited <-chan struct{}) error {
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(attempt, dsn)
		cancel()
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections: %w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

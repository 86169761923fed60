// Package tasks is synapse's task registry: which principal and which agent
// work on which ticket, and whether that work is still allowed to go on.
//
// The registry is read on every check, never cached, so that a revocation
// holds from the very next hop.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Status is the lifecycle state of a task.
type Status string

const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
)

// Task is one unit of delegated work: a principal lets an agent act on a ticket.
type Task struct {
	ID        string     `json:"id"`
	Principal string     `json:"principal"`
	AgentID   string     `json:"agent_id"`
	TicketID  string     `json:"ticket_id"`
	Status    Status     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// NewTask is what a caller asks for; the registry fills in the rest.
type NewTask struct {
	// ID is optional; the registry picks a random one when it is empty.
	ID        string `json:"id,omitempty"`
	Principal string `json:"principal"`
	AgentID   string `json:"agent_id"`
	TicketID  string `json:"ticket_id"`
}

// Registry is the task registry behind synapse's admin API and enrichment.
// The embedded default is Store (bbolt); another backend only has to
// implement these four calls.
type Registry interface {
	Create(ctx context.Context, req NewTask) (Task, error)
	Get(ctx context.Context, id string) (Task, error)
	Revoke(ctx context.Context, id string) (Task, error)
	List(ctx context.Context) ([]Task, error)
}

var (
	// ErrNotFound is returned when no task has the requested id.
	ErrNotFound = errors.New("task not found")
	// ErrExists is returned by Create when the requested id is taken.
	ErrExists = errors.New("task already exists")
	// ErrInvalid wraps every validation failure of a NewTask.
	ErrInvalid = errors.New("invalid task")
)

const maxFieldLen = 256

// Validate reports the first problem with a creation request.
func (n NewTask) Validate() error {
	fields := []struct {
		name, value string
		required    bool
	}{
		{"id", n.ID, false},
		{"principal", n.Principal, true},
		{"agent_id", n.AgentID, true},
		{"ticket_id", n.TicketID, false},
	}
	for _, f := range fields {
		if f.required && f.value == "" {
			return fmt.Errorf("%w: %s is required", ErrInvalid, f.name)
		}
		if len(f.value) > maxFieldLen {
			return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, f.name, maxFieldLen)
		}
		if !printable(f.value) {
			return fmt.Errorf("%w: %s must be printable text", ErrInvalid, f.name)
		}
	}
	if n.ID != "" && !validID(n.ID) {
		return fmt.Errorf("%w: id may only hold letters, digits, '-', '_', '.' and ':'", ErrInvalid)
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// validID keeps ids safe to put in a URL path segment and a log line.
func validID(id string) bool {
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '-', r == '_', r == '.', r == ':':
		default:
			return false
		}
	}
	return id != ""
}

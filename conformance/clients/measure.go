package clients

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/synapse/audit"
)

// auditWait bounds the wait for synapse's records of the decisions a call saw: synapse may
// write one just after the gateway has answered.
const auditWait = 5 * time.Second

// measure is the measured call of a cell: what its client sent from begin to end, and where
// synapse's audit log stood at begin.
type measure struct {
	c         *cell
	rec       *recorder
	auditPath string
	auditFrom int64
}

// begin starts measuring the cell's call: what rec sees from now on.
func begin(c *cell, rec *recorder) measure {
	rec.take() // what the setup sent is not the call's
	m := measure{c: c, rec: rec, auditPath: c.env.AuditLog}
	if info, err := os.Stat(m.auditPath); err == nil {
		m.auditFrom = info.Size()
	}
	return m
}

// end returns the requests of the call (those a retry of it would repeat) and everything the
// client sent meanwhile (an MCP session's GET stream, say).
func (m measure) end() (calls, all []sent) {
	all = m.rec.take()
	for _, s := range all {
		if m.isCall(s) {
			calls = append(calls, s)
		}
	}
	return calls, all
}

func (m measure) isCall(s sent) bool {
	if m.c.client.plane == modelPlane {
		return s.method == "POST" && s.path == m.c.client.model.path()
	}
	return s.method == "POST" && slices.Contains(m.c.spec.rpcMethods(), s.rpcMethod)
}

// atSynapse counts synapse's records of the call's action written since begin, once every
// decision the client was told of is in the log.
func (m measure) atSynapse(ctx context.Context, sent []sent) (int, error) {
	want := map[string]bool{}
	for _, s := range sent {
		if s.decisionID != "" {
			want[s.decisionID] = true
		}
	}
	deadline := time.Now().Add(auditWait)
	for {
		records, _, err := audit.ReadLog(m.auditPath, m.auditFrom)
		if err != nil {
			return 0, err
		}
		missing := len(want)
		for _, r := range records {
			if want[r.DecisionID] {
				missing--
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			n := 0
			for _, r := range records {
				if m.ofCall(r) {
					n++
				}
			}
			if missing > 0 {
				return n, fmt.Errorf("%d decision(s) the client was told of are not in synapse's audit log after %s", missing, auditWait)
			}
			return n, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ofCall says an audit record is a decision on a request of the call: one on the cell's route
// with one of the call's actions.
func (m measure) ofCall(r audit.Record) bool {
	if r.Kind != m.c.spec.resource() {
		return false
	}
	actions := m.c.spec.actions()
	for _, res := range r.Resources {
		for _, a := range res.Actions {
			if slices.Contains(actions, a) {
				return true
			}
		}
	}
	return false
}

// journalLength is how many entries the cell's upstream journal holds.
func (p *player) journalLength(ctx context.Context, c *cell) (int, error) {
	entries, err := p.journal(ctx, c)
	return len(entries), err
}

// journalSince is what the cell's upstream received after its first from entries.
func (p *player) journalSince(ctx context.Context, c *cell, from int) ([]journal.Entry, error) {
	entries, err := p.journal(ctx, c)
	if err != nil {
		return nil, err
	}
	if from > len(entries) {
		return nil, fmt.Errorf("the journal of %s shrank from %d to %d entries", c.spec.resource(), from, len(entries))
	}
	return entries[from:], nil
}

func (p *player) journal(ctx context.Context, c *cell) ([]journal.Entry, error) {
	j, ok := c.env.Journals[c.spec.resource()]
	if !ok {
		return nil, fmt.Errorf("no journal for %s", c.spec.resource())
	}
	entries, err := j.Entries(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the journal of %s: %w", c.spec.resource(), err)
	}
	return entries, nil
}

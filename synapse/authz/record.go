package authz

import (
	"context"
	"time"

	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/metrics"
)

// record writes the decision to the audit log, the metrics and the
// operational log. It runs whatever happened to the request's context.
func (s *Service) record(ctx context.Context, d *decision, start time.Time) {
	ctx = context.WithoutCancel(ctx)
	now := s.opts.Now()
	latency := now.Sub(start)
	rec := auditRecord(d, now, latency)

	if err := s.opts.Audit.Write(rec); err != nil {
		s.opts.Log.ErrorContext(ctx, "audit write failed", "decision_id", d.id, "err", err)
	}

	m := metrics.Decision{Effect: rec.Effect, Code: rec.Code, Failure: rec.Failure, Latency: latency, Cached: rec.Cached}
	for _, r := range rec.Resources {
		m.Checks = append(m.Checks, metrics.Check{Kind: r.Kind, Actions: r.Actions})
	}
	s.opts.Metrics.ObserveDecision(m)
	s.opts.Metrics.PolicyVersion(rec.PolicyVersion)

	s.opts.Log.DebugContext(ctx, "decision", "decision_id", d.id, "effect", rec.Effect, "code", rec.Code,
		"failure", rec.Failure, "principal", rec.Principal, "kind", rec.Kind, "latency", latency)
}

func auditRecord(d *decision, now time.Time, latency time.Duration) audit.Record {
	rec := audit.Record{
		Time:          now.UTC(),
		DecisionID:    d.id,
		CerbosCallID:  d.callID,
		Cached:        d.cachedFrom != "",
		CachedFrom:    d.cachedFrom,
		Effect:        audit.EffectDeny,
		Code:          d.denial.Code,
		Reason:        d.denial.Reason,
		Failure:       d.failure,
		Kind:          d.input.Resource,
		Policy:        d.provenance.Policy,
		PolicyVersion: d.provenance.Version,
		LatencyMS:     float64(latency.Microseconds()) / 1000,
	}
	if d.allowed {
		rec.Effect = audit.EffectAllow
	}
	if c := d.claims; c != nil {
		rec.Principal, rec.Roles, rec.Actor = c.Subject, c.Roles, c.Actor
		rec.AgentID, rec.HarnessVersion, rec.Task = c.AgentID, c.HarnessVersion, c.TaskID
	}
	if t := d.task; t != nil {
		rec.TaskStatus, rec.Ticket = string(t.Status), t.TicketID
	}
	for _, c := range d.input.Checks {
		rec.Resources = append(rec.Resources, audit.Resource{Kind: c.Kind, ID: c.ID, Actions: []string{c.Action}})
	}
	return rec
}

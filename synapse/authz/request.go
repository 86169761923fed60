package authz

import (
	"github.com/hopguard/hopguard/synapse/pdp"
)

// pdpRequest builds the one CheckResources call of a decision: the principal
// from the verified claims (and the task, if it is theirs), every check as a
// resource entry.
func pdpRequest(d *decision) pdp.Request {
	c := d.claims
	attr := map[string]any{}
	for k, v := range map[string]string{
		"agent_id":        c.AgentID,
		"harness_version": c.HarnessVersion,
		"task_id":         c.TaskID,
	} {
		if v != "" {
			attr[k] = v
		}
	}
	if c.Actor != "" {
		// The token says an agent acts for the user named by sub.
		attr["acting_for"] = c.Subject
		attr["actor"] = c.Actor
	}
	if d.task != nil {
		attr["task"] = map[string]any{
			"id":        d.task.ID,
			"status":    string(d.task.Status),
			"ticket_id": d.task.TicketID,
		}
	}
	req := pdp.Request{
		RequestID: d.id,
		Principal: pdp.Principal{ID: c.Subject, Roles: c.Roles, Attr: attr},
		Metadata: pdp.Metadata{
			DecisionID:     d.id,
			AgentID:        c.AgentID,
			HarnessVersion: c.HarnessVersion,
			TaskID:         c.TaskID,
		},
	}
	for _, ch := range d.input.Checks {
		req.Resources = append(req.Resources, pdp.Resource{
			Kind:    ch.Kind,
			ID:      ch.ID,
			Attr:    ch.Attr,
			Actions: []string{ch.Action},
		})
	}
	return req
}

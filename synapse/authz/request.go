package authz

import (
	"github.com/hopguard/hopguard/policies/provenance"
	"github.com/hopguard/hopguard/synapse/pdp"
)

// provenanceResource ends every CheckResources call: its policy's one rule outputs the version of
// the policy set that decides the call (policies/provenance), which the decision then names.
var provenanceResource = pdp.Resource{Kind: provenance.Kind, ID: provenance.ID, Actions: []string{provenance.Action}}

// pdpRequest builds the one CheckResources call of a decision: the principal
// from the verified claims (and the task, if it is theirs), every check as a
// resource entry, then provenanceResource.
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
	req.Resources = append(req.Resources, provenanceResource)
	return req
}

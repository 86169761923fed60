package authz

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/respond"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// Denial codes synapse sets itself (policy outputs bring their own; the
// mapper's are in synapse/mapping).
const (
	codeUnauthenticated         = "unauthenticated"
	codeInvalidToken            = "invalid_token"
	codeIdentityUnavailable     = "identity_unavailable"
	codeTaskRegistryUnavailable = "task_registry_unavailable"
	codePDPUnavailable          = "pdp_unavailable"
	codeNoMatchingRule          = "no_matching_rule"
	codeInvalidArguments        = "invalid_arguments"
	codePolicyDenied            = "policy_denied"
	codeInvalidRequest          = "invalid_request"
	codeInternal                = "internal_error"
	codeClientCancelled         = "client_cancelled"
	codePrincipalBusy           = "principal_busy"
	// codeListWithheld: a list allowed by policy that synapse could not seal a grant for, so
	// the response path could not filter its answer (synapse/extproc answers the same code).
	codeListWithheld = "list_withheld"
)

const (
	reasonPDPUnavailable = "the policy decision point is unavailable: denied (fail closed)"
	reasonInternal       = "synapse failed internally: denied (fail closed)"
	reasonNoGrant        = "synapse could not seal this list's grant for the response path: the list is withheld (fail closed)"
)

// What failed, when something did rather than a policy deciding: kept apart
// in the audit log (failure) and in metrics (the failure label).
const (
	failureRequest             = "request"
	failureIdentity            = "identity"
	failureIdentityUnavailable = "identity_unavailable"
	failureEnrichment          = "enrichment"
	failurePDP                 = "pdp"
	failureInternal            = "internal"
	// failureClientCancelled: the caller went away before the check was decided.
	failureClientCancelled = "client_cancelled"
	// failureAdmission: the principal had too many checks waiting for Cerbos.
	failureAdmission = "admission"
)

// decision is everything one Check learnt, for the response, the audit log
// and the metrics.
type decision struct {
	id     string
	input  *mapping.Input
	claims *identity.Claims
	task   *tasks.Task
	callID string
	// cachedFrom is the decision whose Cerbos answer this one reused, if any.
	cachedFrom string
	allowed    bool
	failure    string
	denial     respond.Denial
	// provenance is the policy that decided and the policy set's version, when one did.
	provenance respond.Provenance
	response   *authv3.CheckResponse
}

func denial(code, reason string) respond.Denial {
	return respond.Denial{Decision: respond.DecisionDeny, Code: code, Reason: reason}
}

func (d *decision) allow() {
	d.allowed, d.failure, d.denial = true, "", respond.Denial{}
	d.response = respond.Allowed(d.id, d.provenance)
}

// deny answers with the plane's denial shape.
func (d *decision) deny(failure string, why respond.Denial) {
	d.allowed, d.failure, d.denial = false, failure, why
	d.response = respond.Denied(d.input, why, d.id, d.provenance)
}

// unavailable answers 503 with x-should-retry: false: something synapse
// depends on failed, so nothing was decided and nothing is allowed.
func (d *decision) unavailable(failure string, why respond.Denial) {
	d.allowed, d.failure, d.denial = false, failure, why
	d.response = respond.Unavailable(d.input, why, d.id)
}

package pdp

import (
	"context"
	"fmt"

	enginev1 "github.com/cerbos/cerbos/api/genpb/cerbos/engine/v1"
	requestv1 "github.com/cerbos/cerbos/api/genpb/cerbos/request/v1"
	"google.golang.org/grpc/metadata"
)

// PlanRequest asks what Principal may do: Actions on resources of Kind whose attributes are not
// known yet (Cerbos's PlanResources). A tool's visibility is asked this way: whether some
// arguments would let the principal call it.
type PlanRequest struct {
	RequestID string
	Principal Principal
	Kind      string
	// Actions are planned together: Cerbos plans the resources on which every one of them is
	// allowed, so the plan is always denied as soon as one action's own plan is (AllOf). At
	// least one, at most MaxPlanActions, no two alike: Cerbos refuses any other list.
	Actions []string
	// Attr is what is known of the resource ahead of its use (a document's URI); the plan of a
	// rule that reads only known attributes is then exact.
	Attr     map[string]any
	Metadata Metadata
}

// Plan is Cerbos's answer to a PlanRequest.
type Plan string

// MaxPlanActions is the most actions Cerbos plans in one request (its API's own bound).
const MaxPlanActions = 20

// The plans Cerbos gives.
const (
	// PlanAlwaysAllowed: the actions are allowed on every resource of the kind.
	PlanAlwaysAllowed Plan = "always_allowed"
	// PlanAlwaysDenied: no resource of the kind, whatever its attributes, allows the actions.
	PlanAlwaysDenied Plan = "always_denied"
	// PlanConditional: the actions are allowed on the resources that meet a condition.
	PlanConditional Plan = "conditional"
)

// AllOf is the plan Cerbos gives for several actions, from each one's own plan: always denied if
// one is, always allowed if all are, conditional otherwise. Cerbos merges a request's actions
// this way (its planner's MergeWithAnd); a stand-in for Cerbos in a test plans the same way.
func AllOf(plans ...Plan) Plan {
	all := PlanAlwaysAllowed
	for _, p := range plans {
		switch p {
		case PlanAlwaysDenied:
			return PlanAlwaysDenied
		case PlanConditional:
			all = PlanConditional
		}
	}
	return all
}

// Plan sends one PlanResources call. Any error means nothing was decided: the caller must treat
// every one of Actions as not allowed.
func (c *Client) Plan(ctx context.Context, req PlanRequest) (Plan, error) {
	if n := len(req.Actions); n == 0 || n > MaxPlanActions {
		return "", fmt.Errorf("%w: %d actions to plan, want 1 to %d", ErrInvalidRequest, n, MaxPlanActions)
	}
	pattr, err := attrs(req.Principal.Attr)
	if err != nil {
		return "", fmt.Errorf("%w: principal attributes: %w", ErrInvalidRequest, err)
	}
	rattr, err := attrs(req.Attr)
	if err != nil {
		return "", fmt.Errorf("%w: resource attributes: %w", ErrInvalidRequest, err)
	}
	in := &requestv1.PlanResourcesRequest{
		RequestId: req.RequestID,
		Actions:   req.Actions,
		Principal: &enginev1.Principal{Id: req.Principal.ID, Roles: req.Principal.Roles, Attr: pattr},
		Resource:  &enginev1.PlanResourcesInput_Resource{Kind: req.Kind, Attr: rattr},
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx, traced(ctx, headers(req.Metadata)))
	out, err := c.cerbos.PlanResources(ctx, in)
	if err != nil {
		return "", fmt.Errorf("cerbos PlanResources: %w", err)
	}
	switch kind := out.GetFilter().GetKind(); kind {
	case enginev1.PlanResourcesFilter_KIND_ALWAYS_ALLOWED:
		return PlanAlwaysAllowed, nil
	case enginev1.PlanResourcesFilter_KIND_ALWAYS_DENIED:
		return PlanAlwaysDenied, nil
	case enginev1.PlanResourcesFilter_KIND_CONDITIONAL:
		return PlanConditional, nil
	default:
		return "", fmt.Errorf("cerbos PlanResources: %w: filter kind %s", ErrInvalidResponse, kind)
	}
}

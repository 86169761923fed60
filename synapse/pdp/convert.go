package pdp

import (
	"errors"
	"fmt"

	effectv1 "github.com/cerbos/cerbos/api/genpb/cerbos/effect/v1"
	enginev1 "github.com/cerbos/cerbos/api/genpb/cerbos/engine/v1"
	requestv1 "github.com/cerbos/cerbos/api/genpb/cerbos/request/v1"
	responsev1 "github.com/cerbos/cerbos/api/genpb/cerbos/response/v1"
	schemav1 "github.com/cerbos/cerbos/api/genpb/cerbos/schema/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

var (
	// ErrInvalidRequest means the request could not be encoded for Cerbos.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrInvalidResponse means Cerbos answered something that does not match
	// the request; no decision can be read from it.
	ErrInvalidResponse = errors.New("invalid response")
)

func toProto(req Request) (*requestv1.CheckResourcesRequest, error) {
	pattr, err := attrs(req.Principal.Attr)
	if err != nil {
		return nil, fmt.Errorf("%w: principal attributes: %w", ErrInvalidRequest, err)
	}
	out := &requestv1.CheckResourcesRequest{
		RequestId: req.RequestID,
		Principal: &enginev1.Principal{Id: req.Principal.ID, Roles: req.Principal.Roles, Attr: pattr},
	}
	for i, r := range req.Resources {
		rattr, err := attrs(r.Attr)
		if err != nil {
			return nil, fmt.Errorf("%w: resource %d attributes: %w", ErrInvalidRequest, i, err)
		}
		out.Resources = append(out.Resources, &requestv1.CheckResourcesRequest_ResourceEntry{
			Actions:  r.Actions,
			Resource: &enginev1.Resource{Kind: r.Kind, Id: r.ID, Attr: rattr},
		})
	}
	return out, nil
}

// attrs converts attributes so that any JSON-shaped value works ([]string,
// json.RawMessage, json.Number, structs with tags), not only what
// structpb.NewValue accepts (see attrValue).
func attrs(in map[string]any) (map[string]*structpb.Value, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]*structpb.Value, len(in))
	for k, v := range in {
		val, err := attrValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = val
	}
	return out, nil
}

func fromProto(in *responsev1.CheckResourcesResponse, req Request) (*Response, error) {
	results := in.GetResults()
	if len(results) != len(req.Resources) {
		return nil, fmt.Errorf("%w: %d results for %d resources", ErrInvalidResponse, len(results), len(req.Resources))
	}
	out := &Response{RequestID: in.GetRequestId(), CallID: in.GetCerbosCallId(), Results: make([]Result, len(results))}
	for i, r := range results {
		want := req.Resources[i]
		if r.GetResource().GetKind() != want.Kind || r.GetResource().GetId() != want.ID {
			return nil, fmt.Errorf("%w: result %d is for %s/%s, want %s/%s", ErrInvalidResponse, i,
				r.GetResource().GetKind(), r.GetResource().GetId(), want.Kind, want.ID)
		}
		out.Results[i] = fromResult(r)
	}
	return out, nil
}

func fromResult(r *responsev1.CheckResourcesResponse_ResultEntry) Result {
	res := Result{
		Kind:    r.GetResource().GetKind(),
		ID:      r.GetResource().GetId(),
		Actions: make(map[string]Effect, len(r.GetActions())),
	}
	for action, eff := range r.GetActions() {
		res.Actions[action] = EffectDeny
		if eff == effectv1.Effect_EFFECT_ALLOW {
			res.Actions[action] = EffectAllow
		}
	}
	for _, o := range r.GetOutputs() {
		res.Outputs = append(res.Outputs, Output{
			Source: o.GetSrc(),
			Action: o.GetAction(),
			Value:  o.GetVal().AsInterface(),
			Error:  o.GetError(),
		})
	}
	for _, v := range r.GetValidationErrors() {
		res.ValidationErrors = append(res.ValidationErrors, ValidationError{
			Path:    v.GetPath(),
			Message: v.GetMessage(),
			Source:  validationSource(v.GetSource()),
		})
	}
	return res
}

func validationSource(s schemav1.ValidationError_Source) string {
	switch s {
	case schemav1.ValidationError_SOURCE_PRINCIPAL:
		return "principal"
	case schemav1.ValidationError_SOURCE_RESOURCE:
		return "resource"
	}
	return "unspecified"
}

package authz

import (
	"fmt"
	"strings"

	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/respond"
)

// maxValidationErrors bounds how many schema violations a reason lists.
const maxValidationErrors = 5

// judge reads Cerbos's answer: allowed only if every check's action is an
// explicit allow and no schema was violated. Otherwise the denial is, in
// order: the output of the first deny rule that fired, the schema
// violations, or "no rule allows". policy names what decided, as Cerbos names
// it: the rule whose output gave the denial
// ("resource.mcp_payments.vdefault#tier-1-refund-cap"), else the resource
// policy of the first denied check, or of the first check when all were
// allowed ("resource.llm.vdefault").
func judge(checks []mapping.Check, results []pdp.Result) (why respond.Denial, policy string, denied bool) {
	var firstDenied *mapping.Check
	var firstOutput *respond.Denial
	var violations []pdp.ValidationError
	for i := range checks {
		check, result := &checks[i], results[i]
		violations = append(violations, result.ValidationErrors...)
		if result.Actions[check.Action] == pdp.EffectAllow {
			continue
		}
		if firstDenied == nil {
			firstDenied = check
		}
		if firstOutput == nil {
			if o, v, ok := denyingOutput(result.Outputs, check.Action); ok {
				d := denialFrom(o, v)
				firstOutput, policy = &d, o.Source
			}
		}
	}
	if policy == "" {
		switch {
		case firstDenied != nil:
			policy = resourcePolicyID(firstDenied.Kind)
		case len(checks) > 0:
			policy = resourcePolicyID(checks[0].Kind)
		}
	}
	switch {
	case firstOutput != nil:
		return *firstOutput, policy, true
	case len(violations) > 0:
		return denial(codeInvalidArguments, describeViolations(violations)), policy, true
	case firstDenied != nil:
		return denial(codeNoMatchingRule,
			fmt.Sprintf("denied by policy: no rule allows %s on %s", firstDenied.Action, firstDenied.Kind)), policy, true
	}
	return respond.Denial{}, policy, false
}

// versionOf is the policy set's version, the output of provenanceResource's rule; "" when the
// policies have none (a bundle older than policies/provenance).
func versionOf(r pdp.Result) string {
	for _, o := range r.Outputs {
		if v, ok := o.Value.(string); ok && o.Error == "" {
			return v
		}
	}
	return ""
}

// resourcePolicyID is the id Cerbos gives the default version of kind's resource policy in its
// outputs: "mcp:payments" is "resource.mcp_payments.vdefault".
func resourcePolicyID(kind string) string {
	return "resource." + strings.ReplaceAll(kind, ":", "_") + ".vdefault"
}

// denialFrom is the denial a deny rule's output object gives: {"decision": "deny", "reason",
// "code", "remediation"}.
func denialFrom(o pdp.Output, v map[string]any) respond.Denial {
	d := denial(codePolicyDenied, "denied by policy rule "+o.Source)
	if code, ok := v["code"].(string); ok && code != "" {
		d.Code = code
	}
	if reason, ok := v["reason"].(string); ok && reason != "" {
		d.Reason = reason
	}
	if rem, ok := v["remediation"].(map[string]any); ok {
		d.Remediation = rem
	}
	return d
}

// denyingOutput is the first output for action that is a denial object, with its value.
func denyingOutput(outputs []pdp.Output, action string) (pdp.Output, map[string]any, bool) {
	for _, o := range outputs {
		if o.Error != "" || (o.Action != "" && o.Action != action) {
			continue
		}
		if v, ok := o.Value.(map[string]any); ok && v["decision"] == respond.DecisionDeny {
			return o, v, true
		}
	}
	return pdp.Output{}, nil, false
}

func describeViolations(vs []pdp.ValidationError) string {
	parts := make([]string, 0, min(len(vs), maxValidationErrors))
	for i, v := range vs {
		if i == maxValidationErrors {
			parts = append(parts, fmt.Sprintf("and %d more", len(vs)-i))
			break
		}
		where := v.Path
		if where == "" {
			where = "/"
		}
		parts = append(parts, fmt.Sprintf("%s %s: %s", v.Source, where, v.Message))
	}
	return "invalid arguments: " + strings.Join(parts, "; ")
}

package authz

import (
	"fmt"
	"strings"

	"github.com/hopguard/hopguard/policies/provenance"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/respond"
)

// maxValidationErrors bounds how many schema violations a reason lists.
const maxValidationErrors = 5

// judge reads Cerbos's answer: allowed only if every check's action is an
// explicit allow and no schema was violated. Otherwise the denial is, in
// order: the output of the first deny rule that fired, the schema
// violations, or "no rule allows".
func judge(checks []mapping.Check, results []pdp.Result) (respond.Denial, bool) {
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
			firstOutput = denialFromOutputs(result.Outputs, check.Action)
		}
	}
	switch {
	case firstOutput != nil:
		return *firstOutput, true
	case len(violations) > 0:
		return denial(codeInvalidArguments, describeViolations(violations)), true
	case firstDenied != nil:
		return denial(codeNoMatchingRule,
			fmt.Sprintf("denied by policy: no rule allows %s on %s", firstDenied.Action, firstDenied.Kind)), true
	}
	return respond.Denial{}, false
}

// provenanceOf names the policy that decided and the policy set's version, from the output of
// the rule every resource policy starts with (policies/provenance): the first denied check's
// policy when the request was denied, the first check's otherwise. Outputs without it (a policy
// set older than provenance) leave it empty.
func provenanceOf(checks []mapping.Check, results []pdp.Result, denied bool) respond.Provenance {
	decisive := 0
	if denied {
		for i := range checks {
			if results[i].Actions[checks[i].Action] != pdp.EffectAllow {
				decisive = i
				break
			}
		}
	}
	if decisive >= len(results) {
		return respond.Provenance{}
	}
	for _, o := range results[decisive].Outputs {
		policy, rule, ok := strings.Cut(o.Source, "#")
		if !ok || rule != provenance.Rule || o.Error != "" {
			continue
		}
		version, _ := o.Value.(string)
		return respond.Provenance{Policy: policy, Version: version}
	}
	return respond.Provenance{}
}

// denialFromOutputs returns the first rule output for action that is a
// denial object: {"decision": "deny", "reason", "code", "remediation"}.
func denialFromOutputs(outputs []pdp.Output, action string) *respond.Denial {
	for _, o := range outputs {
		if o.Error != "" || (o.Action != "" && o.Action != action) {
			continue
		}
		v, ok := o.Value.(map[string]any)
		if !ok || v["decision"] != respond.DecisionDeny {
			continue
		}
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
		return &d
	}
	return nil
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

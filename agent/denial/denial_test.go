package denial_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/denial"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    denial.Denial
		wantErr bool
	}{
		{
			name: "refund cap with step-up remediation",
			raw: `{"decision":"deny","reason":"tier-1-support refund cap exceeded","code":"refund_cap_exceeded",
				"remediation":{"type":"step_up","approvers_role":"tier-2-lead"}}`,
			want: denial.Denial{
				Reason:      "tier-1-support refund cap exceeded",
				Code:        "refund_cap_exceeded",
				Remediation: map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"},
			},
		},
		{
			name: "no remediation",
			raw:  `{"decision":"deny","reason":"payroll requires payroll-admin","code":"server_not_allowed"}`,
			want: denial.Denial{Reason: "payroll requires payroll-admin", Code: "server_not_allowed"},
		},
		{
			name: "decision id inside the output",
			raw:  `{"decision":"DENY","reason":"r","code":"c","decision_id":"d-1"}`,
			want: denial.Denial{Reason: "r", Code: "c", DecisionID: "d-1"},
		},
		{
			name: "remediation that is not an object is dropped, the denial kept",
			raw:  `{"decision":"deny","reason":"r","code":"c","remediation":"ask someone"}`,
			want: denial.Denial{Reason: "r", Code: "c"},
		},
		{
			name: "missing reason gets a placeholder",
			raw:  `{"decision":"deny","code":"no_matching_rule"}`,
			want: denial.Denial{Reason: "denied by policy (no reason given)", Code: "no_matching_rule"},
		},
		{name: "allow is not a denial", raw: `{"decision":"allow","reason":"fine"}`, wantErr: true},
		{name: "no decision", raw: `{"reason":"fine"}`, wantErr: true},
		{name: "not JSON", raw: `denied: nope`, wantErr: true},
		{name: "array", raw: `[1,2]`, wantErr: true},
		{name: "empty", raw: ``, wantErr: true},
		{name: "null", raw: `null`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := denial.Parse([]byte(tt.raw))
			if tt.wantErr {
				require.ErrorIs(t, err, denial.ErrNotDenial)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseRejectsHugeOutput(t *testing.T) {
	huge := fmt.Sprintf(`{"decision":"deny","reason":%q}`, make([]byte, 70<<10))
	_, err := denial.Parse([]byte(huge))
	require.ErrorIs(t, err, denial.ErrNotDenial)
}

func TestParseValue(t *testing.T) {
	got, err := denial.ParseValue(map[string]any{"decision": "deny", "reason": "r", "code": "c"})
	require.NoError(t, err)
	assert.Equal(t, denial.Denial{Reason: "r", Code: "c"}, got)

	_, err = denial.ParseValue(nil)
	require.ErrorIs(t, err, denial.ErrNotDenial)
}

func TestString(t *testing.T) {
	tests := []struct {
		name string
		in   denial.Denial
		want string
	}{
		{
			name: "code, reason and remediation",
			in: denial.Denial{
				Reason: "tier-1-support refund cap exceeded", Code: "refund_cap_exceeded",
				Remediation: map[string]any{"type": "step_up", "approvers_role": "tier-2-lead"},
			},
			want: "refund_cap_exceeded: tier-1-support refund cap exceeded (remediation: step_up, approvers tier-2-lead)",
		},
		{name: "reason only", in: denial.Denial{Reason: "payroll requires payroll-admin"}, want: "payroll requires payroll-admin"},
		{
			name: "remediation fields other than type in name order",
			in: denial.Denial{Reason: "r", Remediation: map[string]any{
				"type": "use_model", "model": "gpt-4o-mini", "allowed": []any{"a", "b"},
			}},
			want: `r (remediation: use_model, allowed ["a","b"], model gpt-4o-mini)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.in.String())
		})
	}
}

func TestFrom(t *testing.T) {
	d := denial.Denial{Reason: "r", Code: "c"}
	cause := errors.New("OpenAI API error: 403 Forbidden")
	err := fmt.Errorf("model call: %w", &denial.Error{Denial: d, Err: cause})

	got, ok := denial.From(err)
	require.True(t, ok)
	assert.Equal(t, d, got)
	assert.ErrorIs(t, err, cause)
	assert.Contains(t, err.Error(), "denied: c: r")

	_, ok = denial.From(cause)
	assert.False(t, ok)
}

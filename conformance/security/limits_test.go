package security_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/conformance/security/decisionlog"
	"github.com/hopguard/hopguard/conformance/security/summary"
)

// complexArguments are issue 16's two bodies: an otherwise allowed get_charge whose arguments
// are a 500,000-element array (1 MB) or an 80,000-key object (0.9 MB), each within the
// gateways' 1 MiB body limit. Mapped whole they took hundreds of milliseconds and expanded past
// the 4 MiB Cerbos accepts, which read as pdp_unavailable (503).
func complexArguments() []struct{ name, args string } {
	var obj strings.Builder
	obj.WriteString(`{"charge_id":"ch_1001"`)
	for i := range 80_000 {
		fmt.Fprintf(&obj, `,"k%d":0`, i)
	}
	obj.WriteString("}")
	return []struct{ name, args string }{
		{"500000-element array", `{"charge_id":"ch_1001","x":[` + strings.TrimSuffix(strings.Repeat("0,", 500_000), ",") + `]}`},
		{"80000-key object", obj.String()},
	}
}

// maxRefusalMS bounds synapse's time on a request too complex to check: its limits stop
// reading the body as soon as one is passed.
const maxRefusalMS = 50

// TestLimitsRefuseRequestsTooComplexToCheck sends both bodies through every gateway. Each must be
// refused by synapse as request_too_complex with a 4xx, within maxRefusalMS at synapse, without
// asking Cerbos (no cerbos_call_id in its record).
func TestLimitsRefuseRequestsTooComplexToCheck(t *testing.T) {
	h := requireEnv(t)
	for _, g := range h.Gateways {
		t.Run(g.Name(), func(t *testing.T) {
			ctx := t.Context()
			tg := target(t, g.Name())
			_, token, err := newTask(ctx, tg.Gateway, "limits", "T-1001")
			require.NoError(t, err)
			tok, err := token(bypass.Alice, "mcp:payments")
			require.NoError(t, err)
			from, err := decisionlog.Size(h.AuditLogPath())
			require.NoError(t, err)
			f := summary.Fault{Name: "a request too complex to check (issue 16)", Gateway: g.Name(), Pass: true}
			var details []string
			for _, c := range complexArguments() {
				body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_charge","arguments":` + c.args + `}}`
				req := mcpPost("payments", tok, []byte(body))
				f.Probes++
				o := send(ctx, tg.Addr, prepared{Probe: bypass.Probe{Name: c.name}, req: req})
				require.NoError(t, o.err, c.name)
				v := o.verdict
				t.Logf("%s, %d bytes: %s", c.name, len(body), o)
				ok := assert.True(t, v.Denied, "%s: denied", c.name) &&
					assert.Equal(t, bypass.LayerSynapse, v.Layer, "%s: by synapse", c.name) &&
					assert.Equal(t, "request_too_complex", v.Code, c.name) &&
					assert.True(t, v.Status >= 400 && v.Status < 500, "%s: a 4xx, got %d", c.name, v.Status)
				if !ok {
					f.Pass = false
					details = append(details, o.String())
					continue
				}
				rec, err := awaitRecord(ctx, h.AuditLogPath(), from, v.DecisionID)
				require.NoError(t, err)
				assert.Equal(t, "request", rec.Failure, c.name)
				assert.Empty(t, rec.CerbosCallID, "%s: Cerbos was not asked", c.name)
				assert.Less(t, rec.LatencyMS, float64(maxRefusalMS), "%s: refused fast at synapse", c.name)
				details = append(details, fmt.Sprintf("%s: %d %s in %.2f ms at synapse, Cerbos not asked", c.name, v.Status, v.Code, rec.LatencyMS))
			}
			f.Pass = f.Pass && !t.Failed()
			f.InWindow = f.Probes
			f.Detail = strings.Join(details, "; ")
			suite.recorder.Fault(f)
		})
	}
}

package security_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/conformance/security/decisionlog"
	"github.com/hopguard/hopguard/conformance/security/summary"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/synapse/audit"
)

// TestClientCancelledMidCheck closes the client's connection while its check is in flight,
// behind every gateway. Cerbos is held still for the moment, so that the check is surely in
// flight when the client leaves, and let go before synapse's Cerbos timeout. A client that
// leaves must never read as an outage: every gateway here cancels its ext_authz call when its
// client goes, and the record says client_cancelled, never pdp_unavailable, and synapse logs no
// error.
func TestClientCancelledMidCheck(t *testing.T) {
	h := requireEnv(t)
	f, err := cerbosFreezer(h)
	require.NoError(t, err)
	for _, g := range h.Gateways {
		t.Run(g.Name(), func(t *testing.T) {
			ctx := t.Context()
			tg := target(t, g.Name())
			task, token, err := newTask(ctx, tg.Gateway, "cancel", "T-1001")
			require.NoError(t, err)
			tok, err := token(bypass.Alice, "mcp:payments")
			require.NoError(t, err)
			req := mcpPost("payments", tok, []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"refund_issue","arguments":{"ticket_id":"T-1001","amount_cents":4000,"reason":"a client that leaves"}}}`))
			auditFrom, err := decisionlog.Size(h.AuditLogPath())
			require.NoError(t, err)
			synapseLog := filepath.Join(h.LogsDir(), stack.Synapse+".log")
			logFrom, err := decisionlog.Size(synapseLog)
			require.NoError(t, err)

			require.NoError(t, f.freeze(ctx))
			thawed := false
			t.Cleanup(func() {
				if !thawed {
					_ = f.thaw(t.Context())
				}
			})
			conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", tg.Addr)
			require.NoError(t, err)
			_, err = conn.Write(req.Bytes(tg.Addr))
			require.NoError(t, err)
			// The check is waiting on Cerbos by then (it gets there in a millisecond or two), well
			// before synapse's Cerbos timeout (500 ms in conformance/stack).
			time.Sleep(150 * time.Millisecond)
			require.NoError(t, conn.Close())
			time.Sleep(100 * time.Millisecond) // the gateway notices, and may cancel its call
			require.NoError(t, f.thaw(ctx))
			thawed = true

			var rec audit.Record
			require.NoError(t, waitFor(ctx, logWait, func() bool {
				recs, _, err := decisionlog.Synapse(h.AuditLogPath(), auditFrom)
				for _, r := range recs {
					if err == nil && r.Task == task {
						rec = r
						return true
					}
				}
				return false
			}), "synapse recorded the check of task %s", task)
			t.Logf("%s: the client left mid-check; synapse recorded %s %s (failure %q)", g.Name(), rec.Effect, rec.Code, rec.Failure)
			assert.NotEqual(t, "pdp_unavailable", rec.Code, "a client that leaves is not an outage")
			// Envoy, Istio and agentgateway each cancel their ext_authz call when the client goes.
			assert.Equal(t, "client_cancelled", rec.Failure, "the gateway cancelled the check and synapse says whose doing it was")

			b, err := os.ReadFile(synapseLog)
			require.NoError(t, err)
			if int64(len(b)) > logFrom {
				b = b[logFrom:]
			}
			assert.NotContains(t, string(b), `"level":"ERROR"`, "synapse logs no error for a client that leaves")
			assert.False(t, bytes.Contains(b, []byte("cerbos gave no decision")), "synapse reports no Cerbos failure")
			suite.recorder.Fault(summary.Fault{Name: "a client leaves mid-check", Gateway: g.Name(), Probes: 1, InWindow: 1,
				Pass: !t.Failed(), Detail: "synapse recorded " + rec.Effect + " " + rec.Code + " (failure " + rec.Failure + "); no pdp_unavailable, no error logged"})
		})
	}
}

package security_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/security/decisionlog"
	"github.com/hopguard/hopguard/conformance/security/summary"
	"github.com/hopguard/hopguard/synapse/audit"
)

// Audit load: N requests, at most auditConcurrency at a time.
const (
	auditRequests    = 200
	auditConcurrency = 8
	// logWait bounds the wait for the logs to hold every decision.
	logWait = 30 * time.Second
)

// TestAuditCompleteness sends N requests through each gateway, allowed and denied, some
// refused before Cerbos is asked, and checks that no decision is lost: N responses with N
// distinct decision ids, N new synapse records with those ids and the same effects, and one
// Cerbos decision-log entry for each decision that asked Cerbos, carrying its decision id; a
// decision answered from synapse's decision cache makes no call and names one that did.
func TestAuditCompleteness(t *testing.T) {
	h := requireEnv(t)
	for _, g := range h.Gateways {
		t.Run(g.Name(), func(t *testing.T) {
			ctx := t.Context()
			tg := target(t, g.Name())
			probes := prepare(ctx, t, tg)
			synapseFrom, err := decisionlog.Size(h.AuditLogPath())
			require.NoError(t, err)
			cerbosFrom, err := decisionlog.Size(h.CerbosDecisionLogPath())
			require.NoError(t, err)

			obs := sendN(ctx, tg.Addr, probes, auditRequests, auditConcurrency)
			a := summary.Audit{Gateway: g.Name(), Requests: len(obs)}
			ids := map[string]observation{}
			for _, o := range obs {
				require.NoError(t, o.err, "%s", o)
				require.NotEmpty(t, o.verdict.DecisionID, "every request reaches synapse, so every response carries its decision id: %s", o)
				require.NotContains(t, ids, o.verdict.DecisionID, "decision ids are unique")
				ids[o.verdict.DecisionID] = o
				assert.Equal(t, o.probe.Allowed, o.allowed(), "%s", o)
				if o.allowed() {
					a.Allowed++
				} else {
					a.Denied++
				}
			}

			var records []audit.Record
			require.NoError(t, waitFor(ctx, logWait, func() bool {
				records, _, err = decisionlog.Synapse(h.AuditLogPath(), synapseFrom)
				return err == nil && len(records) >= auditRequests
			}), "synapse's log holds %d of %d decisions (%v)", len(records), auditRequests, err)

			var problems []string
			callIDs := map[string]string{} // decision id -> Cerbos call id, from synapse's records
			seen := map[string]int{}
			for _, r := range records {
				seen[r.DecisionID]++
				o, ok := ids[r.DecisionID]
				switch {
				case !ok:
					problems = append(problems, "a synapse record for no request of the run: "+r.DecisionID)
				case (r.Effect == audit.EffectAllow) != o.allowed():
					problems = append(problems, fmt.Sprintf("record %s says %s, the client saw %s", r.DecisionID, r.Effect, o))
				case (r.CerbosCallID != "" || r.Cached) != o.probe.ReachesCerbos:
					problems = append(problems, fmt.Sprintf("record %s has Cerbos call id %q (cached: %t) for %s", r.DecisionID, r.CerbosCallID, r.Cached, o.probe.Name))
				case r.Cached && (r.CerbosCallID != "" || r.CachedFrom == ""):
					problems = append(problems, fmt.Sprintf("cached record %s names Cerbos call %q and reuses decision %q", r.DecisionID, r.CerbosCallID, r.CachedFrom))
				default:
					a.Matched++
				}
				if r.CerbosCallID != "" {
					callIDs[r.DecisionID] = r.CerbosCallID
				}
			}
			// A decision synapse answered from its cache (synapse/authz, cache.go) reuses one that
			// asked Cerbos: of this run, or earlier in the log within the cache's TTL.
			asked, err := askedCerbos(h.AuditLogPath())
			require.NoError(t, err)
			for _, r := range records {
				if r.Cached && !asked[r.CachedFrom] {
					problems = append(problems, fmt.Sprintf("cached record %s reuses decision %s, which has no Cerbos call", r.DecisionID, r.CachedFrom))
				}
			}
			a.CerbosExpected = len(callIDs)
			var entries []decisionlog.CerbosEntry
			require.NoError(t, waitFor(ctx, logWait, func() bool {
				entries, _, err = decisionlog.Cerbos(h.CerbosDecisionLogPath(), cerbosFrom)
				return err == nil && len(entries) >= a.CerbosExpected
			}), "Cerbos's log holds %d of %d decisions (%v)", len(entries), a.CerbosExpected, err)
			a.SynapseRecords, a.CerbosEntries = len(records), len(entries)

			for id, n := range seen {
				if n > 1 {
					problems = append(problems, fmt.Sprintf("decision %s has %d records", id, n))
					a.Matched -= n - 1
				}
			}
			for _, e := range entries {
				if len(e.DecisionIDs) != 1 {
					problems = append(problems, fmt.Sprintf("Cerbos call %s carries decision ids %v", e.CallID, e.DecisionIDs))
					continue
				}
				id := e.DecisionIDs[0]
				if callIDs[id] != e.CallID {
					problems = append(problems, fmt.Sprintf("Cerbos call %s carries decision %s, whose synapse record names call %q", e.CallID, id, callIDs[id]))
					continue
				}
				for _, rid := range e.RequestIDs {
					if rid != id {
						problems = append(problems, fmt.Sprintf("Cerbos call %s: request id %s is not decision %s", e.CallID, rid, id))
					}
				}
				delete(callIDs, id) // each decision once
				a.CerbosMatched++
			}
			a.Pass = a.Requests == auditRequests && a.SynapseRecords == auditRequests && a.Matched == auditRequests &&
				a.CerbosEntries == a.CerbosExpected && a.CerbosMatched == a.CerbosExpected && len(problems) == 0
			a.Detail = strings.Join(problems, "; ")
			suite.recorder.Audit(a)

			assert.Equal(t, auditRequests, a.SynapseRecords, "N requests, N synapse records")
			assert.Equal(t, auditRequests, a.Matched, "every record matches its response")
			assert.Equal(t, a.CerbosExpected, a.CerbosEntries, "one Cerbos entry per decision that asked Cerbos")
			assert.Equal(t, a.CerbosExpected, a.CerbosMatched, "every Cerbos entry carries its decision id")
			assert.Empty(t, problems)
			assert.Positive(t, a.Allowed)
			assert.Positive(t, a.Denied)
		})
	}
}

// sendN sends n requests, the probes round-robin, at most concurrency at a time.
func sendN(ctx context.Context, addr string, probes []prepared, n, concurrency int) []observation {
	out := make([]observation, n)
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = send(ctx, addr, probes[i%len(probes)])
		}()
	}
	wg.Wait()
	return out
}

// askedCerbos is the set of decisions in synapse's whole audit log that made a Cerbos call.
func askedCerbos(path string) (map[string]bool, error) {
	records, _, err := decisionlog.Synapse(path, 0)
	if err != nil {
		return nil, err
	}
	asked := map[string]bool{}
	for _, r := range records {
		if r.CerbosCallID != "" {
			asked[r.DecisionID] = true
		}
	}
	return asked, nil
}

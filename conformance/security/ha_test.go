package security_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/conformance/security/decisionlog"
	"github.com/hopguard/hopguard/conformance/security/summary"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// haReplicas is how many synapse replicas the HA environment runs.
const haReplicas = 2

// hopsPerCheck is how many hops the HA scenario sends at a time: enough for a gateway that
// balances round robin to reach every replica more than once.
const hopsPerCheck = 3 * haReplicas

// balancesReplicas are the gateways that spread their checks over every synapse replica. The
// others send every check to one (gateways.Profile notes say which and why), and losing that
// replica fails every hop closed.
var balancesReplicas = map[string]bool{"envoy": true, "istio": true}

// TestHighAvailability runs synapse as replicas sharing one task registry in PostgreSQL, in an
// environment of its own beside the suite's, and behind every gateway: a task revoked through
// one replica is denied through the others at the next hop; a replica killed under traffic
// costs no wrong allow and no unanswered request; PostgreSQL stopped under traffic fails every
// task-bound check closed, recovers by itself, and loses no revocation.
func TestHighAvailability(t *testing.T) {
	requireEnv(t)
	record := func(f summary.Fault) {
		suite.recorder.Fault(f)
		if !f.Pass {
			t.Errorf("%s behind %s: %s", f.Name, f.Gateway, f.Detail)
		}
	}
	if os.Getenv(gateways.ExternalEnv) != "" {
		t.Skipf("%s: the environment of make up runs one synapse replica", gateways.ExternalEnv)
	}
	h, creds := startHA(t)
	for _, g := range h.Gateways {
		t.Run(g.Name(), func(t *testing.T) {
			tg, err := haTarget(h, creds, g.Name())
			if err != nil {
				t.Fatal(err)
			}
			probes := prepare(t.Context(), t, tg)
			record(revokedThroughOneReplica(t, h, tg))
			record(responsePathAcrossReplicas(t, tg))
			record(runReplicaKilled(t, h, tg, probes))
			record(runPostgresRestarted(t, h, tg, probes))
		})
	}
	for name, why := range h.NotRun {
		if _, ran := suite.env.NotRun[name]; !ran {
			record(summary.Fault{Name: "HA environment", Gateway: name, Detail: "runs in the suite's environment but did not start in the HA one: " + why.Error()})
		}
	}
}

// startHA brings up the HA environment, on the suite's runtime and network, with hopguard's
// commands from the suite's own build directory.
func startHA(t *testing.T) (*harness.Env, *bypass.Credentials) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s := suite.started
	home := filepath.Join(s.ReportDir, "security-ha")
	h, err := harness.Up(ctx, harness.Options{
		OutDir: home, BinDir: filepath.Join(s.ReportDir, "security", "bin"),
		Gateways:   gateways.All(s.RuntimeName, s.Network),
		NewRuntime: harness.RuntimeByName(s.RuntimeName), Observe: progress,
		SynapseReplicas: haReplicas,
	})
	if err != nil {
		t.Fatalf("the HA environment (%d synapse replicas on PostgreSQL) did not start (run `make tools` if a binary is missing): %v", haReplicas, err)
	}
	t.Cleanup(func() {
		if err := h.Close(context.Background()); err != nil {
			t.Errorf("stop the HA environment: %v", err)
		}
	})
	sts, err := h.STSURL()
	if err != nil {
		t.Fatal(err)
	}
	expired, err := h.ExpiredSTSURL()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := h.Admin()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := bypass.NewCredentials(ctx, bypass.CredentialsConfig{
		STSURL: sts, ExpiredSTSURL: expired, Admin: admin, SigningKeyPEM: h.Secrets.SigningKeyPEM, RunID: suite.runID + "-ha",
	})
	if err != nil {
		t.Fatalf("credentials in the HA environment: %v", err)
	}
	return h, creds
}

// haTarget is one gateway of the HA environment as the drills see it.
func haTarget(h *harness.Env, creds *bypass.Credentials, gateway string) (bypass.Target, error) {
	u, err := h.GatewayURL(gateway)
	if err != nil {
		return bypass.Target{}, err
	}
	journals, err := h.JournalsByResource()
	if err != nil {
		return bypass.Target{}, err
	}
	var logs []string
	for _, r := range h.SynapseReplicas() {
		logs = append(logs, h.AuditLogPathOf(r))
	}
	return bypass.Target{Gateway: gateway, Addr: strings.TrimPrefix(u, "http://"), Journals: journals, AuditLogs: logs,
		Creds: creds, MarksOwnRefusals: marksOwnRefusals[gateway]}, nil
}

// revokedThroughOneReplica is the HA scenario: a task's hops are allowed; it is revoked through
// the last replica's task API; every hop after that is denied task_not_active, and among them
// are hops another replica decided, which only the shared registry can have told.
func revokedThroughOneReplica(t *testing.T, h *harness.Env, tg bypass.Target) summary.Fault {
	ctx := t.Context()
	replicas := h.SynapseReplicas()
	through := replicas[len(replicas)-1]
	f := summary.Fault{Name: fmt.Sprintf("task revoked through %s, next hops through any replica", through), Gateway: tg.Gateway}
	fail := func(format string, args ...any) summary.Fault {
		f.Detail = fmt.Sprintf(format, args...)
		return f
	}
	id, token, err := newTaskIn(ctx, h, bypass.Alice, tg.Gateway, "ha-revoke", "T-2001")
	if err != nil {
		return fail("%v", err)
	}
	tok, err := token(bypass.Alice, "llm")
	if err != nil {
		return fail("%v", err)
	}
	hop := prepared{Probe: bypass.Probe{Name: "alice asks gpt-4o-mini on task " + id, Allowed: true},
		req: aliceChat(tok)}
	for range hopsPerCheck {
		f.Probes++
		if o := send(ctx, tg.Addr, hop); !o.allowed() {
			return fail("before the revocation, the task's hop is not allowed: %s", o)
		}
	}
	before, err := decidersOf(h, id, "allow")
	if err != nil {
		return fail("%v", err)
	}
	admin, err := h.AdminOf(through)
	if err != nil {
		return fail("%v", err)
	}
	if _, err := admin.Revoke(ctx, id); err != nil {
		return fail("revoke %s through %s: %v", id, through, err)
	}
	var problems []string
	for range hopsPerCheck {
		f.Probes++
		if o := send(ctx, tg.Addr, hop); o.verdict.Layer != bypass.LayerSynapse || o.verdict.Code != "task_not_active" {
			problems = append(problems, "after the revocation, want synapse's task_not_active: "+o.String())
		}
	}
	after, err := decidersOf(h, id, "deny")
	if err != nil {
		return fail("%v", err)
	}
	others := slices.DeleteFunc(slices.Collect(maps.Keys(after)), func(r string) bool { return r == through })
	if len(others) == 0 {
		problems = append(problems, fmt.Sprintf("no replica but %s decided a hop after the revocation (deciders: %v)", through, after))
	}
	if balancesReplicas[tg.Gateway] && (len(before) < len(replicas) || len(after) < len(replicas)) {
		problems = append(problems, fmt.Sprintf("the gateway did not spread the hops over every replica: allowed by %v, denied by %v", before, after))
	}
	if len(problems) > 0 {
		return fail("%s", summarize(problems))
	}
	f.Pass = true
	f.Detail = fmt.Sprintf("%d hops allowed (decided by %s); revoked through %s; the next %d hops denied task_not_active (decided by %s)",
		hopsPerCheck, describeDeciders(before), through, hopsPerCheck, describeDeciders(after))
	return f
}

// responsePathCategory is the corpus's category of attacks on the response path.
const responsePathCategory = "response path (visibility)"

// responsePathAcrossReplicas runs the corpus's controls and its response-path cases twice
// through the gateway: a gateway balances a list's check and the processing of its answer
// independently, so with two replicas one often decides and the other filters. Each list must
// still be filtered to what the caller may use, neither withheld nor shown whole.
func responsePathAcrossReplicas(t *testing.T, tg bypass.Target) summary.Fault {
	f := summary.Fault{Name: "lists filtered across replicas (the corpus's controls and response-path cases, twice)", Gateway: tg.Gateway}
	cases := bypass.Controls()
	for _, c := range bypass.Corpus() {
		if c.Category == responsePathCategory {
			cases = append(cases, c)
		}
	}
	var problems []string
	passed, skipped := 0, 0
	for range 2 {
		for _, c := range cases {
			f.Probes++
			res := bypass.Run(t.Context(), tg, c)
			switch {
			case res.Skipped != "":
				skipped++
			case !res.Pass:
				problems = append(problems, c.ID+": "+res.Problem)
			default:
				passed++
			}
		}
	}
	if len(problems) > 0 {
		f.Detail = summarize(problems)
		return f
	}
	f.Pass = passed > 0
	f.Detail = fmt.Sprintf("%d cases passed, %d not applicable behind this gateway", passed, skipped)
	return f
}

// decidersOf counts, per replica, the decisions of effect its audit holds for task id.
func decidersOf(h *harness.Env, id, effect string) (map[string]int, error) {
	out := map[string]int{}
	for _, r := range h.SynapseReplicas() {
		records, _, err := decisionlog.Synapse(h.AuditLogPathOf(r), 0)
		if err != nil {
			return nil, fmt.Errorf("the audit of %s: %w", r, err)
		}
		for _, rec := range records {
			if rec.Task == id && rec.Effect == effect {
				out[r]++
			}
		}
	}
	return out, nil
}

func describeDeciders(d map[string]int) string {
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, fmt.Sprintf("%s %d", r, d[r]))
	}
	return strings.Join(parts, ", ")
}

// runReplicaKilled kills one replica under traffic and restarts it. Behind a gateway that
// balances, the replica killed is the last, and the others must go on deciding: allowed probes
// are allowed again while it is down. Behind one that does not, it is the replica the gateway
// uses, and every hop must fail closed until it is back. Either way nothing forbidden is
// allowed and every request is answered; the answers are counted.
func runReplicaKilled(t *testing.T, h *harness.Env, tg bypass.Target, probes []prepared) summary.Fault {
	replicas := h.SynapseReplicas()
	victim, balanced := replicas[len(replicas)-1], balancesReplicas[tg.Gateway]
	if !balanced {
		victim = stack.Synapse
	}
	var decided, failedClosed, allowed int
	d := drill{
		name:    "synapse replica " + victim + " killed under traffic, then restarted",
		inject:  func(ctx context.Context) error { return h.Runtime.Stop(ctx, victim) },
		heal:    func(ctx context.Context) error { return h.Runtime.Restart(ctx, victim) },
		allDeny: !balanced,
		check: func(o observation) error {
			switch {
			case o.allowed():
				allowed++
			case gatewayFailsClosed(tg.Gateway)(o) == nil:
				failedClosed++
			case o.verdict.Layer == bypass.LayerSynapse && balanced:
				decided++
			default:
				return fmt.Errorf("neither decided by a surviving replica nor failed closed by the gateway: %s", o)
			}
			return nil
		},
	}
	if balanced {
		d.proof = func(o observation) bool { return o.probe.Allowed && o.allowed() }
		d.proofName = "an allowed request allowed by a surviving replica"
	} else {
		d.proof = func(o observation) bool { return gatewayFailsClosed(tg.Gateway)(o) == nil }
		d.proofName = "the gateway's own fail-closed reply"
	}
	f := runDrill(t, tg, probes, d)
	if f.Pass {
		f.Detail = fmt.Sprintf("%d requests made entirely while %s was down, every one answered: %d allowed as they should be, %d denied by a surviving replica, %d failed closed by the gateway; recovered by itself",
			f.InWindow, victim, allowed, decided, failedClosed)
	}
	return f
}

// runPostgresRestarted stops PostgreSQL under traffic and starts it again. A task revoked
// before the stop stays revoked after it, through every replica; while PostgreSQL is down, a
// check that needs the registry is denied task_registry_unavailable (or the gateway fails it
// closed, should the check outlast its timeout), and a revocation is refused, not acknowledged.
func runPostgresRestarted(t *testing.T, h *harness.Env, tg bypass.Target, probes []prepared) summary.Fault {
	ctx := t.Context()
	name := "PostgreSQL (the task registry) stopped under traffic, then restarted"
	fail := func(format string, args ...any) summary.Fault {
		return summary.Fault{Name: name, Gateway: tg.Gateway, Detail: fmt.Sprintf(format, args...)}
	}
	revoked, token, err := newTaskIn(ctx, h, bypass.Alice, tg.Gateway, "ha-pg", "T-2001")
	if err != nil {
		return fail("%v", err)
	}
	tok, err := token(bypass.Alice, "llm")
	if err != nil {
		return fail("%v", err)
	}
	hop := prepared{Probe: bypass.Probe{Name: "alice asks gpt-4o-mini on revoked task " + revoked},
		req: aliceChat(tok)}
	replicas := h.SynapseReplicas()
	taskAPI, err := h.AdminOf(replicas[len(replicas)-1])
	if err != nil {
		return fail("%v", err)
	}
	if _, err := taskAPI.Revoke(ctx, revoked); err != nil {
		return fail("revoke %s: %v", revoked, err)
	}
	var refusedRevoke error
	unavailable := 0
	d := drill{
		name: name,
		inject: func(ctx context.Context) error {
			if err := h.Runtime.Stop(ctx, stack.Postgres); err != nil {
				return err
			}
			// A revocation while the registry is away must fail loudly: acknowledged, it would
			// be a kill switch that did nothing.
			_, refusedRevoke = taskAPI.Revoke(ctx, revoked)
			return nil
		},
		heal:    func(ctx context.Context) error { return h.Runtime.Restart(ctx, stack.Postgres) },
		allDeny: true,
		check: func(o observation) error {
			switch {
			case o.allowed():
				return fmt.Errorf("allowed with the task registry down: %s", o)
			case !o.probe.ReachesCerbos, gatewayFailsClosed(tg.Gateway)(o) == nil:
				return nil
			case isRegistryUnavailable(o):
				unavailable++
				return nil
			}
			return fmt.Errorf("want synapse's fail-closed task_registry_unavailable (status %d): %s", failClosedStatus(o, ""), o)
		},
		proof:     isRegistryUnavailable,
		proofName: "synapse's fail-closed task_registry_unavailable",
	}
	f := runDrill(t, tg, probes, d)
	var problems []string
	var apiErr *admin.APIError
	switch {
	case refusedRevoke == nil:
		problems = append(problems, "a revocation was acknowledged while PostgreSQL was down")
	case !errors.As(refusedRevoke, &apiErr) || apiErr.Status != http.StatusServiceUnavailable:
		problems = append(problems, fmt.Sprintf("a revocation while PostgreSQL was down: want the task API's 503, got %v", refusedRevoke))
	}
	for range hopsPerCheck {
		f.Probes++
		if o := send(ctx, tg.Addr, hop); o.verdict.Layer != bypass.LayerSynapse || o.verdict.Code != "task_not_active" {
			problems = append(problems, "REVOCATION LOST: after the restart, want task_not_active: "+o.String())
		}
	}
	task, err := taskAPI.Get(ctx, revoked)
	if err != nil || task.Status != tasks.StatusRevoked {
		problems = append(problems, fmt.Sprintf("the registry has task %s as %q after the restart (%v)", revoked, task.Status, err))
	}
	if len(problems) > 0 {
		f.Pass = false
		f.Detail = strings.TrimPrefix(f.Detail+"; "+summarize(problems), "; ")
		return f
	}
	if f.Pass {
		f.Detail = fmt.Sprintf("%d requests made entirely while PostgreSQL was down, none allowed (%d denied task_registry_unavailable, the rest refused before the registry is asked or failed closed by the gateway); a revocation was refused meanwhile (%s); recovered by itself; the task revoked before the stop was denied task_not_active %d times after it",
			f.InWindow, unavailable, refusedRevoke, hopsPerCheck)
	}
	return f
}

func isRegistryUnavailable(o observation) bool {
	v := o.verdict
	return o.probe.ReachesCerbos && v.Layer == bypass.LayerSynapse && v.Code == "task_registry_unavailable" && v.Status == failClosedStatus(o, "")
}

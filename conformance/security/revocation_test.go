package security_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/conformance/security/summary"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// revocationAcrossRestart revokes a task, restarts synapse, and checks that the task's next
// hop is still denied (the registry is on disk, not in memory), while another principal's
// hop is allowed again (synapse is deciding, not failing closed).
func revocationAcrossRestart(t *testing.T, tg bypass.Target, probes []prepared) summary.Fault {
	ctx := t.Context()
	h := suite.env
	f := summary.Fault{Name: "task revoked, then synapse restarted", Gateway: tg.Gateway, Pass: true}
	fail := func(format string, args ...any) summary.Fault {
		f.Pass, f.Detail = false, fmt.Sprintf(format, args...)
		return f
	}
	id, token, err := newTask(ctx, tg.Gateway, "revoke", "T-2001")
	if err != nil {
		return fail("%v", err)
	}
	admin, err := h.Admin()
	if err != nil {
		return fail("%v", err)
	}
	tok, err := token(bypass.Alice, "llm")
	if err != nil {
		return fail("token for task %s: %v", id, err)
	}
	revoked := prepared{Probe: bypass.Probe{Name: "alice asks gpt-4o-mini on task " + id, Allowed: true},
		req: aliceChat(tok)}
	control := probes[0] // Alice's gpt-4o-mini on her corpus task, never revoked
	if !strings.Contains(control.Name, "gpt-4o-mini") || !control.Allowed {
		return fail("the first probe is %q, not the allowed model call this drill uses as its control", control.Name)
	}

	if o := send(ctx, tg.Addr, revoked); !o.allowed() {
		return fail("before revoking, the task's hop is not allowed: %s", o)
	}
	if _, err := admin.Revoke(ctx, id); err != nil {
		return fail("revoke %s: %v", id, err)
	}
	if o := send(ctx, tg.Addr, revoked); o.verdict.Code != "task_not_active" {
		return fail("right after revoking, want task_not_active: %s", o)
	}
	if err := h.Runtime.Stop(ctx, stack.Synapse); err != nil {
		return fail("stop synapse: %v", err)
	}
	if err := h.Runtime.Restart(ctx, stack.Synapse); err != nil {
		return fail("restart synapse: %v", err)
	}

	// Until synapse decides again its hops are refused by the gateway; every answer it gives
	// must be a denial, and once Cerbos is reachable again the denial is the revocation.
	var last observation
	var problems []string
	err = waitFor(ctx, recoveryWait, func() bool {
		last = send(ctx, tg.Addr, revoked)
		f.Probes++
		if last.allowed() {
			problems = append(problems, "THE REVOKED TASK WAS ALLOWED AFTER THE RESTART: "+last.String())
		}
		return last.verdict.Layer == bypass.LayerSynapse && last.verdict.Code != "pdp_unavailable"
	})
	switch {
	case err != nil:
		problems = append(problems, "synapse did not decide the revoked task's hop after the restart: "+last.String())
	case last.verdict.Code != "task_not_active":
		problems = append(problems, "after the restart, want task_not_active: "+last.String())
	}
	if err := waitFor(ctx, recoveryWait, func() bool { return send(ctx, tg.Addr, control).allowed() }); err != nil {
		problems = append(problems, "the control hop of an active task is not allowed after the restart")
	}
	task, err := admin.Get(context.WithoutCancel(ctx), id)
	if err != nil || task.Status != tasks.StatusRevoked {
		problems = append(problems, fmt.Sprintf("the registry has task %s as %q (%v)", id, task.Status, err))
	}
	if len(problems) > 0 {
		return fail("%s", summarize(problems))
	}
	f.Detail = fmt.Sprintf("the revoked task's first decided hop after the restart was denied task_not_active; another task's hop was allowed (checked at %s)", time.Now().Format(time.TimeOnly))
	return f
}

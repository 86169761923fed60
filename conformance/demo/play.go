package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/narrate"
	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/conformance/evidence"
	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// Stage is where the acts are played: one gateway in a running environment.
type Stage struct {
	GatewayURL string
	STSURL     string
	Admin      *admin.Client
	// Journals of the mock upstreams by resource ("llm", "mcp:payments").
	Journals map[string]*journal.Client
	// RunID keeps task ids unique across runs.
	RunID string
}

// Played is what one act did.
type Played struct {
	Act     Act
	TaskID  string
	Result  loop.Result
	Tallies []evidence.Tally
	// Untouched are the servers the agent was denied at the handshake whose journals stayed
	// empty: their tool lists never left them.
	Untouched []string
	// Problems say where the act did not show what it is there to show.
	Problems []string
}

// Play runs one act, narrating every hop to out as it happens.
func (s Stage) Play(ctx context.Context, n int, act Act, out io.Writer) (Played, error) {
	p := Played{Act: act, TaskID: fmt.Sprintf("demo-%s-%d-%s-%s", s.RunID, n, act.As.Name, act.Ticket)}
	for resource, j := range s.Journals {
		if err := j.Reset(ctx); err != nil {
			return p, fmt.Errorf("reset the journal of %s: %w", resource, err)
		}
	}
	if _, err := s.Admin.Create(ctx, tasks.NewTask{ID: p.TaskID, Principal: act.As.Creds.ClientID, AgentID: act.As.AgentID, TicketID: act.Ticket}); err != nil {
		return p, fmt.Errorf("create the task: %w", err)
	}
	fmt.Fprintf(out, "    task %s: %s (%s) on %s\n", p.TaskID, act.As.Creds.ClientID, act.Roles, act.Ticket)

	cfg := loop.Config{
		GatewayURL:     s.GatewayURL,
		STSURL:         s.STSURL,
		Subject:        act.As.Creds,
		Attestation:    identity.Attestation{AgentID: act.As.AgentID, HarnessVersion: "demo", TaskID: p.TaskID},
		Ticket:         act.Ticket,
		Model:          act.Model,
		FallbackModel:  act.FallbackModel,
		RequestTimeout: 30 * time.Second,
		OnHop:          s.narrator(ctx, act, p.TaskID, out),
	}
	res, err := loop.Run(ctx, cfg)
	p.Result = res
	if err != nil && res.Outcome == loop.Failed {
		return p, fmt.Errorf("the agent run failed: %w", err)
	}
	narrate.NewText(indent{out}).Summary(res)

	entries := map[string][]journal.Entry{}
	for resource, j := range s.Journals {
		e, err := j.Entries(ctx)
		if err != nil {
			return p, fmt.Errorf("read the journal of %s: %w", resource, err)
		}
		entries[resource] = e
	}
	p.Tallies = evidence.Compare(res.Hops, entries)
	for _, t := range p.Tallies {
		if t.Leaked() {
			p.Problems = append(p.Problems, fmt.Sprintf("%s: %d allowed, %d denied, %d reached the upstream", t.Call, t.Allowed, t.Denied, t.Reached))
		}
	}
	for _, srv := range res.Servers {
		if srv.State != loop.ServerDenied {
			continue
		}
		if n := len(entries["mcp:"+srv.Name]); n > 0 {
			p.Problems = append(p.Problems, fmt.Sprintf("%s was denied at the handshake yet received %d requests", srv.Name, n))
			continue
		}
		p.Untouched = append(p.Untouched, srv.Name)
	}
	if act.Expect != nil {
		if err := act.Expect(res); err != nil {
			p.Problems = append(p.Problems, strings.Split(err.Error(), "\n")...)
		}
	}
	return p, nil
}

// narrator prints each hop as the agent makes it (token exchanges folded into one line) and,
// for the kill-switch act, revokes the task right after the first tool call goes through.
func (s Stage) narrator(ctx context.Context, act Act, taskID string, out io.Writer) func(trace.Hop) {
	var (
		mu      sync.Mutex
		tokens  []string
		revoked bool
	)
	w := indent{out}
	return func(h trace.Hop) {
		mu.Lock()
		defer mu.Unlock()
		if h.Plane == trace.PlaneSTS && h.Decision == trace.Allow {
			if h.Action == "token-exchange" {
				tokens = append(tokens, h.Target)
			}
			return
		}
		if len(tokens) > 0 {
			fmt.Fprintf(w, "[sts] bootstrap token exchanged for one token per resource: %s\n", strings.Join(tokens, ", "))
			tokens = nil
		}
		fmt.Fprintln(w, narrate.Line(h))
		if act.RevokeAfterFirstToolCall && !revoked && h.Plane == trace.PlaneMCP && h.Action == "tools/call" && h.Decision == trace.Allow {
			revoked = true
			if _, err := s.Admin.Revoke(ctx, taskID); err != nil {
				fmt.Fprintf(w, "!! could not revoke task %s: %v\n", taskID, err)
				return
			}
			fmt.Fprintf(w, ">> the operator revokes task %s (POST /v1/tasks/%s/revoke on synapse's admin API)\n", taskID, taskID)
		}
	}
}

// indent prefixes every line written through it, to set the narration under its act.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	text := strings.TrimSuffix(string(p), "\n")
	lines := strings.Split(text, "\n")
	for j := range lines {
		lines[j] = "    " + lines[j]
	}
	if _, err := io.WriteString(i.w, strings.Join(lines, "\n")+"\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}

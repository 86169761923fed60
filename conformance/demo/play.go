// Package demo plays the seed's story (scenarios.Story, the very scenario the conformance suite
// plays behind every gateway) through a running environment: the agent works real tickets
// through the gateway, every hop is narrated with its decision and reason as it is made, the
// mock upstreams' journals show that denied hops went nowhere, and the trail is written as a
// Mermaid sequence diagram.
package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/hopguard/hopguard/agent/narrate"
	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/mockservers/sts"
)

// Play plays the seed's story through env, narrating every act and hop to out as it happens.
// The run stops at the first act that fails, as every scenario does.
func Play(ctx context.Context, env scenarios.Env, out io.Writer) scenarios.Result {
	return scenarios.Execute(ctx, env, scenarios.Story(), Narrator(out))
}

// Narrator is the observer that tells a scenario as a story: each act's title and intro, each
// hop as the agent makes it (the token exchanges folded into one line), what the step logs
// (the task, the operator's revocation, the run's summary), then what the journals show and
// what went wrong.
func Narrator(out io.Writer) scenarios.Observer {
	n := &narrator{w: indent{out}, out: out}
	return scenarios.Observer{Step: n.step, Hop: n.hop, Log: n.log, Done: n.done}
}

type narrator struct {
	mu     sync.Mutex
	out    io.Writer
	w      io.Writer // out, indented under the act
	tokens []string  // token exchanges not yet told
}

func (n *narrator) step(i int, s scenarios.Step) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tokens = nil
	if s.Title == "" {
		fmt.Fprintf(n.out, "\n==> %d. %s\n", i, s.Name)
		return
	}
	fmt.Fprintf(n.out, "\n==> Act %d: %s\n", i, s.Title)
	if s.Intro != "" {
		fmt.Fprintln(n.w, s.Intro)
	}
	who := s.As.Creds.ClientID
	if roles := Roles(who); roles != "" {
		who += " (" + roles + ")"
	}
	fmt.Fprintf(n.w, "%s, agent %s, on %s\n", who, s.As.AgentID, s.Ticket)
}

func (n *narrator) hop(_ scenarios.Step, h trace.Hop) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if h.Plane == trace.PlaneSTS && h.Decision == trace.Allow {
		switch {
		case h.Action == "token-exchange":
			n.tokens = append(n.tokens, h.Target)
		case h.Note != "":
			fmt.Fprintf(n.w, "[sts] bootstrap as %s, %s\n", h.Target, h.Note)
		}
		return
	}
	n.flushTokens()
	fmt.Fprintln(n.w, narrate.Line(h))
}

func (n *narrator) flushTokens() {
	if len(n.tokens) > 0 {
		fmt.Fprintf(n.w, "[sts] bootstrap token exchanged for one token per resource: %s\n", strings.Join(n.tokens, ", "))
		n.tokens = nil
	}
}

func (n *narrator) log(_ scenarios.Step, line string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.flushTokens()
	fmt.Fprintln(n.w, line)
}

// done says what the journals show: denied hops stayed at the gateway; then the act's
// problems, if it had any.
func (n *narrator) done(res scenarios.StepResult) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.flushTokens()
	if a := res.Agent; a != nil {
		for _, t := range a.Tallies {
			if t.Denied == 0 {
				continue
			}
			fmt.Fprintf(n.w, "journal: %s: %d denied, %d allowed; the upstream received %d\n", t.Call, t.Denied, t.Allowed, t.Reached)
		}
		for _, s := range a.Untouched {
			fmt.Fprintf(n.w, "journal: %s received nothing: its handshake was denied, its tool list never left it\n", s)
		}
	}
	for _, p := range res.Problems {
		fmt.Fprintf(n.w, "!! %s\n", p)
	}
}

// Problems lists what went wrong in the story, act by act ("act 1: ..."), and says so when it
// stopped before its last act.
func Problems(res scenarios.Result) []string {
	var out []string
	for i, s := range res.Steps {
		for _, p := range s.Problems {
			out = append(out, fmt.Sprintf("act %d: %s", i+1, p))
		}
	}
	if len(out) > 0 && len(res.Steps) < len(res.Scenario.Steps) {
		out = append(out, fmt.Sprintf("the story stopped after act %d of %d", len(res.Steps), len(res.Scenario.Steps)))
	}
	return out
}

// Roles are the roles the STS gives a principal, comma-joined.
func Roles(clientID string) string {
	principals := sts.DemoPrincipals()
	if i := slices.IndexFunc(principals, func(p sts.Principal) bool { return p.ID == clientID }); i >= 0 {
		return strings.Join(principals[i].Roles, ", ")
	}
	return ""
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

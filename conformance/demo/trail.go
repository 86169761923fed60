package demo

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/conformance/scenarios"
)

// policyCodes are the denial codes a Cerbos rule (or Cerbos's default deny) decides; other
// denials (no token, a token for another route, Cerbos unreachable) synapse decides alone.
var policyCodes = []string{
	"refund_cap_exceeded", "cross_ticket", "server_not_allowed", "model_not_allowed",
	"task_not_active", "no_matching_rule", "invalid_arguments",
}

// Evidence says where the records of the run are kept.
type Evidence struct {
	Gateway     string // the gateway's name in the diagrams: "Envoy"
	GatewayInfo string // what runs: "Envoy 1.40.0, config from gateway-configs/envoy"
	AuditLog    string
	CerbosLog   string
	LogsDir     string
}

// WriteTrail writes the Markdown trail of a played scenario, from what its results carry: per
// agent step (an act of the story) a Mermaid sequence diagram of every hop through gateway,
// synapse and Cerbos to the upstream or the denial, then a table.
func WriteTrail(w io.Writer, played scenarios.Result, ev Evidence) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# hopguard demo trail\n\n")
	fmt.Fprintf(b, "Every hop the agent made, through %s: the gateway asks synapse, synapse asks Cerbos, and only an allowed hop reaches its upstream.\n\n", ev.GatewayInfo)
	fmt.Fprintf(b, "- synapse's decision log: `%s`\n- Cerbos's decision log: `%s`\n- component logs: `%s`\n", ev.AuditLog, ev.CerbosLog, ev.LogsDir)
	for i, step := range played.Steps {
		if step.Agent != nil {
			writeAct(b, i+1, step, ev.Gateway)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeAct(b *strings.Builder, n int, step scenarios.StepResult, gateway string) {
	p := step.Agent
	title := firstNonEmpty(step.Step.Title, step.Step.Name)
	fmt.Fprintf(b, "\n## Act %d: %s\n\n", n, title)
	if step.Step.Intro != "" {
		fmt.Fprintf(b, "%s\n\n", step.Step.Intro)
	}
	fmt.Fprintf(b, "Task `%s`; outcome **%s** after %d model call(s), %d denial(s).\n\n", p.TaskID, p.Result.Outcome, p.Result.Steps, p.Result.Denials())

	var hops []trace.Hop
	var attested *trace.Hop
	upstreams := []string{}
	for _, h := range p.Result.Hops {
		if h.Plane == trace.PlaneSTS {
			if h.Action == "bootstrap" && h.Decision == trace.Allow && h.Note != "" && attested == nil {
				attested = &h
			}
			continue
		}
		hops = append(hops, h)
		if u := upstreamOf(h); !slices.Contains(upstreams, u) {
			upstreams = append(upstreams, u)
		}
	}
	// The model first, then the MCP servers in the order the agent opened them.
	if i := slices.Index(upstreams, "LLM"); i > 0 {
		upstreams = append([]string{"LLM"}, slices.Delete(upstreams, i, i+1)...)
	}

	b.WriteString("```mermaid\nsequenceDiagram\n    autonumber\n")
	fmt.Fprintf(b, "    participant A as Agent (%s)\n    participant G as %s\n    participant S as synapse\n    participant C as Cerbos\n", mermaid(step.Step.As.Name), mermaid(gateway))
	for _, u := range upstreams {
		fmt.Fprintf(b, "    participant %s as %s\n", participantID(u), u)
	}
	if attested != nil {
		// The workload earns its identity before its first token: SPIRE attests the process.
		fmt.Fprintf(b, "    participant W as SPIRE agent (Workload API)\n    participant T as STS\n")
		fmt.Fprintf(b, "    A->>W: FetchJWTSVID, audience the STS\n    W-->>A: JWT-SVID %s (attested: the process's uid and executable)\n", mermaid(attested.Target))
		fmt.Fprintf(b, "    A->>T: client_credentials, the JWT-SVID as client assertion (no secret)\n    T-->>A: bootstrap token, then one token per resource\n")
	}
	for _, h := range hops {
		writeHop(b, h)
	}
	b.WriteString("```\n\n| # | hop | decision | reason |\n|---|---|---|---|\n")
	for i, h := range hops {
		reason := h.Note
		if h.Denial != nil {
			reason = h.Denial.String()
		} else if h.Reason != "" {
			reason = h.Reason
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s |\n", i+1, tableCell(hopText(h)), strings.ToUpper(string(h.Decision)), tableCell(reason))
	}
	if len(p.Untouched) > 0 {
		fmt.Fprintf(b, "\nDenied at the handshake, and their journals stayed empty: %s.\n", strings.Join(p.Untouched, ", "))
	}
	b.WriteString("\nWhat reached the upstreams (from the mocks' journals):\n\n| call | allowed | denied | reached the upstream |\n|---|---|---|---|\n")
	for _, t := range p.Tallies {
		fmt.Fprintf(b, "| %s | %d | %d | %d |\n", t.Call, t.Allowed, t.Denied, t.Reached)
	}
	if len(step.Problems) > 0 {
		b.WriteString("\nWhat went wrong:\n\n")
		for _, problem := range step.Problems {
			fmt.Fprintf(b, "- %s\n", tableCell(problem))
		}
	}
}

func writeHop(b *strings.Builder, h trace.Hop) {
	u := participantID(upstreamOf(h))
	fmt.Fprintf(b, "    A->>G: %s\n", mermaid(hopText(h)))
	fmt.Fprintf(b, "    G->>S: ext_authz check\n")
	byPolicy := h.Decision != trace.Deny || (h.Denial != nil && slices.Contains(policyCodes, h.Denial.Code))
	switch h.Decision {
	case trace.Deny:
		code, reason := "", h.Reason
		if h.Denial != nil {
			code, reason = h.Denial.Code, h.Denial.Reason
			if r := h.Denial.RemediationSummary(); r != "" {
				reason += " (remediation: " + r + ")"
			}
		}
		if byPolicy {
			fmt.Fprintf(b, "    S->>C: CheckResources\n    C-->>S: DENY %s\n", mermaid(code))
		}
		fmt.Fprintf(b, "    S-->>G: denied\n    G-->>A: DENY %s: %s\n", mermaid(code), mermaid(reason))
	default:
		fmt.Fprintf(b, "    S->>C: CheckResources\n    C-->>S: ALLOW\n    S-->>G: OK\n    G->>%s: forward\n", u)
		if h.Decision == trace.Error {
			fmt.Fprintf(b, "    %s-->>A: error: %s\n", u, mermaid(h.Reason))
		} else {
			fmt.Fprintf(b, "    %s-->>A: %s\n", u, mermaid(firstNonEmpty(h.Note, "ok")))
		}
	}
}

// upstreamOf names the upstream a hop is for.
func upstreamOf(h trace.Hop) string {
	if h.Plane == trace.PlaneLLM {
		return "LLM"
	}
	return h.Target
}

func participantID(upstream string) string { return "U_" + strings.ReplaceAll(upstream, "-", "_") }

func hopText(h trace.Hop) string {
	if h.Plane == trace.PlaneLLM {
		return h.Action + " " + h.Target
	}
	s := h.Target + " " + h.Action
	if h.Tool != "" {
		s += " " + h.Tool
	}
	if len(h.Arguments) > 0 {
		s += " " + string(h.Arguments)
	}
	return s
}

// mermaid keeps a message on one line and free of what Mermaid reads as syntax.
func mermaid(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.NewReplacer(";", ",", "#", "", "%", " pct", `"`, "'").Replace(s)
	if r := []rune(s); len(r) > 140 {
		s = string(r[:137]) + "..."
	}
	return s
}

func tableCell(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", "\\|")
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

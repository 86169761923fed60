package report

import (
	"fmt"
	"slices"
	"strings"
)

// LifecycleUpstream names the run against the upstream MCP server reached directly, the
// reference every gateway's run is read against.
const LifecycleUpstream = "upstream (direct)"

// LifecycleRun is one MCP session's lifecycle played against one target: the upstream MCP
// server directly (LifecycleUpstream) or through a gateway.
type LifecycleRun struct {
	Target   string `json:"target"`
	Endpoint string `json:"endpoint"` // the path the client used, e.g. "/mcp/tickets"
	Protocol string `json:"protocol,omitempty"`
	// SessionID is the Mcp-Session-Id the client held (clipped).
	SessionID string          `json:"session_id,omitempty"`
	Steps     []LifecycleStep `json:"steps"`
	Outcome   Outcome         `json:"outcome"`
	Reason    string          `json:"reason,omitempty"`
}

// LifecycleStep is one step of the lifecycle: initialize, notifications/initialized, the GET
// stream, DELETE, a second DELETE, and how the session id was handled.
type LifecycleStep struct {
	Step        string `json:"step"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	// Detail is what else was seen: an error, how long the GET stream took to answer, how the
	// session id was handled.
	Detail string `json:"detail,omitempty"`
	// Complaint is what an official MCP SDK says of this answer ("" when none).
	Complaint string `json:"complaint,omitempty"`
	// Diverges is set where a gateway's answer differs from the upstream's; Note is the
	// gateway's note (conformance/gateways) that documents it.
	Diverges bool   `json:"diverges,omitempty"`
	Note     string `json:"note,omitempty"`
}

// RecordLifecycle adds session lifecycle runs, the upstream's first.
func (r *Recorder) RecordLifecycle(runs ...LifecycleRun) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lifecycle = append(r.lifecycle, runs...)
}

// lifecycleMarkdown renders the session lifecycle: one row per step, one column per target,
// then every divergence from the upstream with the gateway's note or the SDK's complaint.
func lifecycleMarkdown(b *strings.Builder, rep Report) {
	b.WriteString("\n## Session lifecycle\n\n")
	if len(rep.Lifecycle) == 0 {
		b.WriteString("Not run.\n")
		return
	}
	b.WriteString("One MCP session's lifecycle played with the official MCP Go SDK in the session protocol (initialize, `notifications/initialized`, the GET stream it opens, DELETE on close; raw HTTP for a second DELETE), against the upstream MCP server reached directly and through each gateway: each step's HTTP status and content type, and the session id the client held. A step marked ≠ differs from the upstream's; a difference an official MCP SDK complains about fails, any other is shown with the gateway's note (and fails without one).\n\n")
	b.WriteString("| step |")
	for _, r := range rep.Lifecycle {
		fmt.Fprintf(b, " %s |", cell(r.Target))
	}
	b.WriteString("\n|---|")
	for range rep.Lifecycle {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	var steps []string
	for _, r := range rep.Lifecycle {
		for _, s := range r.Steps {
			if !slices.Contains(steps, s.Step) {
				steps = append(steps, s.Step)
			}
		}
	}
	for _, name := range steps {
		fmt.Fprintf(b, "| %s |", cell(name))
		for _, r := range rep.Lifecycle {
			i := slices.IndexFunc(r.Steps, func(s LifecycleStep) bool { return s.Step == name })
			if i < 0 {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(b, " %s |", lifecycleMark(r.Steps[i]))
		}
		b.WriteString("\n")
	}
	b.WriteString("| result |")
	for _, r := range rep.Lifecycle {
		fmt.Fprintf(b, " %s |", outcomeMark[r.Outcome])
	}
	b.WriteString("\n")

	var lines []string
	for _, r := range rep.Lifecycle {
		if r.Reason != "" {
			lines = append(lines, fmt.Sprintf("- **%s**: %s", r.Target, cell(r.Reason)))
		}
		for _, s := range r.Steps {
			if !s.Diverges && s.Complaint == "" {
				continue
			}
			line := fmt.Sprintf("- **%s**, %s", r.Target, cell(s.Step))
			if s.Diverges {
				line += " differs from the upstream's"
			}
			if s.Complaint != "" {
				line += "; an official SDK: " + cell(s.Complaint)
			}
			if s.Note != "" {
				line += "; " + r.Target + "'s notes: \"" + cell(s.Note) + "\""
			}
			lines = append(lines, line)
		}
	}
	if len(lines) > 0 {
		b.WriteString("\n### Session lifecycle differences\n\n")
		b.WriteString(strings.Join(lines, "\n") + "\n")
	}
}

// lifecycleMark is one step of one target: status and content type, or what was seen.
func lifecycleMark(s LifecycleStep) string {
	var parts []string
	if s.Status != 0 {
		parts = append(parts, fmt.Sprint(s.Status))
	}
	if s.ContentType != "" {
		parts = append(parts, "`"+cell(s.ContentType)+"`")
	}
	if s.Detail != "" {
		parts = append(parts, cell(s.Detail))
	}
	out := strings.Join(parts, " ")
	if out == "" {
		out = "(none)"
	}
	if s.Diverges {
		out = "≠ " + out
	}
	if s.Complaint != "" {
		out += " ⚠"
	}
	return out
}

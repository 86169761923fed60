package report

import (
	"fmt"
	"strings"
)

// TransparencyDirect names the official MCP conformance framework's run against the fixture
// server reached directly, the reference every gateway's run is read against.
const TransparencyDirect = "direct"

// Transparency is the official MCP conformance framework's server suite run against the fixture
// server directly and through each gateway (conformance/transparency).
type Transparency struct {
	Framework string `json:"framework"` // "@modelcontextprotocol/conformance 0.1.16 (active suite)"
	// Targets are the columns: TransparencyDirect first, then each gateway that ran.
	Targets []string          `json:"targets"`
	Rows    []TransparencyRow `json:"rows,omitempty"`
	// NotRun says why the suite did not run at all ("" when it did).
	NotRun string `json:"not_run,omitempty"`
	// TargetsNotRun says, for a target that did not run, why.
	TargetsNotRun map[string]string `json:"targets_not_run,omitempty"`
}

// TransparencyRow is one scenario of the framework, a cell per target.
type TransparencyRow struct {
	Scenario string                      `json:"scenario"`
	Cells    map[string]TransparencyCell `json:"cells"`
}

// TransparencyCell is one scenario's outcome on one target.
type TransparencyCell struct {
	Outcome string `json:"outcome"` // "pass", "fail", "gateway behaviour", "not run"
	Detail  string `json:"detail,omitempty"`
}

// RecordTransparency sets the MCP transparency table.
func (r *Recorder) RecordTransparency(t Transparency) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transparency = &t
}

func transparencyMarkdown(b *strings.Builder, rep Report) {
	b.WriteString("\n## MCP transparency (the official MCP conformance framework)\n\n")
	t := rep.Transparency
	if t == nil {
		b.WriteString("Not run.\n")
		return
	}
	if t.NotRun != "" {
		fmt.Fprintf(b, "⏸ not run: %s\n", t.NotRun)
		return
	}
	fmt.Fprintf(b, "%s, run against hopguard's fixture server (`mockservers/mcpconformance`) directly and through each gateway as the principal `mcp-conformance`, whose policy allows everything on that server: governance must be transparent to MCP. A scenario that passes directly and fails behind a gateway fails the run, unless the gateway's notes record it as that gateway's behaviour with its effect.\n\n", t.Framework)
	b.WriteString("| scenario |")
	for _, target := range t.Targets {
		fmt.Fprintf(b, " %s |", target)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(t.Targets)))
	b.WriteString("\n")
	// A detail shared by several scenarios of one target (a gateway's behaviour) is said once.
	type said struct{ target, detail string }
	var order []said
	scenarios := map[said][]string{}
	for _, row := range t.Rows {
		fmt.Fprintf(b, "| %s |", row.Scenario)
		for _, target := range t.Targets {
			cell, ok := row.Cells[target]
			if !ok {
				cell = TransparencyCell{Outcome: "not run"}
			}
			fmt.Fprintf(b, " %s |", transparencyMark(cell.Outcome))
			if cell.Detail != "" && cell.Outcome != "pass" {
				k := said{target, cell.Detail}
				if scenarios[k] == nil {
					order = append(order, k)
				}
				scenarios[k] = append(scenarios[k], row.Scenario)
			}
		}
		b.WriteString("\n")
	}
	var details []string
	for _, k := range order {
		details = append(details, fmt.Sprintf("- %s, %s: %s", strings.Join(scenarios[k], ", "), k.target, k.detail))
	}
	for target, why := range t.TargetsNotRun {
		details = append(details, fmt.Sprintf("- %s: not run: %s", target, why))
	}
	if len(details) > 0 {
		b.WriteString("\n" + strings.Join(details, "\n") + "\n")
	}
}

func transparencyMark(outcome string) string {
	switch outcome {
	case "pass":
		return "✅ pass"
	case "fail":
		return "❌ fail"
	case "gateway behaviour":
		return "⚠️ gateway behaviour"
	default:
		return "⏸ " + outcome
	}
}

package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Write writes report.md and report.json into dir, creating it.
func Write(dir string, rep Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report directory: %w", err)
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(Markdown(rep)), 0o644); err != nil {
		return fmt.Errorf("write report.md: %w", err)
	}
	return nil
}

var outcomeMark = map[Outcome]string{Pass: "✅ pass", Fail: "❌ fail", NotRun: "⏸ not run", Cannot: "🚫 cannot"}

// Markdown renders the report for people.
func Markdown(rep Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# hopguard portability report\n\n")
	fmt.Fprintf(&b, "Generated %s on the %s runtime. Every scenario runs behind every gateway against the same synapse, the same Cerbos policies and the same mock upstreams; \"not run\" is never counted as a pass.\n\n", rep.GeneratedAt.Format("2006-01-02 15:04:05 UTC"), rep.Runtime)
	if rep.AgentIdentity != "" {
		fmt.Fprintf(&b, "The autonomous triage agent's identity: %s.\n\n", rep.AgentIdentity)
	}

	b.WriteString("## Gateways\n\n| gateway | status |\n|---|---|\n")
	for _, g := range rep.Gateways {
		status := cell(g.Detail)
		if g.NotRunReason != "" {
			status = "not run: " + cell(g.NotRunReason)
		}
		fmt.Fprintf(&b, "| %s | %s |\n", g.Name, status)
	}
	for _, g := range rep.Gateways {
		if len(g.Notes) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n**%s** notes:\n\n", g.Name)
		for _, n := range g.Notes {
			fmt.Fprintf(&b, "- %s\n", cell(n))
		}
	}

	b.WriteString("\n## Matrix\n\n| scenario |")
	for _, g := range rep.Gateways {
		fmt.Fprintf(&b, " %s |", g.Name)
	}
	b.WriteString(" decisions agree |\n|---|")
	for range rep.Gateways {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for _, s := range rep.Scenarios {
		fmt.Fprintf(&b, "| %s |", cell(s.Title))
		for _, g := range rep.Gateways {
			fmt.Fprintf(&b, " %s |", outcomeMark[find(rep, g.Name, s.ID).Outcome])
		}
		fmt.Fprintf(&b, " %s |\n", agreeMark(rep, s.ID))
	}

	b.WriteString("\n## Details\n")
	for _, s := range rep.Scenarios {
		fmt.Fprintf(&b, "\n### %s\n", s.Title)
		for _, g := range rep.Gateways {
			res := find(rep, g.Name, s.ID)
			fmt.Fprintf(&b, "\n**%s**: %s", g.Name, outcomeMark[res.Outcome])
			if res.Duration > 0 {
				fmt.Fprintf(&b, " (%s)", res.Duration.Round(1e6))
			}
			if res.Reason != "" {
				fmt.Fprintf(&b, ": %s", cell(res.Reason))
			}
			b.WriteString("\n")
			if len(res.Decisions) == 0 {
				continue
			}
			b.WriteString("\n| hop | decision | code | status | upstream contacted |\n|---|---|---|---|---|\n")
			for _, d := range res.Decisions {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(d.Step), d.Decision, cell(d.Code), status(d.Status), yesNo(d.Upstream))
			}
		}
		for _, a := range rep.Agreement {
			if a.Scenario == s.ID {
				fmt.Fprintf(&b, "\nAgreement: %s\n", cell(a.Detail))
			}
		}
	}
	if len(rep.ClientMatrix) > 0 || len(rep.Parity) > 0 {
		clientMatrixMarkdown(&b, rep)
		parityMarkdown(&b, rep)
	}
	if len(rep.Lifecycle) > 0 {
		lifecycleMarkdown(&b, rep)
	}
	if rep.Transparency != nil {
		transparencyMarkdown(&b, rep)
	}
	return b.String()
}

func find(rep Report, gateway, scenario string) Result {
	for _, r := range rep.Results {
		if r.Gateway == gateway && r.Scenario == scenario {
			return r
		}
	}
	return Result{Gateway: gateway, Scenario: scenario, Outcome: NotRun}
}

func agreeMark(rep Report, scenario string) string {
	for _, a := range rep.Agreement {
		if a.Scenario != scenario {
			continue
		}
		switch {
		case a.Agree == nil:
			return "n/a"
		case *a.Agree:
			return "yes"
		default:
			return "**no**: " + cell(a.Detail)
		}
	}
	return "n/a"
}

// cell keeps free text from breaking a Markdown table row.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.Join(strings.Fields(s), " ")
}

func status(code int) string {
	if code == 0 {
		return ""
	}
	return fmt.Sprint(code)
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

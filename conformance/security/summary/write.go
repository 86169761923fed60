package summary

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hopguard/hopguard/conformance/security/bypass"
)

// File names the summary is written to.
const (
	MarkdownFile = "security.md"
	JSONFile     = "security.json"
)

// Write puts s in dir as security.md and security.json.
func Write(dir string, s Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("security report: %w", err)
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("security report: encode: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, JSONFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("security report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, MarkdownFile), []byte(Markdown(s)), 0o644); err != nil {
		return fmt.Errorf("security report: %w", err)
	}
	return nil
}

// Markdown renders s for people.
func Markdown(s Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# hopguard security report\n\nGenerated %s on the %s runtime by `go test ./conformance/security`. "+
		"The threat model and what each part proves are in SECURITY.md.\n\n", s.GeneratedAt.Format("2006-01-02 15:04:05 MST"), s.Runtime)

	b.WriteString("## Gateways\n\n| gateway | status |\n|---|---|\n")
	for _, g := range s.Gateways {
		status := "ran: " + g.Detail
		if g.NotRunReason != "" {
			status = "**not run**: " + g.NotRunReason
		}
		fmt.Fprintf(&b, "| %s | %s |\n", g.Name, cell(status))
	}

	b.WriteString("\n## Bypass corpus\n\n")
	b.WriteString("Each case is one raw HTTP request that, let through, would be an unauthorised action. " +
		"It passes when it is denied, no upstream journal shows it, synapse's audit log holds the denial, " +
		"and the denial is one the case expects. A cell reads `layer code (HTTP status)`.\n\n")
	for _, g := range s.Gateways {
		if g.NotRunReason != "" {
			continue
		}
		pass, total, controls := 0, 0, 0
		for _, r := range s.Results {
			if r.Gateway != g.Name {
				continue
			}
			if r.Control {
				controls++
				continue
			}
			if r.Skipped != "" {
				continue
			}
			total++
			if r.Pass {
				pass++
			}
		}
		fmt.Fprintf(&b, "- **%s**: %d of %d cases pass (%d controls run; cases that do not apply are not counted)\n", g.Name, pass, total, controls)
	}
	b.WriteString("\n| case | category | attempt |")
	for _, g := range s.Gateways {
		fmt.Fprintf(&b, " %s |", g.Name)
	}
	b.WriteString("\n|---|---|---|")
	for range s.Gateways {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, c := range s.Cases {
		id := c.ID
		if c.Control {
			id += " (control: must be allowed)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |", id, c.Category, cell(c.Attack))
		for _, g := range s.Gateways {
			fmt.Fprintf(&b, " %s |", cell(resultCell(s, g, c.ID)))
		}
		b.WriteString("\n")
	}

	writeSandbox(&b, s.Sandbox)
	writeIdentities(&b, s.Identities)

	b.WriteString("\n## Faults under traffic\n\n")
	b.WriteString("| drill | gateway | verdict | probes | in the fault window | allowed in the window | forbidden requests upstream | detail |\n|---|---|---|---|---|---|---|---|\n")
	for _, f := range s.Faults {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d | %d | %s |\n", cell(f.Name), f.Gateway, verdict(f.Pass), f.Probes, f.InWindow, f.Allowed, f.Leaked, cell(f.Detail))
	}

	b.WriteString("\n## Audit completeness under load\n\n")
	b.WriteString("| gateway | requests | allowed | denied | synapse records | matched by decision id | Cerbos calls expected | Cerbos entries | matched | verdict |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, a := range s.Audits {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %s |\n", a.Gateway, a.Requests, a.Allowed, a.Denied,
			a.SynapseRecords, a.Matched, a.CerbosExpected, a.CerbosEntries, a.CerbosMatched, verdict(a.Pass))
		if a.Detail != "" {
			fmt.Fprintf(&b, "\n%s: %s\n\n", a.Gateway, a.Detail)
		}
	}
	return b.String()
}

// writeSandbox renders the escape attempts from the agent's sandbox.
func writeSandbox(b *strings.Builder, sb Sandbox) {
	b.WriteString("\n## The agent's sandbox\n\n")
	if sb.NotRunReason != "" {
		fmt.Fprintf(b, "**not run**: %s\n", sb.NotRunReason)
		return
	}
	b.WriteString("The agent runs in a network namespace of its own whose only interface is loopback; " +
		"its only ways out are an exit to its gateway and one to the STS that lets through nothing but a POST to the token endpoint. " +
		"From inside, a program tries every other address of the environment: each attempt passes when it gets nowhere, " +
		"each control (the gateway, the token endpoint) when it is answered.\n\n")
	b.WriteString("| gateway | attempt | what was tried | what came of it | verdict |\n|---|---|---|---|---|\n")
	for _, e := range sb.Escapes {
		name := e.Name
		if e.Control {
			name += " (control: must answer)"
		}
		fmt.Fprintf(b, "| %s | %s | `%s` | %s | %s |\n", e.Gateway, cell(name), cell(e.Attempt), cell(e.Got), verdict(e.Pass))
	}
}

// writeIdentities renders the workload identity checks.
func writeIdentities(b *strings.Builder, ids Identities) {
	b.WriteString("\n## Workload identity (SPIRE)\n\n")
	if ids.NotRunReason != "" {
		fmt.Fprintf(b, "**not run**: %s\n", ids.NotRunReason)
		return
	}
	b.WriteString("The autonomous triage agent has no secret: SPIRE gives its SPIFFE ID, as a JWT-SVID, to the agent binary running as nobody, and the STS takes it from that JWT-SVID only.\n\n")
	b.WriteString("| check | must | what came of it | verdict |\n|---|---|---|---|\n")
	for _, c := range ids.Checks {
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", cell(c.Name), cell(c.Must), cell(c.Got), verdict(c.Pass))
	}
}

func resultCell(s Summary, g Gateway, id string) string {
	if g.NotRunReason != "" {
		return "not run"
	}
	for _, r := range s.Results {
		if r.Gateway == g.Name && r.Case == id {
			return describe(r)
		}
	}
	return "not run"
}

func describe(r bypass.Result) string {
	var out string
	switch {
	case r.Skipped != "":
		return "n/a"
	case r.Control && r.Pass:
		out = fmt.Sprintf("allowed (%d)", r.Status)
	case !r.Denied:
		out = fmt.Sprintf("ALLOWED (%d)", r.Status)
	case r.Layer == bypass.LayerSynapse:
		out = fmt.Sprintf("synapse %s (%d)", r.Code, r.Status)
	case r.Status == 0:
		out = r.Layer + " (connection closed)"
	default:
		out = fmt.Sprintf("%s (%d)", r.Layer, r.Status)
	}
	if !r.Pass {
		out = "**FAIL** " + out + ": " + r.Problem
	}
	return out
}

func verdict(pass bool) string {
	if pass {
		return "pass"
	}
	return "**FAIL**"
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

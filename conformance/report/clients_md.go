package report

import (
	"fmt"
	"slices"
	"strings"
)

// clientMatrixMarkdown renders the client matrix: a summary of client x hop by gateway, then
// every cell with what its SDK surfaced.
func clientMatrixMarkdown(b *strings.Builder, rep Report) {
	b.WriteString("\n## Client matrix\n\n")
	if len(rep.ClientMatrix) == 0 {
		b.WriteString("Not run.\n")
		return
	}
	b.WriteString("Hops played through each gateway with official client libraries other than the agent's, each with its own API (no hopguard code between the SDK and the gateway). A cell passes when an allowed hop works, a denial is readable through the SDK's own error type with hopguard's code, and no request of a denied call is sent twice. Where a failure comes from a client library's or a gateway's own documented behaviour, the cell says so; it still fails. A cell marked cannot is not a pass either: the gateway cannot express what the cell needs at all, and the cell quotes the gateway's notes that say why; only the cells named in conformance/clients (explained.go) may end so, any other non-passing cell fails the run.\n\n")
	b.WriteString("| client | module | version | plays |\n|---|---|---|---|\n")
	for _, s := range rep.ClientSDKs {
		fmt.Fprintf(b, "| %s | `%s` | %s | %s |\n", cell(s.Name), s.Module, s.Version, cell(s.Speaks))
	}

	type row struct{ client, hop string }
	var rows []row
	for _, c := range rep.ClientMatrix {
		if r := (row{c.Client, c.Hop}); !slices.Contains(rows, r) {
			rows = append(rows, r)
		}
	}
	b.WriteString("\n| client | hop |")
	for _, g := range rep.Gateways {
		fmt.Fprintf(b, " %s |", g.Name)
	}
	b.WriteString("\n|---|---|")
	for range rep.Gateways {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s |", cell(r.client), cell(r.hop))
		for _, g := range rep.Gateways {
			fmt.Fprintf(b, " %s |", summaryMark(rep, g, r.client, r.hop))
		}
		b.WriteString("\n")
	}

	b.WriteString("\n### Client matrix details\n\n")
	b.WriteString("| client | hop | gateway | outcome | played | surfaced | read through | code | status | sent / at synapse | why |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range rep.ClientMatrix {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d / %d%s | %s |\n",
			cell(c.Client), cell(c.Hop), c.Gateway, outcomeMark[c.Outcome], cell(c.Played), cell(c.Surfaced),
			cell(c.ErrorType), cell(c.Code), status(c.Status), c.Sent, c.AtSynapse, retried(c.Retried), cell(c.Reason))
	}
}

// summaryMark is one gateway's cell of the summary: the outcome and the code read.
func summaryMark(rep Report, g Gateway, client, hop string) string {
	if g.NotRunReason != "" {
		return outcomeMark[NotRun]
	}
	i := slices.IndexFunc(rep.ClientMatrix, func(c ClientCell) bool {
		return c.Gateway == g.Name && c.Client == client && c.Hop == hop
	})
	if i < 0 {
		return "—"
	}
	c := rep.ClientMatrix[i]
	mark := outcomeMark[c.Outcome]
	if c.Code != "" {
		mark += " `" + cell(c.Code) + "`"
	}
	if c.Outcome == Fail && len(c.Failed) > 0 {
		mark += ": " + cell(strings.Join(c.Failed, ", "))
	}
	return mark
}

func retried(v bool) string {
	if v {
		return " (retried)"
	}
	return ""
}

// parityMarkdown renders the upstream parity comparison: one line per hop, then every field
// that did not arrive the same behind every gateway.
func parityMarkdown(b *strings.Builder, rep Report) {
	b.WriteString("\n## Upstream parity\n\n")
	if len(rep.Parity) == 0 {
		b.WriteString("Not run.\n")
		return
	}
	b.WriteString("For each allowed hop of the client matrix, what the mock upstream received behind each gateway (the journals' method, path, body fields and body digest), compared with the first gateway's. A difference in a field that changes what the upstream is asked (conformance/parity says which and why) fails; any other difference is shown.\n\n")
	b.WriteString("| hop | gateways compared | result |\n|---|---|---|\n")
	for _, p := range rep.Parity {
		result := outcomeMark[p.Outcome]
		switch {
		case p.Reason != "":
			result += ": " + cell(p.Reason)
		case len(p.Differences) == 0:
			result += ": received alike"
		default:
			result += fmt.Sprintf(": %d difference(s), none that changes meaning", len(p.Differences))
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", cell(p.Hop), strings.Join(p.Gateways, ", "), result)
	}
	var gateways []string
	for _, p := range rep.Parity {
		for _, g := range p.Gateways {
			if !slices.Contains(gateways, g) {
				gateways = append(gateways, g)
			}
		}
	}
	if !slices.ContainsFunc(rep.Parity, func(p ParityHop) bool { return len(p.Differences) > 0 }) {
		return
	}
	b.WriteString("\n### Differences\n\n| hop | request | field |")
	for _, g := range gateways {
		fmt.Fprintf(b, " %s |", g)
	}
	b.WriteString(" changes meaning | why |\n|---|---|---|")
	for range gateways {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	for _, p := range rep.Parity {
		for _, d := range p.Differences {
			fmt.Fprintf(b, "| %s | %s | %s |", cell(p.Hop), cell(d.Request), cell(d.Field))
			for _, g := range gateways {
				v, ok := d.Values[g]
				switch {
				case !slices.Contains(p.Gateways, g):
					v = ""
				case !ok || v == "":
					v = "(absent)"
				default:
					v = "`" + cell(v) + "`"
				}
				fmt.Fprintf(b, " %s |", v)
			}
			fmt.Fprintf(b, " %s | %s |\n", yesNo(d.MeaningChanging), cell(d.Why))
		}
	}
}

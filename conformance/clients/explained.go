package clients

import (
	"slices"
	"strings"

	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/report"
)

// explanation says why cells fail where the cause is a client library's or a gateway's own
// behaviour, documented where it says: the report gives it beside the failure, and the cell
// still fails (the criteria stay what they are; these failures are for hopguard to design
// around, or for its users to know).
//
// An explanation marked cannot covers the one kind of cell hopguard accepts not passing: the
// gateway cannot express what the cell needs at all, and its notes say why (issue 20: "or the
// gateway's notes say why that gateway cannot"). Such a cell's outcome is report.Cannot, its
// reason "cannot: " and the gateway's note quoted; without the note it stays a failure.
type explanation struct {
	clients  []string
	gateways []string // nil: every gateway
	hops     []string
	why      string
	// gatewayNote, when set, starts the gateway's note (conformance/gateways) that documents
	// the behaviour: the report quotes it.
	gatewayNote string
	cannot      bool
}

var explanations = []explanation{
	{
		// agentgateway v1.4.1 cannot give its own fail-closed 503 a body (its notes), and the MCP
		// Go SDK reads neither the body nor the headers of a 503: no code can reach its caller.
		clients:     []string{mcpSessions, mcpStateless},
		gateways:    []string{"agentgateway"},
		hops:        []string{hopSynapseDown},
		gatewayNote: "synapse unreachable",
		cannot:      true,
		why: "the MCP Go SDK (v1.8.0) takes a 500, 502, 503, 504 or 429 for transient and reads neither its body nor its headers (mcp/streamable.go, checkResponse): " +
			"its caller gets *jsonrpc.Error -32005 \"rejected by transport\". agentgateway's own fail-closed reply is a 503 in plain text, which it cannot replace with a JSON-RPC error",
	},
	{
		clients: []string{mcpSessions, mcpStateless},
		hops:    []string{hopSynapseDown, hopCerbosDown},
		why: "the MCP Go SDK (v1.8.0) takes a 500, 502, 503, 504 or 429 for transient and never reads its body (mcp/streamable.go, checkResponse): " +
			"its caller gets *jsonrpc.Error -32005 \"rejected by transport\" with the status text only, whatever JSON-RPC error the 503 carries. " +
			"hopguard answers an MCP request it cannot decide with 200 and the JSON-RPC error, as its MCP denials",
	},
	{
		clients:     []string{anthropicGo, openaiGo},
		gateways:    []string{"agentgateway"},
		hops:        []string{hopSynapseDown},
		why:         "agentgateway's own reply with synapse unreachable is 503 with a plain-text body; the code is only in its x-hopguard-code header",
		gatewayNote: "synapse unreachable",
	},
}

func (e explanation) covers(c report.ClientCell) bool {
	return slices.Contains(e.clients, c.Client) && (e.gateways == nil || slices.Contains(e.gateways, c.Gateway)) && slices.Contains(e.hops, c.Hop)
}

// explain adds to each failed cell the first explanation that covers it, quoting the gateway's
// note where one documents the behaviour; a cell a gateway cannot meet, with the note that says
// why, becomes report.Cannot.
func explain(cells []report.ClientCell, running []gateways.Gateway) {
	notes := map[string][]string{}
	for _, g := range running {
		notes[g.Name()] = gateways.ProfileOf(g).Notes
	}
	for i := range cells {
		c := &cells[i]
		if c.Outcome != report.Fail {
			continue
		}
		i := slices.IndexFunc(explanations, func(e explanation) bool { return e.covers(*c) })
		if i < 0 {
			continue
		}
		e := explanations[i]
		note := ""
		if e.gatewayNote != "" {
			if j := slices.IndexFunc(notes[c.Gateway], func(n string) bool { return strings.HasPrefix(n, e.gatewayNote) }); j >= 0 {
				note = notes[c.Gateway][j]
			}
		}
		if e.cannot && note != "" && onlyUnreadable(c.Failed) {
			c.Outcome = report.Cannot
			c.Reason = "cannot: " + c.Gateway + "'s notes: \"" + note + "\". Why: " + e.why + ". Measured: " + c.Reason
			continue
		}
		why := e.why
		if note != "" {
			why += "; " + c.Gateway + "'s notes: \"" + note + "\""
		}
		c.Reason += ". Why: " + why
	}
}

// onlyUnreadable says the cell failed on reading the denial alone (its type, its code): what a
// gateway that cannot express the code explains. A denial that went through or was retried is
// a failure whatever the gateway.
func onlyUnreadable(failed []string) bool {
	return len(failed) > 0 && !slices.ContainsFunc(failed, func(f string) bool { return f != checkTyped && f != checkCode })
}

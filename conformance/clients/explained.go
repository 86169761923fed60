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
type explanation struct {
	clients  []string
	gateways []string // nil: every gateway
	hops     []string
	why      string
	// gatewayNote, when set, starts the gateway's note (conformance/gateways) that documents
	// the behaviour: the report quotes it.
	gatewayNote string
}

var explanations = []explanation{
	{
		clients: []string{mcpSessions, mcpStateless},
		hops:    []string{hopSynapseDown, hopCerbosDown},
		why: "the MCP Go SDK (v1.8.0) takes a 500, 502, 503, 504 or 429 for transient and never reads its body (mcp/streamable.go, checkResponse): " +
			"its caller gets *jsonrpc.Error -32005 \"rejected by transport\" with the status text only, whatever JSON-RPC error the 503 carries. " +
			"A fail-closed reply it could read needs a status whose body it decodes: 200 with the JSON-RPC error, as hopguard's MCP denials use, or a 4xx",
	},
	{
		clients:     []string{anthropicGo, openaiGo},
		gateways:    []string{"agentgateway"},
		hops:        []string{hopSynapseDown},
		why:         "agentgateway's own reply with synapse unreachable is 503 with a plain-text body, no code either SDK can read",
		gatewayNote: "synapse unreachable",
	},
}

func (e explanation) covers(c report.ClientCell) bool {
	return slices.Contains(e.clients, c.Client) && (e.gateways == nil || slices.Contains(e.gateways, c.Gateway)) && slices.Contains(e.hops, c.Hop)
}

// explain adds to each failed cell the explanation that covers it, quoting the gateway's note
// where one documents the behaviour.
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
		for _, e := range explanations {
			if !e.covers(*c) {
				continue
			}
			why := e.why
			if e.gatewayNote != "" {
				if j := slices.IndexFunc(notes[c.Gateway], func(n string) bool { return strings.HasPrefix(n, e.gatewayNote) }); j >= 0 {
					why += "; " + c.Gateway + "'s notes: \"" + notes[c.Gateway][j] + "\""
				}
			}
			c.Reason += ". Why: " + why
		}
	}
}

package clients

import (
	"github.com/hopguard/hopguard/conformance/parity"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/conformance/scenarios"
)

// compareUpstreams compares, for every allowed hop of the matrix, what its upstream received
// behind each gateway (conformance/parity), the gateways in the order they run.
func compareUpstreams(envs []scenarios.Env, cells []*cell) []report.ParityHop {
	type hop struct{ client, hop string }
	var order []hop
	byGateway := map[hop]map[string]*cell{}
	for _, c := range cells {
		if c.spec.wantDenied() {
			continue
		}
		h := hop{c.client.name, c.spec.hop}
		if byGateway[h] == nil {
			byGateway[h] = map[string]*cell{}
			order = append(order, h)
		}
		byGateway[h][c.env.Gateway] = c
	}
	var out []report.ParityHop
	for _, h := range order {
		var received []parity.Received
		for _, env := range envs {
			if c, ok := byGateway[h][env.Gateway]; ok {
				received = append(received, parity.Received{Gateway: env.Gateway, Entries: c.upstream})
			}
		}
		out = append(out, parity.Compare(parityHop(h.client, h.hop), received))
	}
	return out
}

// parityHop names a hop in the parity comparison.
func parityHop(client, hop string) string { return client + ": " + hop }

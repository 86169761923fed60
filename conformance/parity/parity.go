// Package parity compares what a mock upstream received for the same hop behind different
// gateways: the method, the path and the body's fields as the mocks' journals record them. A
// gateway that forwards a hop must not change what the upstream is asked; where a difference
// changes it (another model, another tool argument, a token limit lost) the comparison fails,
// and every other difference is reported for people to read.
package parity

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/mockservers/journal"
)

// Received is what one gateway's upstream received for a hop: the journal entries of the
// requests it forwarded, in order.
type Received struct {
	Gateway string
	Entries []journal.Entry
}

// Compare compares the requests with a body (POSTs; a session's GET stream and DELETE are its
// lifecycle, not what the upstream is asked) that each gateway's upstream received for hop
// against the first gateway's.
func Compare(hop string, received []Received) report.ParityHop {
	out := report.ParityHop{Hop: hop, Outcome: report.Pass}
	requests := map[string]map[string]journal.Entry{} // request key -> gateway -> entry
	var order []string
	for _, r := range received {
		out.Gateways = append(out.Gateways, r.Gateway)
		seen := map[string]int{}
		for _, e := range r.Entries {
			if e.HTTPMethod != http.MethodPost {
				continue
			}
			key := requestName(e)
			seen[key]++
			if seen[key] > 1 {
				key += fmt.Sprintf(" (#%d)", seen[key])
			}
			if requests[key] == nil {
				requests[key] = map[string]journal.Entry{}
				order = append(order, key)
			}
			requests[key][r.Gateway] = e
		}
	}
	if len(out.Gateways) < 2 {
		out.Reason = fmt.Sprintf("%d gateway(s) forwarded it: nothing to compare", len(out.Gateways))
		return out
	}
	for _, key := range order {
		out.Differences = append(out.Differences, compareRequest(key, out.Gateways, requests[key])...)
	}
	for _, d := range out.Differences {
		if d.MeaningChanging {
			out.Outcome = report.Fail
			out.Reason = fmt.Sprintf("%s reached the upstream with a different %s behind %s", d.Request, d.Field, strings.Join(d.Deviating(out.Gateways), ", "))
			break
		}
	}
	return out
}

// requestName names a request for the report: "POST /v1/messages", "POST /mcp tools/call
// refund_issue".
func requestName(e journal.Entry) string {
	name := e.HTTPMethod + " " + e.Path
	if e.MCPMethod != "" {
		name += " " + e.MCPMethod
	}
	if e.Tool != "" {
		name += " " + e.Tool
	}
	return name
}

// compareRequest compares one request across gateways, field by field.
func compareRequest(key string, gateways []string, byGateway map[string]journal.Entry) []report.ParityDifference {
	var missing []string
	for _, g := range gateways {
		if _, ok := byGateway[g]; !ok {
			missing = append(missing, g)
		}
	}
	if len(missing) > 0 {
		values := map[string]string{}
		for _, g := range gateways {
			if _, ok := byGateway[g]; ok {
				values[g] = "received"
			}
		}
		return []report.ParityDifference{{
			Request: key, Field: "(the request)", Values: values, MeaningChanging: true,
			Why: "the upstream did not receive this request behind " + strings.Join(missing, ", "),
		}}
	}
	path := byGateway[gateways[0]].Path
	fields := map[string]bool{}
	for _, e := range byGateway {
		for f := range e.Fields {
			fields[f] = true
		}
	}
	var diffs []report.ParityDifference
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		values := map[string]string{}
		for _, g := range gateways {
			values[g] = byGateway[g].Fields[f]
		}
		if same(values) {
			continue
		}
		changes, why := Meaning(path, f, byGateway)
		diffs = append(diffs, report.ParityDifference{Request: key, Field: f, Values: values, MeaningChanging: changes, Why: why})
	}
	digests := map[string]string{}
	for _, g := range gateways {
		digests[g] = byGateway[g].BodySHA256
	}
	if !same(digests) && len(diffs) == 0 {
		diffs = append(diffs, report.ParityDifference{
			Request: key, Field: "(body bytes, sha256)", Values: digests,
			Why: "the same fields, written differently (order, spacing or escaping): the body was re-encoded on its way",
		})
	}
	return diffs
}

func same(values map[string]string) bool {
	first, started := "", false
	for _, v := range values {
		if !started {
			first, started = v, true
			continue
		}
		if v != first {
			return false
		}
	}
	return true
}

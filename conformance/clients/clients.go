// Package clients is the client matrix: hops played through every gateway with official client
// libraries other than the ones hopguard's agent uses (the MCP Go SDK in both the session-based
// and the stateless protocol it speaks, anthropic-sdk-go, openai-go), each with its own API and
// its default settings, as a new user would. For each client x gateway x kind of hop it records
// what the SDK's API surfaced (the type a denial is read through and the hopguard code readable
// there), the HTTP status, how many requests of the call the client sent and synapse decided,
// and whether any was sent twice. A cell passes when an allowed hop works, a denial is readable
// through the SDK's own error type with hopguard's code, and no request of a denied call is
// repeated. What the upstream received for the allowed hops goes to the parity comparison
// (conformance/parity). Where a cell fails because of a client library's or a gateway's own
// documented behaviour, the report says so beside the failure (explained.go); it still fails.
package clients

import (
	"cmp"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/report"
	"github.com/hopguard/hopguard/conformance/scenarios"
)

// hopTimeout bounds one hop, retries included.
const hopTimeout = 30 * time.Second

// Result is what the matrix found.
type Result struct {
	SDKs   []report.ClientSDK
	Cells  []report.ClientCell
	Parity []report.ParityHop
	// Problems are what went wrong around the cells: the environment not whole again after a
	// component was started again.
	Problems []string
}

// Run plays every cell of the matrix behind every gateway of h that runs, the cells that stop a
// component last (each component is stopped once for every gateway, then started again, and
// the run waits until every gateway allows hops again). runID keeps its task ids apart from
// every other run's; logf is told what happens.
func Run(ctx context.Context, h *harness.Env, runID string, logf func(format string, args ...any)) Result {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	p := &player{transport: transport, logf: logf}
	res := Result{SDKs: sdks()}
	for _, g := range h.Gateways {
		env, err := h.Behind(g.Name(), runID)
		if err != nil {
			res.Problems = append(res.Problems, g.Name()+": "+err.Error())
			continue
		}
		p.envs = append(p.envs, env)
	}
	var cells []*cell
	for _, env := range p.envs {
		for i, e := range matrix() {
			if e.spec.disrupt == "" {
				cells = append(cells, &cell{order: i, client: e.client, spec: e.spec, env: env})
			}
		}
	}
	for _, c := range cells {
		p.play(ctx, c)
	}
	for _, component := range disruptions() {
		disrupted, err := p.disrupted(ctx, component)
		cells = append(cells, disrupted...)
		if err != nil {
			res.Problems = append(res.Problems, err.Error())
		}
	}
	slices.SortStableFunc(cells, p.matrixOrder)
	for _, c := range cells {
		res.Cells = append(res.Cells, c.result)
	}
	res.Parity = compareUpstreams(p.envs, cells)
	explain(res.Cells, h.Gateways)
	return res
}

// player plays cells.
type player struct {
	envs      []scenarios.Env
	transport http.RoundTripper
	logf      func(format string, args ...any)
}

// matrixOrder orders cells as the matrix lists them: by client, kind of hop, then gateway.
func (p *player) matrixOrder(a, b *cell) int {
	gateway := func(c *cell) int {
		return slices.IndexFunc(p.envs, func(e scenarios.Env) bool { return e.Gateway == c.env.Gateway })
	}
	if d := a.order - b.order; d != 0 {
		return d
	}
	return gateway(a) - gateway(b)
}

// sdks are the client libraries of the matrix, with the versions the module requires.
func sdks() []report.ClientSDK {
	versions := requiredVersions()
	var out []report.ClientSDK
	for _, c := range clientList() {
		out = append(out, report.ClientSDK{Name: c.name, Module: c.module, Version: cmp.Or(versions[c.module], "(unknown)"), Speaks: c.speaks})
	}
	return out
}

// requiredVersions are the versions of the modules hopguard's go.mod requires: those built into
// the test (a test binary carries no module versions of its own).
func requiredVersions() map[string]string {
	out := map[string]string{}
	root, err := binaries.ModuleRoot()
	if err != nil {
		return out
	}
	path := filepath.Join(root, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	f, err := modfile.ParseLax(path, data, nil)
	if err != nil {
		return out
	}
	for _, r := range f.Require {
		out[r.Mod.Path] = r.Mod.Version
	}
	return out
}

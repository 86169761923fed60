package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/conformance/runtime"
)

// PublishedEnv names the file `make up` published its environment in, for suites verifying
// external gateways; unset, it is <module>/out/up/env.json.
const PublishedEnv = "HOPGUARD_UP"

// Suite is what a suite (conformance, security) runs against: its environment, or why it did
// not start, and every gateway its report shows, running or not.
type Suite struct {
	Env   *Env
	UpErr error
	// Gateways are every gateway of the report, in order; Env.NotRun says which do not run.
	Gateways []gateways.Gateway
	Network  netns.Where
	// RuntimeName is the runtime the report names; ReportDir where the report goes.
	RuntimeName string
	ReportDir   string
}

// SuiteOptions say who starts a suite and where its own files go.
type SuiteOptions struct {
	// Who prefixes progress lines ("conformance").
	Who string
	// Home is the suite's directory below the report directory ("" is the report directory
	// itself): a suite that runs beside another keeps its environment apart.
	Home    string
	Log     io.Writer
	Observe runtime.Observer
}

// StartSuite brings up what a suite runs against. Normally that is its own environment with
// every built-in gateway, in a loopback-only network namespace where one can be made (it then
// runs the program again there, and exited is true: return code). With gateways.ExternalEnv set
// it is instead the environment `make up` published (PublishedEnv), with the external gateways
// in front, on the host's network where they are; the built-in gateways are then not run, and
// the report goes to <report dir>/external.
func StartSuite(ctx context.Context, opts SuiteOptions) (s Suite, code int, exited bool) {
	root, err := binaries.ModuleRoot()
	if err != nil {
		return Suite{UpErr: err}, 0, false
	}
	s.RuntimeName = RuntimeNameFromEnv()
	s.ReportDir = ReportDir(root, s.RuntimeName)
	externals, err := gateways.ParseExternal(os.Getenv(gateways.ExternalEnv))
	if err != nil {
		return Suite{UpErr: err, RuntimeName: s.RuntimeName, ReportDir: s.ReportDir}, 0, false
	}
	if len(externals) > 0 {
		return attachSuite(ctx, root, s, externals), 0, false
	}

	s.Network, code, exited = Isolate(ctx, s.RuntimeName, opts.Log, opts.Who)
	if exited {
		return s, code, true
	}
	home := filepath.Join(s.ReportDir, opts.Home)
	s.Gateways = gateways.All(s.RuntimeName, s.Network)
	s.Env, s.UpErr = Up(ctx, Options{
		OutDir: home, BinDir: binDir(home, opts.Home), Gateways: s.Gateways, Observe: opts.Observe, NewRuntime: RuntimeByName(s.RuntimeName),
		SPIRE: true,
	})
	return s, 0, false
}

// binDir is where a suite's commands are built: the default (<module>/out/bin) for the suite
// at home in the report directory, its own for one beside it (two `go build`s into one
// directory at once would race).
func binDir(home, sub string) string {
	if sub == "" {
		return ""
	}
	return filepath.Join(home, "bin")
}

// attachSuite is a suite against the environment of `make up` with external gateways in front.
func attachSuite(ctx context.Context, root string, s Suite, externals []*gateways.External) Suite {
	s.ReportDir = filepath.Join(s.ReportDir, "external")
	var names []string
	for _, g := range externals {
		names = append(names, g.Name())
	}
	s.Network = netns.Where{Why: fmt.Errorf("%s: the suite runs on the host's network, where the external gateways are", gateways.ExternalEnv)}
	s.Gateways = gateways.All(s.RuntimeName, s.Network)
	path := os.Getenv(PublishedEnv)
	if path == "" {
		path = filepath.Join(root, "out", "up", "env.json")
	}
	h, err := Attach(path)
	if err != nil {
		s.UpErr = fmt.Errorf("%w (start it first: make up GATEWAY=none)", err)
		for _, g := range externals {
			s.Gateways = append(s.Gateways, g)
		}
		return s
	}
	if err := h.buildPrograms(ctx); err != nil {
		s.UpErr = err
	}
	notBuiltIn := errors.New("this run verifies " + strings.Join(names, ", ") + " against the environment of make up; `make conformance` without EXTERNAL runs the built-in gateways")
	for _, g := range s.Gateways {
		h.NotRun[g.Name()] = notBuiltIn
	}
	for _, g := range externals {
		if err := h.AddExternal(g.Name(), g.URL); err != nil {
			s.UpErr = err
		}
		s.Gateways = append(s.Gateways, g)
		h.Gateways = append(h.Gateways, g)
	}
	s.Env = h
	return s
}

package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/stack"
)

// DefaultsCerbos is a second Cerbos beside the stack's own, with Cerbos's own defaults where the
// stack tunes it (conformance/stack, cerbos: --log-level=warn, GOGC=200, GOMEMLIMIT): the same
// policies, config and decision log, its own ports and directory. Measured as target d2 next to
// d, it shows what the tuning buys, old beside new, in one run.
//
// It rides into the environment through the gateway list, as ComparedSynapse does; nothing
// routes to it.
type DefaultsCerbos struct{}

var _ gateways.Gateway = DefaultsCerbos{}

// DefaultsCerbosName is its component name.
const DefaultsCerbosName = "cerbos-defaults"

// Name implements gateways.Gateway.
func (DefaultsCerbos) Name() string { return DefaultsCerbosName }

// Detail implements gateways.Gateway.
func (DefaultsCerbos) Detail() string {
	return "Cerbos with its default log level and Go runtime settings"
}

// Component implements gateways.Gateway: the stack's Cerbos under another name, its tuning
// taken off.
func (DefaultsCerbos) Component(context.Context) (env.Component, error) {
	secrets, err := stack.NewSecrets()
	if err != nil {
		return env.Component{}, err
	}
	own, err := stackComponent(secrets, stack.Cerbos)
	if err != nil {
		return env.Component{}, fmt.Errorf("cerbos with its defaults: %w", err)
	}
	out := renameComponent(own, DefaultsCerbosName)
	out.Env = nil
	args := out.Args
	out.Args = func(l env.Layout) []string {
		return slices.DeleteFunc(args(l), func(a string) bool { return strings.HasPrefix(a, "--log-level=") })
	}
	return out, nil
}

package bench

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/stack"
)

// ComparedSynapse is a second synapse, another build of it, running beside the stack's own:
// the same Cerbos, the same STS and the same config, but its own ports, directory, task registry
// and admin token. Measured as target c2 next to c, it gives a before/after of a change to
// synapse from one run, under the same load and the same noise.
//
// It rides into the environment through the gateway list (it is one more component started
// after synapse); nothing routes to it.
type ComparedSynapse struct {
	// Binary is the other build, e.g. go build -o /tmp/synapse-before ./synapse/cmd/synapse at
	// an earlier commit.
	Binary string
	// Secrets are its own (its admin token); the signing key is not used by synapse.
	Secrets stack.Secrets
	// Env is added to its environment, as harness.Options.SynapseEnv is to the current one's
	// (the decision cache's setting), so the two run alike.
	Env []string
}

var _ gateways.Gateway = (*ComparedSynapse)(nil)

// ComparedSynapseName is its component name.
const ComparedSynapseName = "synapse-compared"

// Name implements gateways.Gateway.
func (*ComparedSynapse) Name() string { return ComparedSynapseName }

// Detail implements gateways.Gateway.
func (c *ComparedSynapse) Detail() string { return "synapse built from " + c.Binary }

// Component implements gateways.Gateway: the stack's synapse component under another name,
// running Binary.
func (c *ComparedSynapse) Component(context.Context) (env.Component, error) {
	info, err := os.Stat(c.Binary)
	if err != nil {
		return env.Component{}, fmt.Errorf("compared synapse: %w", err)
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return env.Component{}, fmt.Errorf("compared synapse: %s is not an executable file", c.Binary)
	}
	own, err := stackComponent(c.Secrets, stack.Synapse)
	if err != nil {
		return env.Component{}, fmt.Errorf("compared synapse: %w", err)
	}
	out := renameComponent(own, ComparedSynapseName)
	out.Program = env.Program{Path: c.Binary}
	out.Env = append(slices.Clone(out.Env), c.Env...)
	return out, nil
}

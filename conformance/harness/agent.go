package harness

import (
	"context"
	"fmt"
	"os"

	"github.com/hopguard/hopguard/conformance/agentrun"
	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/sandbox"
	"github.com/hopguard/hopguard/conformance/scenarios"
)

// AgentRunner runs the agent of the scenarios in its sandbox; when no sandbox can be made
// here, it is nil and the error says why (the agent then runs in the scenarios' process).
func (h *Env) AgentRunner() (scenarios.AgentRunner, error) {
	if err := sandbox.Available(); err != nil {
		return nil, err
	}
	path, err := h.Program(agentrun.Package)
	if err != nil {
		return nil, err
	}
	return agentrun.Runner{Binary: path}, nil
}

// buildPrograms builds HarnessPrograms for an environment that did not (an attached one), in
// a directory of its own, which Close removes.
func (h *Env) buildPrograms(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "hopguard-harness-bin-")
	if err != nil {
		return fmt.Errorf("a directory for the harness's programs: %w", err)
	}
	built, err := binaries.Build(ctx, dir, HarnessPrograms...)
	if err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	h.programs, h.programsDir = built, dir
	return nil
}

package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hopguard/hopguard/conformance/agentrun"
	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime/container"
	"github.com/hopguard/hopguard/conformance/sandbox"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/mockservers/sts"
)

// stsPackage is the STS's command: a workload too, to which SPIRE gives the JWT bundle it checks
// the triage agent's JWT-SVIDs with.
const stsPackage = "./mockservers/cmd/mocksts"

// spire turns SPIRE on when asked and possible, and then starts the test driver's own STS; where
// it cannot run, it returns nil and h.Unattested says why. built holds the built commands once
// they are, before SPIRE starts (the registration entries name their binaries).
func (h *Env) spire(ctx context.Context, asked bool, runtimeName, runDir string, built map[string]string) (*stack.SPIREOptions, error) {
	if !asked {
		h.Unattested = errors.New("this run does not ask for SPIRE (the suites and the demo do; `make up` and the benchmark keep the triage agent's secret)")
		return nil, nil
	}
	if err := spireRunsHere(ctx, runtimeName, runDir); err != nil {
		h.Unattested = err
		return nil, nil
	}
	driver, err := startDriverSTS(h.Secrets)
	if err != nil {
		return nil, err
	}
	h.driverSTS = driver
	return &stack.SPIREOptions{Workloads: func(ctx context.Context) ([]stack.Workload, error) {
		agent := built[agentrun.Package]
		if agent == "" {
			return nil, errors.New("the agent is not built")
		}
		// The agent runs in its sandbox as nobody, from a copy of this very binary, on either
		// runtime: the sandbox is a process of this machine.
		triage, err := stack.BinaryWorkload(stack.TriageID, sandbox.Unprivileged, agent)
		if err != nil {
			return nil, err
		}
		self, err := stsWorkload(ctx, runtimeName, built[stsPackage])
		if err != nil {
			return nil, err
		}
		h.TriageSelectors = triage.Selectors
		return []stack.Workload{triage, self}, nil
	}}, nil
}

// stsWorkload is the STS's registration entry: the binary built here, run as this user, on the
// process runtime; on containers, its image's binary as the user the runtime runs it as.
func stsWorkload(ctx context.Context, runtimeName, built string) (stack.Workload, error) {
	if runtimeName == "container" {
		exe, err := container.ProgramExecutable(ctx, env.Program{Package: stsPackage})
		if err != nil {
			return stack.Workload{}, fmt.Errorf("the STS's workload: %w", err)
		}
		return stack.ExecutableWorkload(stack.STSID, exe.UID, exe.SHA256), nil
	}
	if built == "" {
		return stack.Workload{}, errors.New("the STS is not built")
	}
	return stack.BinaryWorkload(stack.STSID, os.Getuid(), built)
}

// RegisterWorkload registers one more workload with the environment's SPIRE, for a test that
// needs a process SPIRE attests as something else (its agent learns of it within seconds).
func (h *Env) RegisterWorkload(ctx context.Context, w stack.Workload) error {
	if h.SPIFFESocket == "" {
		return fmt.Errorf("SPIRE does not run here: %w", h.Unattested)
	}
	return stack.RegisterWorkload(ctx, filepath.Join(h.Runtime.Dir(), stack.SPIREServer), w)
}

// SPIREServer runs spire-server's CLI against the environment's SPIRE server (its admin socket).
func (h *Env) SPIREServer(ctx context.Context, args ...string) (string, error) {
	if h.SPIFFESocket == "" {
		return "", fmt.Errorf("SPIRE does not run here: %w", h.Unattested)
	}
	return stack.SPIREServerCommand(ctx, filepath.Join(h.Runtime.Dir(), stack.SPIREServer), args...)
}

// spireRunsHere says why SPIRE cannot attest the agent here, if it cannot: SPIRE's binaries must
// be installed (the harness runs spire-server's CLI on either runtime) and on containers their
// images built, its sockets must fit under runDir, and the agent must run in its sandbox as the
// user its entry names.
func spireRunsHere(ctx context.Context, runtimeName, runDir string) error {
	if err := stack.SocketsFit(runDir); err != nil {
		return err
	}
	for _, tool := range []string{"spire-server", "spire-agent"} {
		if _, err := binaries.Tool(tool); err != nil {
			return err
		}
		if runtimeName != "container" {
			continue
		}
		check, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := container.CheckImage(check, env.Program{Tool: tool})
		cancel()
		if err != nil {
			return err
		}
	}
	if err := sandbox.Available(); err != nil {
		return fmt.Errorf("SPIRE attests the agent by the user it runs as in its sandbox, and there is no sandbox here: %w", err)
	}
	return nil
}

// driverSTS is an STS of the test driver's own, in this process: the environment's signing key
// and issuer, and every demo principal with a secret, the triage workload's included. The
// environment's STS gives the triage identity only against the JWT-SVID that SPIRE gives the agent
// binary alone; the hops the driver makes as that workload itself (the scenarios' single hops,
// the bypass corpus) get their tokens here instead. Holding the signing key, the driver could
// mint them anyway.
type driverSTS struct {
	url    string
	server *http.Server
}

// DriverSTSURL is the test driver's own STS, when SPIRE runs; "" otherwise.
func (h *Env) DriverSTSURL() string {
	if h.driverSTS == nil {
		return ""
	}
	return h.driverSTS.url
}

func startDriverSTS(secrets stack.Secrets) (*driverSTS, error) {
	key, err := sts.ParseKeyPEM(secrets.SigningKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("the test driver's STS: %w", err)
	}
	srv, err := sts.New(sts.Config{Issuer: stack.Issuer, Key: key, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("the test driver's STS: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the test driver's STS: %w", err)
	}
	d := &driverSTS{url: "http://" + ln.Addr().String(), server: &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = d.server.Serve(ln) }()
	return d, nil
}

func (h *Env) closeDriverSTS() {
	if h.driverSTS == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = h.driverSTS.server.Shutdown(ctx)
	h.driverSTS = nil
}

// AgentIdentity says, for reports, where the autonomous triage agent's identity comes from in
// this environment.
func (h *Env) AgentIdentity() string {
	if h.SPIFFESocket == "" {
		if h.Unattested == nil {
			return "its client secret, not attested"
		}
		return fmt.Sprintf("its client secret, not attested (%v)", h.Unattested)
	}
	return fmt.Sprintf("its JWT-SVID from SPIRE's Workload API, which the %s runtime's SPIRE gives only to the agent binary running as nobody (%s); it has no secret",
		h.RuntimeName, strings.Join(h.TriageSelectors, ", "))
}

// Command demo is `make demo`: it brings hopguard's environment up on this machine (real Cerbos,
// synapse, the mock upstreams and STS behind one gateway: Envoy, Istio or agentgateway; as local
// processes or as containers), plays the story of the seed hop by hop with
// the real agent, writes the trail as a Mermaid sequence diagram, says where the logs and the
// audit trail are, and tears everything down, also on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/demo"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/internal/version"
)

const usage = `Usage: demo [flags]

Brings up hopguard's environment on 127.0.0.1 (ports chosen at start): real Cerbos 0.55 serving
policies/, synapse, the mock LLM and MCP servers (tickets, crm, payments, payroll), the STS, and
one gateway in front of them (--gateway):

  agentgateway  agentgateway v1.4.1 with the config of gateway-configs/agentgateway: the
                seed's gateway, and the default wherever it can run. make tools installs it
                into ./bin (from HOPGUARD_AGENTGATEWAY, a binary or an .xz of one, or from its
                image cr.agentgateway.dev/agentgateway:v1.4.1 where Docker can pull it); the
                container runtime runs its image. It binds every interface, so it runs only
                in a network namespace whose only interface is loopback, which the demo makes
                itself where it can (root or user namespaces)
  envoy         Envoy 1.40 with the config of gateway-configs/envoy: the default where
                agentgateway cannot run (the first line says why)
  istio         Envoy 1.40 fed Istio's own translation of gateway-configs/istio over ADS by
                istio-xds

on a runtime (--runtime, default $HOPGUARD_RUNTIME, else process):

  process       every component a local process; needs ./bin/cerbos and ./bin/envoy (make tools)
  container     every component a container of a local image (nothing is pulled), all in the
                network namespace of one sandbox container, loopback only: needs a Docker
                engine and the images (make images; the Makefile runs Cerbos, Envoy and
                agentgateway from the local stand-ins hopguard/<name>:dev,
                HOPGUARD_IMAGE_<NAME> chooses another image)

Everything runs in a network namespace of the demo's own whose only interface is loopback,
where one can be made (HOPGUARD_NETNS_SWITCH=off keeps the host's network).

Then the agent plays the story:

  1. alice's tier-1 support agent asks for a $9,000 refund: denied with a step-up, it escalates;
     payroll is denied at the handshake
  2. the autonomous triage agent asks for gpt-4o: denied, it is pinned to gpt-4o-mini; payments
     and payroll are denied at the handshake
  3. the triage agent's task is revoked mid-run: every later hop is denied

The story is the conformance suite's scenario "story" (conformance/scenarios), which the suite
plays behind every gateway; the demo plays the same definition with a narrator.

Every hop is narrated with its decision and reason. The trail (a Mermaid sequence diagram of
every hop) goes to <out>/trail.md; logs and decision logs stay under <out>/env. Everything
started is stopped at the end, on failure and on Ctrl-C. make demo does all of it:
make demo GATEWAY=istio, make demo RUNTIME=container.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, harness.Isolate)
	stop()
	os.Exit(code)
}

// isolator runs the program again in a loopback-only network namespace (harness.Isolate); tests
// pass one that stays put, since running a test binary again would run its tests.
type isolator func(ctx context.Context, runtimeName string, log io.Writer, who string) (netns.Where, int, bool)

func run(ctx context.Context, args []string, stdout, stderr io.Writer, isolate isolator) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	outDir := fs.String("out", "", "`directory` for the trail, the environment and its logs (default <repo>/out/demo)")
	timeout := fs.Duration("timeout", 5*time.Minute, "bound on the whole demo")
	gatewayName := fs.String("gateway", "", "the `gateway` the agent goes through: "+strings.Join(gateways.Names(), ", ")+" (default agentgateway where it can run, else envoy)")
	runtimeName := fs.String("runtime", harness.RuntimeNameFromEnv(), "the `runtime` the environment runs on: process or container")
	showVersion := version.Flag(fs)
	if exit, done := version.ParseCommand(fs, showVersion, "demo", args, stdout, stderr); done {
		return exit
	}
	if *runtimeName == "" {
		*runtimeName = "process"
	}
	if err := harness.CheckRuntimeName(*runtimeName); err != nil {
		fmt.Fprintf(stderr, "demo: --runtime: %v\n", err)
		return 2
	}
	if *gatewayName != "" {
		if _, err := gateways.ByName(*runtimeName, netns.Where{}, *gatewayName); err != nil {
			fmt.Fprintf(stderr, "demo: --gateway: %v\n", err)
			return 2
		}
	}
	// agentgateway binds every interface: the demo plays in a loopback-only network namespace
	// of its own where it can. The first line says where, so nothing is said here.
	network, code, exited := isolate(ctx, *runtimeName, io.Discard, "demo")
	if exited {
		return code
	}
	byName := func(name string) (gateways.Gateway, error) { return gateways.ByName(*runtimeName, network, name) }
	gateway, why, err := chooseGateway(ctx, *runtimeName, byName, *gatewayName)
	if err != nil {
		fmt.Fprintf(stderr, "demo: --gateway: %v\n", err)
		return 2
	}
	if *outDir == "" {
		root, err := binaries.ModuleRoot()
		if err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 1
		}
		*outDir = filepath.Join(root, "out", "demo")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := play(ctx, setting{outDir: *outDir, runtime: *runtimeName, gateway: gateway, why: why, network: network}, stdout); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "\ndemo: stopped (%v); everything it started has been stopped\n", context.Cause(ctx))
		} else {
			fmt.Fprintf(stderr, "\ndemo: %v\n", err)
		}
		return 1
	}
	return 0
}

// seedGateway is the gateway of the seed's story, the demo's default where it can run; fallback
// plays it where it cannot.
const (
	seedGateway = "agentgateway"
	fallback    = "envoy"
)

// chooseGateway is the gateway called name, or with no name the seed's gateway where it can
// run here and Envoy otherwise; why says why it was chosen, for the first line. byName makes
// a gateway for this run (gateways.ByName with the run's runtime and network).
func chooseGateway(ctx context.Context, runtimeName string, byName func(string) (gateways.Gateway, error), name string) (gateways.Gateway, string, error) {
	if name != "" {
		g, err := byName(name)
		return g, "as --gateway asks", err
	}
	g, err := byName(seedGateway)
	if err != nil {
		return nil, "", err
	}
	reason := harness.CanStart(ctx, runtimeName, g)
	if reason == nil {
		return g, "the seed's gateway", nil
	}
	g, err = byName(fallback)
	return g, fmt.Sprintf("%s cannot run here: %v", seedGateway, reason), err
}

// setting is where the story is played: the run's directory, the runtime, the gateway, why
// that gateway, and the network.
type setting struct {
	outDir  string
	runtime string
	gateway gateways.Gateway
	why     string
	network netns.Where
}

func play(ctx context.Context, set setting, out io.Writer) error {
	name := set.gateway.Name()
	fmt.Fprintf(out, "hopguard demo behind %s (%s): an agent's every hop goes through the gateway, which asks synapse, which asks Cerbos.\n", name, set.why)
	network := "in a network namespace of its own, loopback only"
	if !set.network.Isolated {
		network = fmt.Sprintf("on the host's network (no loopback-only namespace: %v)", set.network.Why)
	}
	fmt.Fprintf(out, "\n==> bringing the environment up on 127.0.0.1 %s: the %s runtime, the agent behind %s\n", network, set.runtime, name)
	// A gateway that cannot run on this runtime at all says so before anything starts.
	if _, err := set.gateway.Component(ctx); err != nil {
		return fmt.Errorf("%s cannot run here: %w", name, err)
	}
	h, err := harness.Up(ctx, harness.Options{
		OutDir: set.outDir, Gateways: []gateways.Gateway{set.gateway}, Observe: progress(out), NewRuntime: harness.RuntimeByName(set.runtime),
		SPIRE: true,
	})
	if err != nil {
		return err // Up has stopped whatever it started
	}
	defer func() {
		fmt.Fprintln(out, "\n==> tearing the environment down")
		if err := h.Close(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintln(out, "    stopping:", err)
			return
		}
		fmt.Fprintln(out, "    every component stopped")
	}()
	if reason, ok := h.NotRun[name]; ok {
		return fmt.Errorf("%s cannot run here: %w", name, reason)
	}
	env, err := h.Behind(name, "demo-"+strconv.FormatInt(time.Now().Unix(), 36))
	if err != nil {
		return err
	}

	// The story is scenarios.Story, the scenario the conformance suite plays behind every
	// gateway; the narrator tells it act by act and hop by hop.
	played := demo.Play(ctx, env, out)
	problems := demo.Problems(played)

	trailPath := filepath.Join(set.outDir, "trail.md")
	if err := writeTrail(trailPath, played, h, set.gateway); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n==> the record\n")
	fmt.Fprintf(out, "    trail (Mermaid sequence diagram of every hop): %s\n", trailPath)
	fmt.Fprintf(out, "    synapse's audit trail, one decision per line:  %s\n", h.AuditLogPath())
	fmt.Fprintf(out, "    Cerbos's decision log:                         %s\n", h.CerbosDecisionLogPath())
	fmt.Fprintf(out, "    component logs:                                %s\n", h.LogsDir())
	if len(problems) > 0 {
		fmt.Fprintln(out, "\n==> the story did not play as it should:")
		for _, p := range problems {
			fmt.Fprintln(out, "    -", p)
		}
		return fmt.Errorf("%d problem(s) in the story (see above)", len(problems))
	}
	return nil
}

func writeTrail(path string, played scenarios.Result, h *harness.Env, gateway gateways.Gateway) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write the trail: %w", err)
	}
	err = demo.WriteTrail(f, played, demo.Evidence{
		Gateway:     gateway.Name(),
		GatewayInfo: gateway.Detail() + ", on the " + h.RuntimeName + " runtime",
		AuditLog:    h.AuditLogPath(),
		CerbosLog:   h.CerbosDecisionLogPath(),
		LogsDir:     h.LogsDir(),
	})
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("write the trail: %w", err)
	}
	return nil
}

// progress prints a line as each component starts and becomes ready.
func progress(out io.Writer) runtime.Observer {
	return func(e runtime.Event) {
		switch e.Phase {
		case runtime.Starting:
			if e.Component == harness.BuildPhase {
				fmt.Fprintf(out, "    building hopguard's commands (%s; the first run compiles, later ones reuse the cache)\n", e.Detail)
				return
			}
			fmt.Fprintf(out, "    %-12s starting: %s\n", e.Component, e.Detail)
		case runtime.Ready:
			fmt.Fprintf(out, "    %-12s ready in %s\n", e.Component, e.Elapsed.Round(time.Millisecond))
		case runtime.Failed:
			fmt.Fprintf(out, "    %-12s FAILED after %s: %v\n", e.Component, e.Elapsed.Round(time.Millisecond), e.Err)
		}
	}
}

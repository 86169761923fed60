// Command up is `make up`: it brings hopguard's environment up and keeps it up until Ctrl-C, so
// that a user can send requests with curl, run the agent, or put their own gateway in front of
// it and point the suites at that gateway. It prints every endpoint, a ready command per
// principal and resource to get a token, the admin token's file and ready commands to create
// and revoke a task, and writes the same as JSON for scripts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/conformance/policywatch"
	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/internal/version"
	"github.com/hopguard/hopguard/synapse/tasks"
)

const usage = `Usage: up [flags]

Brings hopguard's environment up on 127.0.0.1 (ports chosen at start) and keeps it up until
Ctrl-C: real Cerbos 0.55 serving policies/, synapse, the STS, the mock LLM and MCP servers
(tickets, crm, payments, payroll), and one gateway in front of them (--gateway):

  envoy         Envoy 1.40 with the config of gateway-configs/envoy (the default)
  istio         Envoy 1.40 fed Istio's translation of gateway-configs/istio by istio-xds
  agentgateway  agentgateway v1.4.1; it binds every interface, so the environment then runs in
                a network namespace of its own, loopback only, and the printed lines say how
                to reach it (nsenter, as root)
  none          no gateway: put your own in front of the printed upstreams, with ext_authz to
                the printed synapse address, then verify it:
                make conformance EXTERNAL=<name>=http://127.0.0.1:<port>

It prints every endpoint, one command per principal and resource that gets a token from the
STS, the admin token's file and commands to create and revoke a task, and writes the same as
JSON to <out>/env.json (removed when it stops). A task is created for each principal. Ctrl-C
stops everything it started.

With --synapse-replicas=2 (or more), synapse runs as that many replicas sharing one task
registry in PostgreSQL, the gateway balancing its checks across them: revoke a task through one
replica's admin API and the next hop through any other is denied.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, harness.Isolate)
	stop()
	os.Exit(code)
}

// isolator runs the program again in a loopback-only network namespace (harness.Isolate).
type isolator func(ctx context.Context, runtimeName string, log io.Writer, who string) (netns.Where, int, bool)

// noGateway is --gateway's value for an environment without a gateway.
const noGateway = "none"

func run(ctx context.Context, args []string, stdout, stderr io.Writer, isolate isolator) int {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	outDir := fs.String("out", "", "`directory` for the environment, its logs, env.json and the admin token (default <repo>/out/up)")
	gatewayName := fs.String("gateway", "envoy", "the `gateway` in front: "+strings.Join(append(gateways.Names(), noGateway), ", "))
	runtimeName := fs.String("runtime", harness.RuntimeNameFromEnv(), "the `runtime` the environment runs on: process or container")
	startTimeout := fs.Duration("start-timeout", 5*time.Minute, "bound on bringing the environment up")
	replicas := fs.Int("synapse-replicas", 1, "how many synapse `replicas` run; 2 or more share one task registry in PostgreSQL (make tools installs it) and the gateway balances across them")
	showVersion := version.Flag(fs)
	if exit, done := version.ParseCommand(fs, showVersion, "up", args, stdout, stderr); done {
		return exit
	}
	if err := harness.CheckRuntimeName(*runtimeName); err != nil {
		fmt.Fprintf(stderr, "up: --runtime: %v\n", err)
		return 2
	}
	if *replicas < 1 || *replicas > maxReplicas {
		fmt.Fprintf(stderr, "up: --synapse-replicas: want 1 to %d, got %d\n", maxReplicas, *replicas)
		return 2
	}
	if *gatewayName != noGateway {
		if _, err := gateways.ByName(*runtimeName, netns.Where{}, *gatewayName); err != nil {
			fmt.Fprintf(stderr, "up: --gateway: %v\n", err)
			return 2
		}
	}
	if *outDir == "" {
		root, err := binaries.ModuleRoot()
		if err != nil {
			fmt.Fprintln(stderr, "up:", err)
			return 1
		}
		*outDir = filepath.Join(root, "out", "up")
	}

	// Everything binds loopback on the host's network, where the user's curl and gateway are;
	// only agentgateway, which binds every interface, needs a namespace of its own.
	network := netns.Where{Why: errors.New("make up serves the host's loopback")}
	if *gatewayName == "agentgateway" {
		var code int
		var exited bool
		if network, code, exited = isolate(ctx, *runtimeName, stderr, "up"); exited {
			return code
		}
	}
	var gws []gateways.Gateway
	if *gatewayName != noGateway {
		g, err := gateways.ByName(*runtimeName, network, *gatewayName)
		if err != nil {
			fmt.Fprintf(stderr, "up: --gateway: %v\n", err)
			return 2
		}
		gws = append(gws, g)
	}
	if err := up(ctx, setting{out: *outDir, runtime: *runtimeName, gateways: gws, network: network, startTimeout: *startTimeout, replicas: *replicas}, stdout); err != nil {
		fmt.Fprintf(stderr, "up: %v\n", err)
		return 1
	}
	return 0
}

// setting is what to bring up, and where.
type setting struct {
	out          string
	runtime      string
	gateways     []gateways.Gateway
	network      netns.Where
	startTimeout time.Duration
	replicas     int
}

// maxReplicas bounds --synapse-replicas: each replica is a process on this machine.
const maxReplicas = 8

// The principals of the environment, each with the ticket of the task up creates for it.
var principals = []struct {
	actor  scenarios.Actor
	roles  string
	ticket string
}{
	{scenarios.Alice, "tier-1-support", "T-1001"},
	{scenarios.Bob, "tier-2-lead", "T-1001"},
	{scenarios.Carol, "payroll-admin", "T-2001"},
	{scenarios.Triage, "triage-agent", "T-2001"},
	// The MCP conformance framework's client: everything on the conformance fixture server.
	{scenarios.MCPConformance, "mcp-conformance", "T-1001"},
}

func up(ctx context.Context, set setting, out io.Writer) error {
	fmt.Fprintf(out, "==> bringing hopguard's environment up on 127.0.0.1 (the %s runtime)\n", set.runtime)
	startCtx, cancel := context.WithTimeout(ctx, set.startTimeout)
	h, err := harness.Up(startCtx, harness.Options{
		OutDir: set.out, BinDir: filepath.Join(set.out, "bin"), Gateways: set.gateways,
		Observe: progress(out), NewRuntime: harness.RuntimeByName(set.runtime),
		SynapseReplicas: set.replicas,
	})
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "\n==> stopping the environment")
		if err := h.Close(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintln(out, "    stopping:", err)
			return
		}
		fmt.Fprintln(out, "    every component stopped")
	}()
	for name, reason := range h.NotRun {
		return fmt.Errorf("%s cannot run here: %w", name, reason)
	}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	control := &http.Server{Handler: harness.ControlHandler(h.Runtime, h.Secrets.AdminToken), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = control.Serve(listener) }()
	defer control.Close()

	tokenFile := filepath.Join(set.out, "admin-token")
	if err := os.WriteFile(tokenFile, []byte(h.Secrets.AdminToken+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the admin token: %w", err)
	}
	defer os.Remove(tokenFile)
	ps, err := createTasks(ctx, h)
	if err != nil {
		return err
	}
	published, err := harness.Publish(h, "http://"+listener.Addr().String(), tokenFile, ps)
	if err != nil {
		return err
	}
	if set.network.Isolated {
		published.Network = fmt.Sprintf("a network namespace of its own: enter it with nsenter --target %d --net (as root)", os.Getpid())
	}
	jsonPath := filepath.Join(set.out, "env.json")
	if err := published.Write(jsonPath); err != nil {
		return err
	}
	defer os.Remove(jsonPath)

	var examples []Example
	if len(set.gateways) == 0 {
		if examples, err = writeExamples(published, filepath.Join(set.out, "examples")); err != nil {
			return err
		}
	}
	writeGuide(out, published, jsonPath, set.network)
	writeVerifyGuide(out, examples)
	if err := followPolicies(ctx, h, out); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n==> up; Ctrl-C stops everything")
	<-ctx.Done()
	return nil
}

// policyPoll is how often `make up` looks at what Cerbos decides with.
const policyPoll = 2 * time.Second

// followPolicies says where the policies Cerbos watches are and, until ctx ends, prints each
// change of the version it decides under and each policy file it refuses.
func followPolicies(ctx context.Context, h *harness.Env, out io.Writer) error {
	cerbos, err := h.URL(stack.Cerbos)
	if err != nil {
		return err
	}
	version, err := policywatch.Served(ctx, http.DefaultClient, cerbos)
	if err != nil {
		return err
	}
	dir := stack.PolicyDirIn(h.Runtime.Dir())
	fmt.Fprintf(out, "\n==> policies: Cerbos decides under %s, and watches %s\n", version, dir)
	fmt.Fprintf(out, "    change a file there (write it elsewhere and rename it in), then: go run ./policies/cmd/stamp %s\n", dir)
	// Follow reports from one goroutine, a line at a time.
	go policywatch.Follow(ctx, http.DefaultClient, cerbos, h.Runtime.LogPath(stack.Cerbos), policyPoll, func(line string) {
		fmt.Fprintf(out, "    policy: %s\n", line)
	})
	return nil
}

// createTasks makes one task per principal, so that the printed commands work as they are.
func createTasks(ctx context.Context, h *harness.Env) ([]harness.Principal, error) {
	admin, err := h.Admin()
	if err != nil {
		return nil, err
	}
	var ps []harness.Principal
	for _, p := range principals {
		id := fmt.Sprintf("up-%s-%s", p.actor.Name, p.ticket)
		if _, err := admin.Create(ctx, tasks.NewTask{ID: id, Principal: p.actor.Creds.ClientID, AgentID: p.actor.AgentID, TicketID: p.ticket}); err != nil {
			return nil, fmt.Errorf("create the task of %s: %w", p.actor.Name, err)
		}
		ps = append(ps, harness.Principal{
			Name: p.actor.Name, ClientID: p.actor.Creds.ClientID, ClientSecret: p.actor.Creds.ClientSecret,
			AgentID: p.actor.AgentID, Roles: p.roles, TaskID: id, Ticket: p.ticket,
		})
	}
	return ps, nil
}

// progress prints a line as each component becomes ready.
func progress(out io.Writer) runtime.Observer {
	return func(e runtime.Event) {
		switch e.Phase {
		case runtime.Ready:
			fmt.Fprintf(out, "    %-12s ready in %s\n", e.Component, e.Elapsed.Round(time.Millisecond))
		case runtime.Failed:
			fmt.Fprintf(out, "    %-12s FAILED after %s: %v\n", e.Component, e.Elapsed.Round(time.Millisecond), e.Err)
		}
	}
}

// Package cli is the agent command's flags, environment and output: what
// agent/cmd/agent runs, callable in-process by tests and the demo.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/narrate"
	"github.com/hopguard/hopguard/internal/version"
)

// envPrefix prefixes the environment variable that stands in for each flag:
// --client-secret is HOPGUARD_AGENT_CLIENT_SECRET.
const envPrefix = "HOPGUARD_AGENT_"

const usageText = `Usage: agent [flags]

agent works one support ticket as hopguard's triage agent. It reaches its
model and its MCP tool servers only through the gateway:

  1. It gets a bootstrap token for --client-id at the STS (with
     --actor-client-id, the agent workload's own token too: it then acts for
     that user) and exchanges it for one token per resource: llm and
     mcp:<server> for every server in --servers. An autonomous workload
     proves its SPIFFE ID (--client-id) with a JWT-SVID from the SPIFFE
     Workload API at --spiffe-socket (SPIRE's agent) instead of a secret.
  2. It opens every MCP server at <gateway>/mcp/<server> with that server's
     token and lists its tools. A server the gateway denies is reported and
     left out; its tools never reach the model.
  3. It asks --model at <gateway>/v1 (OpenAI API, the llm token as API key)
     to work --ticket with the tools it has, runs the tool calls, and feeds
     the results back (a denied tool call is given to the model as the
     tool's result), until the model answers or --max-steps is reached.

Every hop is printed as it happens, one line each:
  [mcp payments] tools/call refund_issue -> DENY refund_cap_exceeded: ...
With --json, one JSON object per hop ({"type":"hop",...}) and a final
{"type":"summary",...} instead.

Exit codes:
  0  the model finished its work (denials on the way are in the hops)
  2  a denial stopped the run (its model call was denied, with no fallback)
  1  anything else: bad flags, STS or upstream errors, the step limit

Every flag but --version can also be set by an environment variable:
HOPGUARD_AGENT_ and the flag's name in upper case with '-' as '_'
(--client-secret is HOPGUARD_AGENT_CLIENT_SECRET). A flag on the command
line wins. Prefer the environment for secrets: the command line is visible
to other users. --version prints the version line on stdout and exits 0.

Flags:
`

// options are the parsed flags.
type options struct {
	gateway, llmURL, mcpTemplate, servers   string
	sts, clientID, clientSecret             string
	actorClientID, actorClientSecret        string
	spiffeSocket, spiffeAudience            string
	agentID, harnessVersion, taskID, ticket string
	model, fallbackModel, systemPromptFile  string
	maxSteps, modelRetries                  int
	timeout, requestTimeout                 time.Duration
	asJSON, showVersion                     bool
	logLevel                                string
}

func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.gateway, "gateway", "http://127.0.0.1:8080", "gateway base URL")
	fs.StringVar(&o.llmURL, "llm-url", "", "OpenAI base URL of the model route (default <gateway>/v1)")
	fs.StringVar(&o.mcpTemplate, "mcp-url-template", "", "MCP server URL with {server} for its name (default <gateway>/mcp/{server})")
	fs.StringVar(&o.servers, "servers", strings.Join(loop.DefaultServers(), ","), "comma-separated MCP servers to open")
	fs.StringVar(&o.sts, "sts", "http://127.0.0.1:8081", "STS base URL (gets /oauth2/token) or its token endpoint")
	fs.StringVar(&o.clientID, "client-id", "", "bootstrap client id: a user (alice) or the workload's SPIFFE ID when autonomous (required)")
	fs.StringVar(&o.clientSecret, "client-secret", "", "bootstrap client secret (required unless --spiffe-socket; prefer HOPGUARD_AGENT_CLIENT_SECRET)")
	fs.StringVar(&o.spiffeSocket, "spiffe-socket", "", "SPIFFE Workload API address (unix:///path): the workload proves --client-id, its SPIFFE ID, with a JWT-SVID instead of a secret")
	fs.StringVar(&o.spiffeAudience, "spiffe-audience", identity.DefaultSPIFFEAudience, "audience of the JWT-SVID: the STS's issuer")
	fs.StringVar(&o.actorClientID, "actor-client-id", "", "the agent workload's own client id, when acting for the --client-id user")
	fs.StringVar(&o.actorClientSecret, "actor-client-secret", "", "the agent workload's own client secret")
	fs.StringVar(&o.agentID, "agent-id", "triage-agent", "agent id the launcher attests (token claim agent_id)")
	fs.StringVar(&o.harnessVersion, "harness-version", "0.1.0", "harness version the launcher attests (token claim harness_version)")
	fs.StringVar(&o.taskID, "task-id", "", "task the run is bound to (token claim task_id)")
	fs.StringVar(&o.ticket, "ticket", "", "the ticket to work, e.g. T-1001 (required)")
	fs.StringVar(&o.model, "model", loop.DefaultModel, "model to ask for")
	fs.StringVar(&o.fallbackModel, "fallback-model", "", "model to ask for instead once --model is denied (default: none, the run stops)")
	fs.StringVar(&o.systemPromptFile, "system-prompt-file", "", "file holding instructions that replace the default system prompt")
	fs.IntVar(&o.maxSteps, "max-steps", loop.DefaultMaxSteps, "most model calls in one run")
	fs.IntVar(&o.modelRetries, "model-retries", 2, "retries of a retryable model failure (a denial is never retried)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "bound on the whole run")
	fs.DurationVar(&o.requestTimeout, "request-timeout", 30*time.Second, "bound on each request")
	fs.BoolVar(&o.asJSON, "json", false, "write one JSON object per hop and a summary, instead of text")
	fs.StringVar(&o.logLevel, "log-level", "warn", "stderr log level: debug, info, warn, error")
	fs.BoolVar(&o.showVersion, "version", false, version.Usage)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	return fs
}

// parse reads flags, then fills every flag not given from its environment
// variable (all but --version, which only the command line asks for, and
// after which nothing else is read).
func parse(args []string, stderr io.Writer, lookupEnv func(string) (string, bool)) (options, error) {
	var o options
	fs := newFlagSet(&o, stderr)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.showVersion {
		return o, nil
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || f.Name == "version" {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookupEnv(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	})
	return o, errors.Join(errs...)
}

func (o options) config(logger *slog.Logger) (loop.Config, error) {
	cfg := loop.Config{
		GatewayURL:     o.gateway,
		LLMURL:         o.llmURL,
		MCPURLTemplate: o.mcpTemplate,
		STSURL:         o.sts,
		Subject:        identity.ClientCredentials{ClientID: o.clientID, ClientSecret: o.clientSecret},
		Attestation:    identity.Attestation{AgentID: o.agentID, HarnessVersion: o.harnessVersion, TaskID: o.taskID},
		Ticket:         o.ticket,
		Model:          o.model,
		FallbackModel:  o.fallbackModel,
		MaxSteps:       o.maxSteps,
		ModelRetries:   o.modelRetries,
		RequestTimeout: o.requestTimeout,
		Logger:         logger,
	}
	for _, s := range strings.Split(o.servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Servers = append(cfg.Servers, s)
		}
	}
	if o.spiffeSocket != "" {
		cfg.Subject.SPIFFE = &identity.SPIFFE{Socket: o.spiffeSocket, Audience: o.spiffeAudience}
	}
	if o.actorClientID != "" || o.actorClientSecret != "" {
		cfg.Actor = &identity.ClientCredentials{ClientID: o.actorClientID, ClientSecret: o.actorClientSecret}
	}
	if o.systemPromptFile != "" {
		raw, err := os.ReadFile(o.systemPromptFile)
		if err != nil {
			return cfg, fmt.Errorf("system prompt: %w", err)
		}
		cfg.SystemPrompt = string(raw)
	}
	return cfg, nil
}

// Main runs the agent command with args (without the program name), writing
// the narrative to stdout and logs to stderr, and returns the exit code:
// loop.ExitSuccess, loop.ExitDenied or loop.ExitError. lookupEnv is
// os.LookupEnv in the binary.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	o, err := parse(args, stderr, lookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		return loop.ExitSuccess
	}
	if err != nil {
		fmt.Fprintf(stderr, "agent: %v\n", err)
		return loop.ExitError
	}
	if o.showVersion {
		fmt.Fprintln(stdout, version.Line("agent"))
		return loop.ExitSuccess
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(stderr, "agent: --log-level: %v\n", err)
		return loop.ExitError
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := o.config(logger)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "agent: %v\n", err)
		return loop.ExitError
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	out := narrate.New(stdout, o.asJSON)
	cfg.OnHop = out.Hop
	res, err := loop.Run(ctx, cfg)
	out.Summary(res)
	if err != nil {
		logger.Debug("run ended", "outcome", res.Outcome, "error", err)
	}
	return res.Outcome.ExitCode()
}

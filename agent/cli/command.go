package cli

import (
	"errors"
	"strconv"
	"strings"

	"github.com/hopguard/hopguard/agent/loop"
)

// Command is the agent command that runs cfg in a process of its own, for a launcher that
// keeps the agent apart (the conformance harness runs it in a sandbox): its arguments, always
// with --json so that the launcher can read every hop and the result back
// (narrate.ReadJSON), and the environment that carries the client secrets, which never go on
// a command line, where other users can read them.
//
// It is the inverse of the command's parsing. What a command line cannot say is the
// launcher's to provide: HTTPClient, Logger and OnHop are left out, and a SystemPrompt,
// ClientName or ClientVersion of cfg's own is an error.
func Command(cfg loop.Config) (args, env []string, err error) {
	switch {
	case cfg.SystemPrompt != "":
		return nil, nil, errors.New("agent command: a system prompt goes in a file (--system-prompt-file)")
	case cfg.ClientName != "" || (cfg.ClientVersion != "" && cfg.ClientVersion != cfg.Attestation.HarnessVersion):
		return nil, nil, errors.New("agent command: the MCP client name and version are the command's own")
	}
	flag := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name+"="+value)
		}
	}
	flag("gateway", cfg.GatewayURL)
	flag("llm-url", cfg.LLMURL)
	flag("mcp-url-template", cfg.MCPURLTemplate)
	flag("servers", strings.Join(cfg.Servers, ","))
	flag("sts", cfg.STSURL)
	flag("client-id", cfg.Subject.ClientID)
	if id := cfg.Subject.SPIFFE; id != nil {
		flag("spiffe-socket", id.Socket)
		flag("spiffe-audience", id.Audience)
	} else {
		env = append(env, envPrefix+"CLIENT_SECRET="+cfg.Subject.ClientSecret)
	}
	if cfg.Actor != nil {
		flag("actor-client-id", cfg.Actor.ClientID)
		env = append(env, envPrefix+"ACTOR_CLIENT_SECRET="+cfg.Actor.ClientSecret)
	}
	flag("agent-id", cfg.Attestation.AgentID)
	flag("harness-version", cfg.Attestation.HarnessVersion)
	flag("task-id", cfg.Attestation.TaskID)
	flag("ticket", cfg.Ticket)
	flag("model", cfg.Model)
	flag("fallback-model", cfg.FallbackModel)
	if cfg.MaxSteps > 0 {
		flag("max-steps", strconv.Itoa(cfg.MaxSteps))
	}
	flag("model-retries", strconv.Itoa(cfg.ModelRetries))
	flag("request-timeout", cfg.RequestTimeout.String()) // 0s too: no bound but the run's
	args = append(args, "--json")
	return args, env, nil
}

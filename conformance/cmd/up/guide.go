package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/conformance/stack"
)

// Grant and token types of the STS (RFC 6749, RFC 8693).
const (
	grantClientCredentials = "client_credentials"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
)

// accessToken cuts the access token out of the STS's JSON answer with sed, which every shell
// has (jq is not everywhere).
const accessToken = `sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'`

// tokenCommand is a shell command that sets TOKEN to p's token for resource: a bootstrap token
// for p's task, exchanged for one whose audience is the resource.
func tokenCommand(sts string, p harness.Principal, resource string) string {
	bootstrap := fmt.Sprintf("curl -s %s/oauth2/token -d grant_type=%s --data-urlencode client_id=%s -d client_secret=%s -d agent_id=%s -d harness_version=up -d task_id=%s | %s",
		sts, grantClientCredentials, p.ClientID, p.ClientSecret, p.AgentID, p.TaskID, accessToken)
	return fmt.Sprintf(`TOKEN=$(curl -s %s/oauth2/token -d grant_type=%s -d subject_token_type=%s -d resource=%s --data-urlencode "subject_token=$(%s)" | %s)`,
		sts, grantTokenExchange, tokenTypeJWT, resource, bootstrap, accessToken)
}

// resources are the routes' resources in the order the guide shows them.
func resources(p harness.Published) []string {
	out := []string{"llm"}
	for r := range p.Routes {
		if r != "llm" {
			out = append(out, r)
		}
	}
	slices.Sort(out[1:])
	return out
}

// writeGuide prints what a user needs to use the running environment from another terminal.
func writeGuide(out io.Writer, p harness.Published, jsonPath string, network netns.Where) {
	sts := p.URL(stack.STS)
	admin := "http://" + p.Endpoints[stack.Synapse][stack.PortAdmin]
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	say("\n==> the environment (the same as JSON: %s)", jsonPath)
	if network.Isolated {
		say("    network: %s; run every command below inside it", p.Network)
	}
	for _, g := range p.Gateways {
		say("    gateway %-14s %s   (model route %s, MCP routes %s)", g, p.URL(g), p.Routes["llm"], "/mcp/<server>")
	}
	if len(p.Gateways) == 0 {
		say("    no gateway: put yours in front of the upstreams below (docs/YOUR-GATEWAY.md)")
	}
	say("    synapse ext_authz (gRPC)  %s", p.Endpoints[stack.Synapse][stack.PortGRPC])
	say("    synapse admin API         %s   (bearer: the admin token)", admin)
	for i := 2; len(p.Endpoints[stack.SynapseReplica(i)]) > 0; i++ {
		r := p.Endpoints[stack.SynapseReplica(i)]
		say("    %-25s ext_authz %s, admin API http://%s", stack.SynapseReplica(i), r[stack.PortGRPC], r[stack.PortAdmin])
	}
	if pg := p.Endpoints[stack.Postgres][stack.PortSQL]; pg != "" {
		say("    PostgreSQL (task registry) %s   (role %s; password in %s)", pg, stack.PostgresUser, filepath.Join(p.Dir, stack.Postgres, stack.PostgresPasswordFile))
	}
	say("    admin token               %s", p.AdminTokenFile)
	say("    STS                       %s   (token endpoint %s/oauth2/token)", sts, sts)
	say("    Cerbos                    gRPC %s, HTTP %s", p.Endpoints[stack.Cerbos][stack.PortGRPC], p.Endpoints[stack.Cerbos][stack.PortHTTP])
	for _, r := range resources(p) {
		up := p.Upstreams[r]
		say("    upstream %-16s %s   (route %s; what reached it: GET %s/_journal)", r, p.URL(up), p.Routes[r], p.URL(up))
	}
	say("    synapse's audit log       %s", p.AuditLog)
	say("    Cerbos's decision log     %s", p.CerbosDecisionLog)
	say("    component logs            %s", p.Logs)

	say("\n==> tasks (one per principal, created at start)")
	for _, pr := range p.Principals {
		say("    %-7s %s (%s): task %s on %s", pr.Name, pr.ClientID, pr.Roles, pr.TaskID, pr.Ticket)
	}
	say("    create one:  curl -s -X POST %s/v1/tasks -H \"Authorization: Bearer $(cat %s)\" -d '{\"id\":\"my-task\",\"principal\":\"alice\",\"agent_id\":\"support-agent\",\"ticket_id\":\"T-1001\"}'", admin, p.AdminTokenFile)
	say("    revoke it:   curl -s -X POST %s/v1/tasks/my-task/revoke -H \"Authorization: Bearer $(cat %s)\"", admin, p.AdminTokenFile)

	say("\n==> a token (sets $TOKEN) for each principal and resource")
	for _, pr := range p.Principals {
		for _, r := range resources(p) {
			say("    # %s, %s\n    %s", pr.Name, r, tokenCommand(sts, pr, r))
		}
	}
	if len(p.Gateways) == 0 {
		return
	}
	gw := p.URL(p.Gateways[0])
	alice := p.Principals[0]
	say("\n==> a hop through %s (after alice's llm token above)", p.Gateways[0])
	say(`    curl -s %s/v1/chat/completions -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Work ticket %s."}]}'`, gw, alice.Ticket)
	say("    (gpt-4o-mini is allowed; the triage agent's token with \"gpt-4o\" is denied with a structured reason)")
	say("\n==> the agent, in another terminal")
	say("    %s", agentCommand(gw, sts, alice, "gpt-4o"))
	var triage harness.Principal
	for _, pr := range p.Principals {
		if pr.Name == "triage" {
			triage = pr
		}
	}
	if triage.Name != "" {
		say("    %s --fallback-model gpt-4o-mini", agentCommand(gw, sts, triage, "gpt-4o"))
	}
}

// agentCommand runs hopguard's agent as principal p on its task's ticket.
func agentCommand(gateway, sts string, p harness.Principal, model string) string {
	return strings.Join([]string{
		"go run ./agent/cmd/agent",
		"--gateway " + gateway,
		"--sts " + sts,
		"--client-id " + p.ClientID,
		"--client-secret " + p.ClientSecret,
		"--agent-id " + p.AgentID,
		"--task-id " + p.TaskID,
		"--ticket " + p.Ticket,
		"--model " + model,
	}, " ")
}

// writeVerifyGuide says, with no gateway up, how to put one's own in front and verify it.
func writeVerifyGuide(out io.Writer, examples []Example) {
	if len(examples) == 0 {
		return
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	say("\n==> your gateway: route /v1 to the llm upstream and /mcp/<server> to each MCP upstream above,")
	say("    ask synapse first over ext_authz gRPC v3 (body as bytes, at most 1 MiB; failure mode deny;")
	say("    each route names its resource, context extension \"resource\"; the provider key added after")
	say("    authorization), as docs/YOUR-GATEWAY.md says. Worked examples for these addresses:")
	for _, e := range examples {
		say("    %-13s %s\n                  run: %s", e.Gateway, e.File, e.Run)
	}
	say("    then, in another terminal:  make conformance EXTERNAL=mygateway=%s", examples[0].Front)
}

package scenarios

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/openai/openai-go/v3"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/model"
	"github.com/hopguard/hopguard/agent/tools"
	"github.com/hopguard/hopguard/agent/trace"
)

// outcome is what the agent saw of one hop.
type outcome struct {
	denial *denial.Denial // set when the gateway denied the hop
	err    error          // set when the hop failed for another reason
	note   string         // what came back when it went through
}

func (o outcome) denied() bool { return o.denial != nil }

// perform makes the hop with the agent's own clients and reports what the agent saw.
func (r *Run) perform(ctx context.Context, step Step) outcome {
	ctx, cancel := context.WithTimeout(ctx, hopTimeout)
	defer cancel()
	switch step.Hop.Kind {
	case Model:
		return r.modelCall(ctx, step)
	case ListModels:
		return r.listModels(ctx, step)
	case Handshake:
		_, out := r.session(ctx, step, true)
		return out
	case ListTools:
		s, out := r.session(ctx, step, false)
		if s == nil {
			return out
		}
		listed, err := s.ListTools(ctx)
		if err != nil {
			return fromError(err)
		}
		names := make([]string, 0, len(listed))
		for _, t := range listed {
			names = append(names, t.Name)
		}
		return outcome{note: strings.Join(names, ",")}
	case CallTool:
		s, out := r.session(ctx, step, false)
		if s == nil {
			return out
		}
		res, err := s.Call(ctx, step.Hop.Tool, step.Hop.Args)
		if err != nil {
			return fromError(err)
		}
		if res.Denial != nil {
			return outcome{denial: res.Denial}
		}
		if res.IsError {
			return outcome{err: fmt.Errorf("the tool itself failed: %s", res.Text)}
		}
		return outcome{note: res.Text}
	case ListResources, ReadResource, GetPrompt:
		return r.content(ctx, step)
	default:
		return outcome{err: fmt.Errorf("hop kind %d cannot be performed directly", step.Hop.Kind)}
	}
}

// content makes a hop on an MCP server's documents or prompts.
func (r *Run) content(ctx context.Context, step Step) outcome {
	s, out := r.session(ctx, step, false)
	if s == nil {
		return out
	}
	var (
		note string
		err  error
	)
	switch step.Hop.Kind {
	case ListResources:
		var listed []mcp.Resource
		if listed, err = s.ListResources(ctx); err == nil {
			uris := make([]string, 0, len(listed))
			for _, res := range listed {
				uris = append(uris, res.URI)
			}
			note = strings.Join(uris, ",")
		}
	case ReadResource:
		note, err = s.ReadResource(ctx, step.Hop.URI)
	case GetPrompt:
		note, err = s.GetPrompt(ctx, step.Hop.Prompt, step.Hop.PromptArgs)
	}
	if err != nil {
		return fromError(err)
	}
	return outcome{note: note}
}

func (r *Run) modelCall(ctx context.Context, step Step) outcome {
	client, err := r.modelClient(ctx, step)
	if err != nil {
		return outcome{err: err}
	}
	messages := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Work ticket " + step.Ticket + ".")}
	completion, err := client.Complete(ctx, step.Hop.Model, messages, nil)
	if err != nil {
		return fromError(err)
	}
	return outcome{note: completion.Model}
}

// modelClient is the agent's model client for the step's actor and token, through the gateway.
func (r *Run) modelClient(ctx context.Context, step Step) (*model.Client, error) {
	token, err := r.tokenFunc(ctx, step)
	if err != nil {
		return nil, err
	}
	return model.New(model.Config{BaseURL: r.env.GatewayURL + loop.DefaultLLMPath, Token: token, HTTPClient: r.httpClient(step)})
}

func (r *Run) listModels(ctx context.Context, step Step) outcome {
	client, err := r.modelClient(ctx, step)
	if err != nil {
		return outcome{err: err}
	}
	ids, err := client.ListModels(ctx)
	if err != nil {
		return fromError(err)
	}
	return outcome{note: strings.Join(ids, ",")}
}

// session returns the open session of the step's actor, ticket and server, opening one when
// needed. Sessions opened with the actor's own token are kept for later steps; keep says the
// step is itself the handshake.
func (r *Run) session(ctx context.Context, step Step, handshake bool) (*tools.Session, outcome) {
	key := sessionKey{taskKey{step.As.Name, step.Ticket}, step.Hop.Server}
	own := step.Token.Kind == OwnToken
	if s, ok := r.sessions[key]; ok && own && !handshake {
		return s, outcome{}
	}
	token, err := r.tokenFunc(ctx, step)
	if err != nil {
		return nil, outcome{err: err}
	}
	s, err := tools.Open(ctx, tools.ServerConfig{
		Name:  step.Hop.Server,
		URL:   strings.ReplaceAll(r.env.GatewayURL+loop.DefaultMCPTemplate, loop.ServerPlaceholder, step.Hop.Server),
		Token: token,
	}, tools.Options{HTTPClient: r.httpClient(step), ClientName: "hopguard-conformance", ClientVersion: "0.1.0",
		Elicitation: answers{}, Sampling: answers{}})
	if err != nil {
		return nil, fromError(err)
	}
	if !own {
		r.cleanups = append(r.cleanups, func() { _ = s.Close() })
		return s, outcome{}
	}
	if old, ok := r.sessions[key]; ok {
		_ = old.Close()
	}
	r.sessions[key] = s
	return s, outcome{}
}

// fromError tells a gateway denial from any other failure.
func fromError(err error) outcome {
	if d, ok := denial.From(err); ok {
		return outcome{denial: &d, err: err}
	}
	return outcome{err: err}
}

// runAgent runs the whole agent on the step's ticket with the step's models, telling the
// observer each hop as the agent makes it (before the step's own OnHop, so that what the step
// does about a hop comes after the hop in the narration). It returns the run's task id.
func (r *Run) runAgent(ctx context.Context, step Step) (loop.Result, string, error) {
	att, err := r.attestation(ctx, step.As, step.Ticket)
	if err != nil {
		return loop.Result{}, "", err
	}
	r.c.logf("task %s: %s as %s on %s, created through synapse's admin API", att.TaskID, step.As.Creds.ClientID, step.As.AgentID, step.Ticket)
	subject := step.As.Creds
	switch {
	case step.As.Workload && r.env.SPIFFESocket != "":
		subject = identity.ClientCredentials{ClientID: subject.ClientID, SPIFFE: &identity.SPIFFE{Socket: r.env.SPIFFESocket, Audience: identity.DefaultSPIFFEAudience}}
		r.c.logf("attested by SPIRE as %s (selectors %s): no secret; the agent binary, running as nobody in its sandbox, gets the JWT-SVID it presents to the STS", subject.ClientID, strings.Join(r.env.WorkloadSelectors, ", "))
	case step.As.Workload:
		r.c.logf("%s is not attested by SPIRE here, and uses a client secret: %v", subject.ClientID, r.env.Unattested)
	}
	cfg := loop.Config{
		GatewayURL:     r.env.GatewayURL,
		STSURL:         r.env.STSURL,
		Subject:        subject,
		Attestation:    att,
		Ticket:         step.Ticket,
		Model:          step.Hop.Model,
		FallbackModel:  step.Hop.FallbackModel,
		RequestTimeout: hopTimeout,
		HTTPClient:     r.http,
	}
	if step.Hop.AgentRun != nil {
		step.Hop.AgentRun(r, &cfg)
	}
	if observe := r.observe.Hop; observe != nil {
		var mu sync.Mutex
		own := cfg.OnHop
		cfg.OnHop = func(h trace.Hop) {
			mu.Lock()
			defer mu.Unlock()
			observe(step, h)
			if own != nil {
				own(h)
			}
		}
	}
	run := loop.Run
	if r.env.Agent != nil {
		r.c.logf("the agent runs in its sandbox: a network of its own whose only ways out are the gateway and the STS's token endpoint")
		run = r.env.Agent.Run
	} else {
		r.c.logf("the agent runs in this process, not sandboxed: %v", r.env.AgentUnsandboxed)
	}
	res, err := run(ctx, cfg)
	if err != nil && res.Outcome == loop.Failed {
		return res, att.TaskID, fmt.Errorf("the agent run failed: %w", err)
	}
	return res, att.TaskID, nil
}

// recoveryTimeout bounds the wait for the environment to decide again after a restart.
const recoveryTimeout = 30 * time.Second

// untilAllowed repeats an allowed hop until it goes through: a wait for readiness, not a check.
func (r *Run) untilAllowed(ctx context.Context, step Step, timeout time.Duration) error {
	return r.until(ctx, step, timeout, true)
}

// untilDenied repeats step until it is denied: after Cerbos stops, synapse may still answer a
// hop from its decision cache until its readiness probe notices (synapse/authz, cache.go).
func (r *Run) untilDenied(ctx context.Context, step Step, timeout time.Duration) error {
	return r.until(ctx, step, timeout, false)
}

func (r *Run) until(ctx context.Context, step Step, timeout time.Duration, allowed bool) error {
	want := "allowed"
	if !allowed {
		want = "denied"
	}
	deadline := time.Now().Add(timeout)
	for {
		out := r.perform(ctx, step)
		r.capture.take()
		if allowed == (!out.denied() && out.err == nil) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hops still not %s after %s: %s", want, timeout, out.denialText())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// answers is the suite's client answering what a server asks mid-call: it confirms, and drafts
// with a fixed text.
type answers struct{}

func (answers) Elicit(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"approve": true}}}, nil
}

func (answers) CreateMessage(context.Context, mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	return &mcp.CreateMessageResult{SamplingMessage: mcp.SamplingMessage{Role: mcp.RoleAssistant,
		Content: mcp.NewTextContent("We are on it.")}, Model: "gpt-4o-mini"}, nil
}

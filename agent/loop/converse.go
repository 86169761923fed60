package loop

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openai/openai-go/v3"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/agent/model"
	"github.com/hopguard/hopguard/agent/tools"
	"github.com/hopguard/hopguard/agent/trace"
)

// maxToolResultBytes bounds what one tool result adds to the conversation.
const maxToolResultBytes = 32 << 10

// defaultSystemPrompt tells the model its job and, above all, what to do with
// a denial: it is a signal to act on, not an error to retry.
const defaultSystemPrompt = `You are a customer-support triage agent. You work exactly one ticket, the one named by the user; never act on any other ticket.
Read the ticket, look up the customer, and do what the customer asks if your tools allow it.
Every tool call passes an authorization policy. When a tool result says the call was denied, do not retry it: read the reason and the remediation, and update the ticket to tell the customer what happens next (for example, that the request needs approval by a higher tier).
When you are done, reply with a short summary of what you did.`

// converse runs the model/tool loop until the model answers without calling
// a tool, a denial stops it, or the step limit is reached.
func (r *run) converse(ctx context.Context) error {
	mc, err := r.newModel()
	if err != nil {
		return r.stop(Failed, err)
	}
	prompt := r.cfg.SystemPrompt
	if prompt == "" {
		prompt = defaultSystemPrompt
	}
	messages := []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage(prompt),
		openai.UserMessage(fmt.Sprintf("Work ticket %s.", r.cfg.Ticket)),
	}
	var offered []model.Tool
	for _, f := range r.box.Functions() {
		offered = append(offered, model.Tool{Name: f.Name, Description: f.Description, Parameters: f.Parameters})
	}

	modelName := r.cfg.Model
	fellBack := false
	for step := 1; step <= r.cfg.MaxSteps; step++ {
		if err := ctx.Err(); err != nil {
			return r.stop(Failed, fmt.Errorf("step %d: %w", step, err))
		}
		r.result.Model, r.result.Steps = modelName, step
		completion, err := mc.Complete(ctx, modelName, messages, offered)
		hop := trace.Hop{Step: step, Plane: trace.PlaneLLM, Target: modelName, Action: "completion"}
		if d, denied := denial.From(err); denied {
			hop.Decision, hop.Reason, hop.Denial = trace.Deny, d.Reason, &d
			if r.cfg.FallbackModel != "" && !fellBack {
				hop.Note = "falling back to " + r.cfg.FallbackModel
				r.record(hop)
				modelName, fellBack = r.cfg.FallbackModel, true
				step-- // the denied call did no work; the fallback gets the step
				continue
			}
			r.record(hop)
			return r.stop(Denied, fmt.Errorf("model %s: %w", modelName, err))
		}
		if err != nil {
			hop.Decision, hop.Reason = trace.Error, err.Error()
			r.record(hop)
			return r.stop(Failed, err)
		}
		msg := completion.Choices[0].Message
		hop.Decision, hop.Note = trace.Allow, describeReply(msg)
		r.record(hop)

		if len(msg.ToolCalls) == 0 {
			r.result.Answer = msg.Content
			r.result.Outcome = Success
			return nil
		}
		messages = append(messages, msg.ToParam())
		for _, call := range msg.ToolCalls {
			text := r.runTool(ctx, step, call)
			messages = append(messages, openai.ToolMessage(text, call.ID))
		}
	}
	return r.stop(StepLimit, fmt.Errorf("the model was still calling tools after %d steps", r.cfg.MaxSteps))
}

// runTool runs one tool call, records its hop, and returns what the model
// reads as the tool's result: the output, the denial, or the error.
func (r *run) runTool(ctx context.Context, step int, call openai.ChatCompletionMessageToolCallUnion) string {
	name, rawArgs := call.Function.Name, call.Function.Arguments
	if strings.TrimSpace(rawArgs) == "" {
		rawArgs = "{}"
	}
	args := json.RawMessage(rawArgs)
	hop := trace.Hop{Step: step, Plane: trace.PlaneMCP, Action: "tools/call", Tool: name}
	if json.Valid(args) {
		hop.Arguments = args
	}
	fail := func(err error, note string) string {
		hop.Decision, hop.Reason, hop.Note = trace.Error, err.Error(), note
		r.record(hop)
		return "error: " + err.Error()
	}

	if call.Type != "" && call.Type != "function" {
		return fail(fmt.Errorf("tool call of type %q is not supported", call.Type), "not sent")
	}
	f, ok := r.box.Lookup(name)
	if !ok {
		return fail(fmt.Errorf("no tool named %q was offered", name), "not sent")
	}
	hop.Target, hop.Tool = f.Server, f.Tool
	if err := tools.CheckArguments(args); err != nil {
		return fail(err, "not sent")
	}

	_, res, err := r.box.Call(ctx, name, args)
	if err != nil {
		if d, denied := denial.From(err); denied {
			hop.Decision, hop.Reason, hop.Denial = trace.Deny, d.Reason, &d
			r.record(hop)
			return "denied: " + d.String()
		}
		return fail(err, "")
	}
	switch {
	case res.Denial != nil:
		hop.Decision, hop.Reason, hop.Denial = trace.Deny, res.Denial.Reason, res.Denial
	case res.IsError:
		hop.Decision, hop.Reason = trace.Error, "tool error: "+oneLine(res.Text, 200)
	default:
		hop.Decision, hop.Note = trace.Allow, oneLine(res.Text, 80)
	}
	r.record(hop)
	return clip(res.Text, maxToolResultBytes)
}

// describeReply summarizes a model reply for its hop.
func describeReply(msg openai.ChatCompletionMessage) string {
	if len(msg.ToolCalls) == 0 {
		return "answered: " + oneLine(msg.Content, 120)
	}
	names := make([]string, len(msg.ToolCalls))
	for i, c := range msg.ToolCalls {
		names[i] = c.Function.Name
	}
	word := "tool calls"
	if len(names) == 1 {
		word = "tool call"
	}
	return fmt.Sprintf("%d %s: %s", len(names), word, strings.Join(names, ", "))
}

func oneLine(s string, n int) string {
	return clip(strings.Join(strings.Fields(s), " "), n)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

package bypass

import (
	"context"
	"fmt"
	"strings"

	"github.com/hopguard/hopguard/conformance/rawhttp"
	"github.com/hopguard/hopguard/conformance/scenarios"
)

// Bodies the corpus is made of. They are spliced as text, not marshalled, so that escapes,
// duplicate keys and odd numbers reach the wire exactly as written.
const (
	initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bypass-corpus","version":"0"}}}`
	pingBody       = `{"jsonrpc":"2.0","id":7,"method":"ping"}`
	listToolsBody  = `{"jsonrpc":"2.0","id":8,"method":"tools/list"}`
)

// refundArgs are refund_issue arguments for T-1001 (Alice's task's ticket) with amount as
// written: the $9,000 refund is "900000".
func refundArgs(amount string) string {
	return `{"ticket_id":"T-1001","amount_cents":` + amount + `,"currency":"USD","reason":"bypass corpus"}`
}

// toolCall is a tools/call request; name and args are spliced as written.
func toolCall(id int, name, args string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"%s","arguments":%s}}`, id, name, args)
}

// bigRefund is tier-1's $9,000 refund, which the cap denies.
var bigRefund = toolCall(3, "refund_issue", refundArgs("900000"))

// chat is a chat completion asking for model, spliced as written.
func chat(model string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"Work ticket T-2001."}]}`
}

// mcpPost is a well-formed MCP POST of body to /mcp/<server>.
func mcpPost(server, token, body string) rawhttp.Request {
	return rawhttp.Request{
		Method: "POST", Target: "/mcp/" + server, Body: []byte(body),
		Header: []rawhttp.Field{
			{Name: "Authorization", Value: "Bearer " + token},
			{Name: "Content-Type", Value: "application/json"},
			{Name: "Accept", Value: "application/json, text/event-stream"},
		},
	}
}

// modelPost is a well-formed chat completion request.
func modelPost(token, body string) rawhttp.Request {
	return rawhttp.Request{
		Method: "POST", Target: "/v1/chat/completions", Body: []byte(body),
		Header: []rawhttp.Field{
			{Name: "Authorization", Value: "Bearer " + token},
			{Name: "Content-Type", Value: "application/json"},
		},
	}
}

type builder = func(ctx context.Context, k *Kit) (rawhttp.Request, error)

// with builds a request from a's genuine token for resource.
func with(a scenarios.Actor, resource string, build func(token string) rawhttp.Request) builder {
	return func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
		tok, err := k.Token(ctx, a, resource)
		if err != nil {
			return rawhttp.Request{}, err
		}
		return build(tok), nil
	}
}

// aliceRefunds is Alice posting body to payments with her own payments token: the shape of
// every refund trick.
func aliceRefunds(body string) builder {
	return with(Alice, "mcp:payments", func(tok string) rawhttp.Request { return mcpPost("payments", tok, body) })
}

// triageAsks is the triage agent posting body to the model route with its own LLM token.
func triageAsks(body string) builder {
	return with(Triage, "llm", func(tok string) rawhttp.Request { return modelPost(tok, body) })
}

// aliceOpensPayroll is Alice's initialize of payroll with her own payroll token, changed by
// edit: the shape of every route and header trick.
func aliceOpensPayroll(edit func(*rawhttp.Request)) builder {
	return with(Alice, "mcp:payroll", func(tok string) rawhttp.Request {
		r := mcpPost("payroll", tok, initializeBody)
		if edit != nil {
			edit(&r)
		}
		return r
	})
}

// setHeader replaces (or adds) a header line.
func setHeader(r *rawhttp.Request, name, value string) {
	out := r.Header[:0:0]
	for _, f := range r.Header {
		if !strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	r.Header = append(out, rawhttp.Field{Name: name, Value: value})
}

// dropHeader removes a header line.
func dropHeader(r *rawhttp.Request, name string) {
	out := r.Header[:0:0]
	for _, f := range r.Header {
		if !strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	r.Header = out
}

// openSession sends a's initialize to server through the gateway and returns the session id.
func openSession(ctx context.Context, tg Target, a scenarios.Actor, server string) (string, error) {
	tok, err := tg.Creds.Token(ctx, a, "mcp:"+server)
	if err != nil {
		return "", err
	}
	resp, err := rawhttp.Send(ctx, tg.Addr, mcpPost(server, tok, initializeBody), requestTimeout)
	if err != nil {
		return "", fmt.Errorf("%s opens %s: %w", a.Name, server, err)
	}
	if resp.Status != 200 || strings.EqualFold(resp.Header.Get("X-Hopguard-Decision"), "deny") {
		return "", fmt.Errorf("%s opens %s: status %d: %s", a.Name, server, resp.Status, clip(string(resp.Body)))
	}
	id := resp.Header.Get("Mcp-Session-Id")
	if id == "" {
		return "", fmt.Errorf("%s opens %s: %w", a.Name, server, ErrNoSession)
	}
	return id, nil
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

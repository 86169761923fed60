package bypass

import (
	"context"
	"slices"

	"github.com/hopguard/hopguard/conformance/rawhttp"
)

// Corpus returns every case, grouped by category, in report order.
func Corpus() []Case {
	return slices.Concat(
		batchCases(),
		jsonRPCCases(),
		duplicateKeyCases(),
		nameCases(),
		amountCases(),
		bodyCases(),
		methodCases(),
		routeCases(),
		tokenCases(),
		headerCases(),
		sessionCases(),
		connectionCases(),
		responseCases(),
		uriCases(),
		replyCases(),
	)
}

// Controls are requests that must be allowed: without them a corpus that denies everything
// (a broken token, a dead route) would pass.
func Controls() []Case {
	return []Case{
		{ID: "control-alice-gpt-4o-mini", Category: "control", Allow: true,
			Attack: "Alice asks gpt-4o-mini with her own LLM token: allowed, and the mock LLM sees it",
			Build:  with(Alice, "llm", func(tok string) rawhttp.Request { return modelPost(tok, chat("gpt-4o-mini")) })},
		{ID: "control-alice-refunds-40", Category: "control", Allow: true,
			Attack: "Alice refunds $40 on her task's ticket in her own session: allowed, and payments runs it",
			Build: func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
				session, err := k.Session(ctx, Alice, "payments")
				if err != nil {
					return rawhttp.Request{}, err
				}
				r, err := aliceRefunds(toolCall(3, "refund_issue", refundArgs("4000")))(ctx, k)
				return r.With(rawhttp.Field{Name: "Mcp-Session-Id", Value: session}, rawhttp.Field{Name: "Mcp-Protocol-Version", Value: "2025-11-25"}), err
			}},
		{ID: "control-triage-lists-tickets-tools", Category: "control", Allow: true,
			Hidden: hiddenFromTriage, Shown: []string{"add_comment", "get_ticket"},
			Attack: "the triage agent lists the tickets server's tools in its own session: allowed, and shown only those it may call",
			Build:  triageLists(listToolsBody, nil)},
		{ID: "control-triage-lists-knowledge-documents", Category: "control", Allow: true,
			Hidden: hiddenDocuments, Shown: []string{"kb://policies/refunds", "kb://policies/escalation"},
			Attack: "the triage agent lists the knowledge server's documents in its own session: allowed, and shown only those it may read",
			Build:  triagePosts("knowledge", `{"jsonrpc":"2.0","id":9,"method":"resources/list"}`, nil)},
		{ID: "control-carol-opens-payroll", Category: "control", Allow: true,
			Attack: "Carol (payroll-admin) opens payroll: allowed",
			Build:  with(Carol, "mcp:payroll", func(tok string) rawhttp.Request { return mcpPost("payroll", tok, initializeBody) })},
	}
}

// Denials the corpus expects, by what must refuse the request.
var (
	capDenied      = []string{"refund_cap_exceeded"}
	payrollDenied  = []string{"server_not_allowed"}
	modelDenied    = []string{"model_not_allowed"}
	tokenRefused   = []string{"invalid_token"}
	gatewayRefused = []string{LayerGateway}
)

// or joins lists of acceptable denials.
func or(lists ...[]string) []string { return slices.Concat(lists...) }

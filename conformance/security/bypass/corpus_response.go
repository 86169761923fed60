package bypass

import (
	"context"
	"slices"

	"github.com/hopguard/hopguard/conformance/rawhttp"
)

// hiddenFromTriage is what the response path must never show the triage agent of the tickets
// server: the policies let it read and comment, not change a ticket.
var hiddenFromTriage = []string{"update_ticket"}

// hiddenDocuments and hiddenPrompts are what the response path must never show the triage
// agent of the knowledge server: HR's salary table and HR's prompt.
var (
	hiddenDocuments = []string{"kb://hr/salaries"}
	hiddenPrompts   = []string{"compensation_letter"}
)

// triageLists is the triage agent posting body to tickets in its own session, changed by edit.
func triageLists(body string, edit func(*rawhttp.Request)) builder {
	return triagePosts("tickets", body, edit)
}

// triagePosts is the triage agent posting body to server in its own session, changed by edit.
func triagePosts(server, body string, edit func(*rawhttp.Request)) builder {
	return func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
		session, err := k.Session(ctx, Triage, server)
		if err != nil {
			return rawhttp.Request{}, err
		}
		tok, err := k.Token(ctx, Triage, "mcp:"+server)
		if err != nil {
			return rawhttp.Request{}, err
		}
		r := mcpPost(server, tok, body).With(rawhttp.Field{Name: "Mcp-Session-Id", Value: session}, rawhttp.Field{Name: "Mcp-Protocol-Version", Value: "2025-11-25"})
		if edit != nil {
			edit(&r)
		}
		return r, nil
	}
}

// acceptEventStreamOnly makes a request accept an event stream and nothing else.
func acceptEventStreamOnly(r *rawhttp.Request) {
	for i := range r.Header {
		if r.Header[i].Name == "Accept" {
			r.Header[i].Value = "text/event-stream"
		}
	}
}

// responseCases try to get a tool, document or prompt the triage agent may not use shown to it:
// however a list is asked or answered, its answer passes synapse's response path, which must
// take the item out, or withhold the answer.
func responseCases() []Case {
	const cat = "response path (visibility)"
	return []Case{
		{ID: "tools-list-in-a-batch", Category: cat, Hidden: hiddenFromTriage, Expect: withheld,
			Attack: "the triage agent's tools/list inside a JSON-RPC batch with a ping, in case only a lone tools/list is filtered",
			Build:  triageLists("["+pingBody+","+listToolsBody+"]", nil)},
		{ID: "tools-list-with-a-cursor", Category: cat, Hidden: hiddenFromTriage, Expect: withheld,
			Attack: "a tools/list asking for a later page (a cursor), in case pages after the first are not filtered",
			Build:  triageLists(`{"jsonrpc":"2.0","id":8,"method":"tools/list","params":{"cursor":"page-2"}}`, nil)},
		{ID: "tools-list-as-an-event-stream", Category: cat, Hidden: hiddenFromTriage, Expect: withheld,
			Attack: "a tools/list that accepts only an event stream, in case an answer in events is not read",
			Build:  triageLists(listToolsBody, acceptEventStreamOnly)},
		{ID: "tools-list-with-a-string-id", Category: cat, Hidden: hiddenFromTriage, Expect: withheld,
			Attack: "a tools/list whose id is a string, in case answers are matched to requests by number",
			Build:  triageLists(`{"jsonrpc":"2.0","id":"list","method":"tools/list"}`, nil)},
		{ID: "tools-list-as-a-notification", Category: cat, Hidden: hiddenFromTriage, Expect: withheld,
			Attack: "a tools/list without an id, in case a server answers it and the answer is taken for no list",
			Build:  triageLists(`{"jsonrpc":"2.0","method":"tools/list"}`, nil)},
		{ID: "resources-list-in-a-batch", Category: cat, Hidden: hiddenDocuments, Expect: withheld,
			Attack: "the triage agent's resources/list on the knowledge server inside a batch with a ping, in case only a lone list is filtered",
			Build:  triagePosts("knowledge", "["+pingBody+`,{"jsonrpc":"2.0","id":9,"method":"resources/list"}]`, nil)},
		{ID: "resources-list-as-an-event-stream", Category: cat, Hidden: hiddenDocuments, Expect: withheld,
			Attack: "a resources/list that accepts only an event stream, in case the salary table shows in events",
			Build:  triagePosts("knowledge", `{"jsonrpc":"2.0","id":9,"method":"resources/list"}`, acceptEventStreamOnly)},
		{ID: "prompts-list", Category: cat, Hidden: hiddenPrompts, Expect: withheld,
			Attack: "the triage agent lists the knowledge server's prompts, in case HR's prompt is shown",
			Build:  triagePosts("knowledge", `{"jsonrpc":"2.0","id":10,"method":"prompts/list"}`, nil)},
		{ID: "lists-of-all-three-in-a-batch", Category: cat, Hidden: append(slices.Clone(hiddenDocuments), hiddenPrompts...), Expect: withheld,
			Attack: "tools, documents and prompts listed in one batch, in case only the first list of an answer is filtered",
			Build: triagePosts("knowledge", `[{"jsonrpc":"2.0","id":8,"method":"tools/list"},{"jsonrpc":"2.0","id":9,"method":"resources/list"},`+
				`{"jsonrpc":"2.0","id":10,"method":"prompts/list"}]`, nil)},
		{ID: "tools-list-with-a-grant-of-its-own", Category: cat, Hidden: hiddenFromTriage, Expect: withheld,
			Attack: "a tools/list carrying a grant the client made (x-hopguard-grant), in case the response path takes the client's grant for synapse's, or skips a list whose grant it did not set",
			Build: triageLists(listToolsBody, func(r *rawhttp.Request) {
				*r = r.With(rawhttp.Field{Name: "X-Hopguard-Grant", Value: "v1.forged-by-the-client"})
			})},
		{ID: "stream-resumed", Category: cat, Expect: []string{"stream_resumption_refused"},
			Attack: "the triage agent resumes the tickets event stream (Last-Event-ID), which may replay a tools/list answer that was never filtered",
			Build: func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
				r, err := triageLists("", acceptEventStreamOnly)(ctx, k)
				r.Method, r.Body = "GET", nil
				return r.With(rawhttp.Field{Name: "Last-Event-ID", Value: "1"}), err
			}},
	}
}

// withheld is the one refusal a response-path case may meet: synapse's, for a tool list it
// could not filter (synapse/extproc).
var withheld = []string{"list_withheld"}

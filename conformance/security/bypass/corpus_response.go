package bypass

import (
	"context"

	"github.com/hopguard/hopguard/conformance/rawhttp"
)

// hiddenFromTriage is what the response path must never show the triage agent of the tickets
// server: the policies let it read and comment, not change a ticket.
var hiddenFromTriage = []string{"update_ticket"}

// triageLists is the triage agent posting body to tickets in its own session, changed by edit.
func triageLists(body string, edit func(*rawhttp.Request)) builder {
	return func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
		session, err := k.Session(ctx, Triage, "tickets")
		if err != nil {
			return rawhttp.Request{}, err
		}
		tok, err := k.Token(ctx, Triage, "mcp:tickets")
		if err != nil {
			return rawhttp.Request{}, err
		}
		r := mcpPost("tickets", tok, body).With(rawhttp.Field{Name: "Mcp-Session-Id", Value: session}, rawhttp.Field{Name: "Mcp-Protocol-Version", Value: "2025-11-25"})
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

// responseCases try to get a tool the triage agent may not call shown to it: however a
// tools/list is asked or answered, its answer passes synapse's response path, which must take
// the tool out, or withhold the answer.
func responseCases() []Case {
	const cat = "response path (tool visibility)"
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

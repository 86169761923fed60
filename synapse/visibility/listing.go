package visibility

import "strings"

// Listing is an MCP list method whose answer is filtered: where a result holds its items, what
// names each item, and what Cerbos is asked about one item to show it.
type Listing struct {
	Method string // "tools/list"
	Field  string // the result's member holding the items: "tools"
	Key    string // each item's member naming it: "name", "uri"
	// Action is the action that uses an item (CONTRACTS.md's mapping table): an item is shown
	// when Cerbos does not plan that action as always denied.
	Action func(item string) string
	// Attr is what is known of the resource before the item is used: a document's URI is,
	// a tool's arguments are not. The plan is as exact as what is known.
	Attr func(server, item string) map[string]any
	// OneResource: the items are actions on one resource (Attr is the same for every item), so
	// one plan can ask about several of them.
	OneResource bool
}

// Listings are the lists synapse filters: tools by the call, documents by the read, prompts by
// the get. Resource templates are not filtered: a template names no document, and each read of
// one is decided.
func Listings() []Listing {
	return []Listing{
		{Method: "tools/list", Field: "tools", Key: "name",
			Action: func(tool string) string { return "tools/call/" + tool },
			Attr:   func(string, string) map[string]any { return nil }, OneResource: true},
		{Method: "resources/list", Field: "resources", Key: "uri",
			Action: func(string) string { return "resources/read" },
			Attr: func(server, uri string) map[string]any {
				return map[string]any{"method": "resources/read", "server": server, "uri": uri}
			}},
		{Method: "prompts/list", Field: "prompts", Key: "name",
			Action: func(prompt string) string { return "prompts/get/" + prompt },
			Attr: func(server, prompt string) map[string]any {
				return map[string]any{"method": "prompts/get", "server": server, "prompt": prompt}
			}},
	}
}

// ListingFor returns the listing of an MCP method, if its answer is filtered. Every allowed
// check asks it of its action: one that is no list costs a comparison.
func ListingFor(method string) (Listing, bool) {
	switch method {
	case "tools/list", "resources/list", "prompts/list":
	default:
		return Listing{}, false
	}
	for _, l := range Listings() {
		if l.Method == method {
			return l, true
		}
	}
	return Listing{}, false
}

// serverOf is the server of an MCP resource kind: "payments" of "mcp:payments".
func serverOf(kind string) string {
	server, _ := strings.CutPrefix(kind, "mcp:")
	return server
}

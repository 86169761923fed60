package bypass

import "github.com/hopguard/hopguard/conformance/rawhttp"

// uriCases read a resource by another spelling of its URI, in case a policy written for the
// canonical one does not see it: synapse takes a URI in one spelling only.
func uriCases() []Case {
	const cat = "resource URIs"
	read := func(uri string) builder {
		return with(Triage, "mcp:tickets", func(tok string) rawhttp.Request {
			return mcpPost("tickets", tok, `{"jsonrpc":"2.0","id":6,"method":"resources/read","params":{"uri":"`+uri+`"}}`)
		})
	}
	bad := []string{"invalid_resource_uri"}
	return []Case{
		{ID: "uri-upper-case-scheme", Category: cat, Expect: bad,
			Attack: "the salary table as KB://, in case a rule matches the scheme exactly", Build: read("KB://policies/salaries.md")},
		{ID: "uri-dot-segment", Category: cat, Expect: bad,
			Attack: "the salary table behind a public path and a .. segment", Build: read("kb://policies/public/../salaries.md")},
		{ID: "uri-encoded-dots", Category: cat, Expect: bad,
			Attack: "the same with the dots percent-encoded (%2E%2E)", Build: read("kb://policies/public/%2E%2E/salaries.md")},
		{ID: "uri-encoded-letter", Category: cat, Expect: bad,
			Attack: "the salary table with a letter percent-encoded (s%61laries)", Build: read("kb://policies/s%61laries.md")},
		{ID: "uri-encoded-slash", Category: cat, Expect: bad,
			Attack: "a slash percent-encoded (%2F), hiding a segment boundary", Build: read("kb://policies%2Fsalaries.md")},
		{ID: "uri-trailing-slash", Category: cat, Expect: bad,
			Attack: "the salary table with a trailing slash", Build: read("kb://policies/salaries.md/")},
		{ID: "uri-double-slash", Category: cat, Expect: bad,
			Attack: "an empty segment (//) in the path", Build: read("kb://policies//salaries.md")},
		{ID: "uri-user-information", Category: cat, Expect: bad,
			Attack: "user information in the authority (admin@)", Build: read("kb://admin@policies/salaries.md")},
		{ID: "uri-fragment", Category: cat, Expect: bad,
			Attack: "a fragment after the URI", Build: read("kb://policies/salaries.md#row-1")},
	}
}

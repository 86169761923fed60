package bypass

import "github.com/hopguard/hopguard/conformance/rawhttp"

// uriCases read HR's salary table (kb://hr/salaries, which the knowledge server's policy keeps
// from the triage agent) by another spelling of its URI, in case a policy written for the
// canonical one does not see it: synapse takes a URI in one spelling only.
func uriCases() []Case {
	const cat = "resource URIs"
	read := func(uri string) builder {
		return with(Triage, "mcp:knowledge", func(tok string) rawhttp.Request {
			return mcpPost("knowledge", tok, `{"jsonrpc":"2.0","id":6,"method":"resources/read","params":{"uri":"`+uri+`"}}`)
		})
	}
	bad := []string{"invalid_resource_uri"}
	return []Case{
		{ID: "uri-canonical", Category: cat, Expect: []string{"resource_not_allowed"},
			Attack: "the salary table as it is spelt: the policy's own denial, against which every other spelling is tried", Build: read("kb://hr/salaries")},
		{ID: "uri-prefix-of-support-documents", Category: cat, Expect: bad,
			Attack: "the salary table behind support's document prefix and a .. segment (kb://policies/../hr/salaries)", Build: read("kb://policies/../hr/salaries")},
		{ID: "uri-upper-case-scheme", Category: cat, Expect: bad,
			Attack: "the salary table as KB://, in case a rule matches the scheme exactly", Build: read("KB://hr/salaries")},
		{ID: "uri-dot-segment", Category: cat, Expect: bad,
			Attack: "the salary table behind a public path and a .. segment", Build: read("kb://hr/public/../salaries")},
		{ID: "uri-encoded-dots", Category: cat, Expect: bad,
			Attack: "support's prefix, then percent-encoded dots (%2E%2E) up to HR's", Build: read("kb://policies/%2E%2E/hr/salaries")},
		{ID: "uri-encoded-letter", Category: cat, Expect: bad,
			Attack: "the salary table with a letter percent-encoded (%68r)", Build: read("kb://%68r/salaries")},
		{ID: "uri-encoded-slash", Category: cat, Expect: bad,
			Attack: "slashes percent-encoded (%2F), hiding the segments that climb to HR's", Build: read("kb://policies%2F..%2Fhr/salaries")},
		{ID: "uri-trailing-slash", Category: cat, Expect: bad,
			Attack: "the salary table with a trailing slash", Build: read("kb://hr/salaries/")},
		{ID: "uri-double-slash", Category: cat, Expect: bad,
			Attack: "an empty segment (//) in the path", Build: read("kb://hr//salaries")},
		{ID: "uri-user-information", Category: cat, Expect: bad,
			Attack: "user information in the authority (admin@)", Build: read("kb://admin@hr/salaries")},
		{ID: "uri-fragment", Category: cat, Expect: bad,
			Attack: "a fragment after the URI", Build: read("kb://hr/salaries#row-1")},
	}
}

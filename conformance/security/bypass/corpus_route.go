package bypass

import (
	"github.com/hopguard/hopguard/conformance/rawhttp"
)

// payrollByPath is Alice's payroll initialize, with her own payroll token, sent to target: a
// path that may or may not reach payroll, and must not open it either way.
func payrollByPath(id, attack, target string) Case {
	return Case{ID: id, Category: "route matching", Attack: attack,
		Expect: or(payrollDenied, gatewayRefused, []string{"invalid_path", "unknown_route"}),
		Build:  aliceOpensPayroll(func(r *rawhttp.Request) { r.Target = target })}
}

// modelByPath is triage's gpt-4o request sent to target.
func modelByPath(id, attack, target string) Case {
	return Case{ID: id, Category: "route matching", Attack: attack,
		Expect: or(modelDenied, gatewayRefused, []string{"invalid_path", "unknown_model_api", "unknown_route"}),
		Build: with(Triage, "llm", func(tok string) rawhttp.Request {
			r := modelPost(tok, chat("gpt-4o"))
			r.Target = target
			return r
		})}
}

func routeCases() []Case {
	const cat = "route matching"
	return []Case{
		payrollByPath("route-dot-segments", "Alice opens /mcp/tickets/../payroll", "/mcp/tickets/../payroll"),
		payrollByPath("route-encoded-dot-segments", "Alice opens /mcp/tickets/%2e%2e/payroll", "/mcp/tickets/%2e%2e/payroll"),
		payrollByPath("route-encoded-slash", "Alice opens /mcp/tickets%2F..%2Fpayroll", "/mcp/tickets%2F..%2Fpayroll"),
		payrollByPath("route-encoded-slash-lower", "Alice opens /mcp%2fpayroll", "/mcp%2fpayroll"),
		payrollByPath("route-double-slash", "Alice opens //mcp//payroll", "//mcp//payroll"),
		payrollByPath("route-trailing-slash", "Alice opens /mcp/payroll/", "/mcp/payroll/"),
		payrollByPath("route-upper-case", "Alice opens /MCP/PAYROLL", "/MCP/PAYROLL"),
		payrollByPath("route-mixed-case-server", "Alice opens /mcp/Payroll", "/mcp/Payroll"),
		payrollByPath("route-encoded-letter", "Alice opens /mcp/%70ayroll", "/mcp/%70ayroll"),
		payrollByPath("route-backslash", "Alice opens /mcp\\payroll", "/mcp\\payroll"),
		payrollByPath("route-matrix-parameter", "Alice opens /mcp/payroll;x=1", "/mcp/payroll;x=1"),
		payrollByPath("route-fragment", "Alice opens /mcp/payroll#frag", "/mcp/payroll#frag"),
		payrollByPath("route-encoded-nul", "Alice opens /mcp/payroll%00", "/mcp/payroll%00"),
		payrollByPath("route-absolute-form", "Alice opens payroll with an absolute-form request target", "http://127.0.0.1/mcp/payroll"),
		{ID: "route-query-dot-segments", Category: cat, Expect: or(tokenRefused, payrollDenied, gatewayRefused),
			Attack: "Alice opens /mcp/tickets?/../payroll with her payroll token, in case dot segments in the query are resolved into the path",
			Build:  aliceOpensPayroll(func(r *rawhttp.Request) { r.Target = "/mcp/tickets?/../payroll" })},
		{ID: "route-query-names-another-route", Category: cat, Expect: tokenRefused,
			Attack: "Alice's tickets token on /mcp/payroll?route=/mcp/tickets&resource=mcp:tickets, in case the route is read from the query",
			Build: with(Alice, "mcp:tickets", func(tok string) rawhttp.Request {
				r := mcpPost("payroll", tok, initializeBody)
				r.Target = "/mcp/payroll?route=/mcp/tickets&resource=mcp:tickets"
				return r
			})},
		modelByPath("route-model-dot-segments", "triage asks gpt-4o at /v1/../v1/chat/completions", "/v1/../v1/chat/completions"),
		modelByPath("route-model-trailing-slash", "triage asks gpt-4o at /v1/chat/completions/", "/v1/chat/completions/"),
		modelByPath("route-model-upper-case", "triage asks gpt-4o at /V1/chat/completions", "/V1/chat/completions"),
		modelByPath("route-model-encoded-slash", "triage asks gpt-4o at /v1/chat%2Fcompletions", "/v1/chat%2Fcompletions"),
		modelByPath("route-model-prefix-sibling", "triage asks gpt-4o at /v1x/chat/completions, which a bare prefix /v1 also matches", "/v1x/chat/completions"),
		modelByPath("route-model-query", "triage asks gpt-4o at /v1/chat/completions?model=gpt-4o-mini", "/v1/chat/completions?model=gpt-4o-mini"),
	}
}

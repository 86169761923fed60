package bypass

import (
	"github.com/hopguard/hopguard/conformance/rawhttp"
	"github.com/hopguard/hopguard/mockservers/journal"
)

// upgradeRefused is synapse refusing a protocol upgrade.
var upgradeRefused = []string{"upgrade_not_allowed"}

func connectionCases() []Case {
	const cat = "connections and protocol"
	f := func(name, value string) rawhttp.Field { return rawhttp.Field{Name: name, Value: value} }
	return []Case{
		{ID: "pipeline-refund-after-an-allowed-ping", Category: cat, Expect: capDenied,
			Attack: "an allowed ping, then the $9,000 refund pipelined on the same connection, in case the connection's first decision carries over",
			Before: aliceRefunds(pingBody),
			Build:  aliceRefunds(bigRefund),
			Forbidden: func(resource string, e journal.Entry) bool {
				return resource == "mcp:payments" && e.Tool == "refund_issue"
			}},
		{ID: "pipeline-payroll-after-carol", Category: cat, Expect: payrollDenied,
			Attack: "Carol's allowed payroll initialize, then Alice's run_payroll pipelined on the same connection (a proxy sharing one connection among users)",
			Before: with(Carol, "mcp:payroll", func(tok string) rawhttp.Request { return mcpPost("payroll", tok, initializeBody) }),
			Build:  with(Alice, "mcp:payroll", func(tok string) rawhttp.Request { return mcpPost("payroll", tok, toolCall(5, "run_payroll", `{}`)) }),
			Forbidden: func(resource string, e journal.Entry) bool {
				return resource == "mcp:payroll" && e.MCPMethod != "initialize"
			}},
		{ID: "upgrade-websocket", Category: cat, Expect: or(gatewayRefused, payrollDenied, upgradeRefused, []string{"body_missing"}),
			// A gateway that allows upgrades (Istio's routes do) sends ext_authz no body for them;
			// synapse refuses a POST without one.
			Attack: "Alice opens payroll as a WebSocket upgrade, in case upgrades are tunnelled unchecked",
			Build: aliceOpensPayroll(func(r *rawhttp.Request) {
				r.Header = append(r.Header, f("Connection", "Upgrade"), f("Upgrade", "websocket"),
					f("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), f("Sec-WebSocket-Version", "13"))
			})},
		{ID: "upgrade-websocket-stream", Category: cat, Expect: or(gatewayRefused, payrollDenied, upgradeRefused),
			Attack: "Alice upgrades payroll's GET stream to a WebSocket, which would tunnel everything after it past the check",
			Build: aliceOpensPayroll(func(r *rawhttp.Request) {
				r.Method, r.Body = "GET", nil
				r.Header = append(r.Header, f("Connection", "Upgrade"), f("Upgrade", "websocket"),
					f("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), f("Sec-WebSocket-Version", "13"))
			})},
		{ID: "upgrade-websocket-on-an-allowed-stream", Category: cat, Expect: or(gatewayRefused, upgradeRefused),
			Attack: "Alice upgrades the tickets stream, which she may open, to a WebSocket: after a 101 every frame would pass the gateway unchecked, so an upgrade must not be let through at all",
			Build: with(Alice, "mcp:tickets", func(tok string) rawhttp.Request {
				return rawhttp.Request{Method: "GET", Target: "/mcp/tickets", Header: []rawhttp.Field{
					f("Authorization", "Bearer "+tok), f("Accept", "text/event-stream"), f("Connection", "Upgrade"), f("Upgrade", "websocket"),
					f("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), f("Sec-WebSocket-Version", "13")}}
			})},
		{ID: "upgrade-h2c", Category: cat, Expect: or(gatewayRefused, payrollDenied, upgradeRefused),
			Attack: "Alice opens payroll with an h2c upgrade, in case the HTTP/2 stream after it skips the check",
			Build: aliceOpensPayroll(func(r *rawhttp.Request) {
				r.Header = append(r.Header, f("Connection", "Upgrade, HTTP2-Settings"), f("Upgrade", "h2c"), f("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"))
			})},
		{ID: "expect-100-continue", Category: cat, Expect: capDenied,
			Attack: "the $9,000 refund with Expect: 100-continue, in case the check runs on the headers alone",
			Build:  edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) { r.Header = append(r.Header, f("Expect", "100-continue")) })},
		{ID: "http-1-0", Category: cat, Expect: or(gatewayRefused, payrollDenied),
			Attack: "Alice opens payroll over HTTP/1.0",
			Build:  aliceOpensPayroll(func(r *rawhttp.Request) { r.Proto = "HTTP/1.0" })},
	}
}

package bypass

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/hopguard/hopguard/conformance/rawhttp"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/conformance/security/forge"
)

// forged is Alice's payroll initialize with a forged token: Alice's genuine payroll claims made
// payroll-admin (and edited further by edit), signed by sign. Were the token believed, policy
// would allow it: only the token check stands between it and payroll.
func forged(edit forge.Claims, sign func(k *Kit, claims forge.Claims) (string, error)) builder {
	return func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
		claims, err := k.Escalated(ctx, Alice, "mcp:payroll")
		if err != nil {
			return rawhttp.Request{}, err
		}
		tok, err := sign(k, claims.Edit(edit))
		if err != nil {
			return rawhttp.Request{}, err
		}
		return mcpPost("payroll", tok, initializeBody), nil
	}
}

func asSTS(k *Kit, c forge.Claims) (string, error) { return k.SignAsSTS(nil, c) }

func tokenCases() []Case {
	const cat = "tokens"
	foreignKid := func(k *Kit) string { return forge.Thumbprint(k.ForeignPublicKey()) }
	return []Case{
		{ID: "token-for-another-resource", Category: cat, Expect: tokenRefused,
			Attack: "Alice's tickets token presented on payments (she may use payments, but not with this token)",
			Build:  with(Alice, "mcp:tickets", func(tok string) rawhttp.Request { return mcpPost("payments", tok, initializeBody) })},
		{ID: "token-llm-on-an-mcp-route", Category: cat, Expect: tokenRefused,
			Attack: "triage's LLM token presented on tickets",
			Build:  with(Triage, "llm", func(tok string) rawhttp.Request { return mcpPost("tickets", tok, initializeBody) })},
		{ID: "token-expired", Category: cat, Expect: tokenRefused,
			Attack: "Alice's genuine tickets token, expired an hour ago",
			Build: func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
				tok, err := k.Expired(ctx, Alice, "mcp:tickets")
				return mcpPost("tickets", tok, initializeBody), err
			}},
		{ID: "token-alg-none", Category: cat, Expect: tokenRefused,
			Attack: "an unsigned token (alg none) under the STS's kid, making Alice payroll-admin",
			Build: forged(nil, func(k *Kit, c forge.Claims) (string, error) {
				return forge.Unsigned(forge.Header{"alg": "none", "typ": "JWT", "kid": k.Kid()}, c)
			})},
		{ID: "token-signature-stripped", Category: cat, Expect: tokenRefused,
			Attack: "Carol's genuine payroll token with its signature cut off (what a log that redacts signatures leaves)",
			Build: func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
				tok, err := k.Token(ctx, Carol, "mcp:payroll")
				return mcpPost("payroll", tok[:strings.LastIndexByte(tok, '.')+1], initializeBody), err
			}},
		{ID: "token-hmac-with-the-public-key", Category: cat, Expect: tokenRefused,
			Attack: "HS256 keyed with the STS's public JWK (key confusion), making Alice payroll-admin",
			Build: forged(nil, func(k *Kit, c forge.Claims) (string, error) {
				secret, err := json.Marshal(forge.PublicJWK(k.STSPublicKey()))
				if err != nil {
					return "", err
				}
				return forge.HS256(secret, forge.Header{"kid": k.Kid()}, c)
			})},
		{ID: "token-another-key-real-kid", Category: cat, Expect: tokenRefused,
			Attack: "signed by the attacker's key under the STS's kid, making Alice payroll-admin",
			Build: forged(nil, func(k *Kit, c forge.Claims) (string, error) {
				return k.SignForeign(forge.Header{"kid": k.Kid()}, c)
			})},
		{ID: "token-another-key-own-kid", Category: cat, Expect: tokenRefused,
			Attack: "signed by the attacker's key under its own kid",
			Build: forged(nil, func(k *Kit, c forge.Claims) (string, error) {
				return k.SignForeign(forge.Header{"kid": foreignKid(k)}, c)
			})},
		{ID: "token-embedded-jwk", Category: cat, Expect: tokenRefused,
			Attack: "signed by the attacker's key, which the header carries as \"jwk\" for a verifier that trusts it",
			Build: forged(nil, func(k *Kit, c forge.Claims) (string, error) {
				return k.SignForeign(forge.Header{"kid": foreignKid(k), "jwk": forge.PublicJWK(k.ForeignPublicKey())}, c)
			})},
		{ID: "token-jku", Category: cat, Expect: tokenRefused,
			Attack: "signed by the attacker's key, with a \"jku\" header pointing at the attacker's key set",
			Build: forged(nil, func(k *Kit, c forge.Claims) (string, error) {
				return k.SignForeign(forge.Header{"kid": foreignKid(k), "jku": "http://127.0.0.1:9/jwks.json"}, c)
			})},
		{ID: "token-wrong-issuer", Category: cat, Expect: tokenRefused,
			Attack: "signed by the STS's own key, but another issuer, making Alice payroll-admin",
			Build:  forged(forge.Claims{"iss": "https://sts.attacker.example"}, asSTS)},
		{ID: "token-no-expiry", Category: cat, Expect: tokenRefused,
			Attack: "signed by the STS's own key, with no exp (a token that never expires)",
			Build:  forged(forge.Claims{"exp": nil}, asSTS)},
		{ID: "token-not-yet-valid", Category: cat, Expect: tokenRefused,
			Attack: "signed by the STS's own key, valid only from tomorrow",
			Build:  forged(forge.Claims{"nbf": time.Now().Add(24 * time.Hour).Unix()}, asSTS)},
		{ID: "token-two-audiences", Category: cat, Expect: tokenRefused,
			Attack: "signed by the STS's own key, for mcp:tickets and mcp:payroll at once",
			Build:  forged(forge.Claims{"aud": []string{"mcp:tickets", "mcp:payroll"}}, asSTS)},
		{ID: "token-audience-case", Category: cat, Expect: tokenRefused,
			Attack: "signed by the STS's own key, for \"MCP:Payroll\"",
			Build:  forged(forge.Claims{"aud": "MCP:Payroll"}, asSTS)},
		{ID: "token-task-of-another-principal", Category: cat, Expect: []string{"task_not_active"},
			Attack: "Alice's genuine LLM token attesting Carol's task, asking gpt-4o-mini (allowed on her own task)",
			Build: func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
				tok, err := k.TokenForTask(ctx, Alice, k.TaskID(Carol), "llm")
				return modelPost(tok, chat("gpt-4o-mini")), err
			}},
		{ID: "token-unknown-task", Category: cat, Expect: []string{"task_not_active"},
			Attack: "Alice's genuine LLM token attesting a task no one created, asking gpt-4o-mini",
			Build: func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
				tok, err := k.TokenForTask(ctx, Alice, "made-up-task", "llm")
				return modelPost(tok, chat("gpt-4o-mini")), err
			}},
		{ID: "token-two-authorization-headers", Category: cat, Expect: []string{"invalid_authorization"},
			Attack: "Alice's payroll token and then Carol's, in two Authorization headers, in case the second one is read",
			Build: twoTokens(func(r *rawhttp.Request, carol string) {
				r.Header = append(r.Header, rawhttp.Field{Name: "Authorization", Value: "Bearer " + carol})
			})},
		{ID: "token-joined-bearers", Category: cat, Expect: []string{"invalid_authorization"},
			Attack: "\"Bearer <Alice's>, Bearer <Carol's>\" in one header",
			Build: twoTokens(func(r *rawhttp.Request, carol string) {
				setHeader(r, "Authorization", r.Get("Authorization")+", Bearer "+carol)
			})},
		{ID: "token-in-the-query", Category: cat, Expect: []string{"unauthenticated"},
			Attack: "Carol's payroll token as ?access_token=, no Authorization header",
			Build: twoTokens(func(r *rawhttp.Request, carol string) {
				dropHeader(r, "Authorization")
				r.Target += "?access_token=" + carol
			})},
		{ID: "token-in-a-cookie", Category: cat, Expect: []string{"unauthenticated"},
			Attack: "Carol's payroll token in a cookie, no Authorization header",
			Build: twoTokens(func(r *rawhttp.Request, carol string) {
				dropHeader(r, "Authorization")
				r.Header = append(r.Header, rawhttp.Field{Name: "Cookie", Value: "access_token=" + carol})
			})},
		{ID: "token-basic-credentials", Category: cat, Expect: []string{"invalid_authorization"},
			Attack: "Carol's client id and secret as HTTP Basic credentials",
			Build: twoTokens(func(r *rawhttp.Request, _ string) {
				setHeader(r, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("carol:carol-secret")))
			})},
	}
}

// twoTokens is Alice's payroll initialize with her own token, edited with Carol's genuine
// payroll token at hand.
func twoTokens(edit func(r *rawhttp.Request, carol string)) builder {
	return func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
		carol, err := k.Token(ctx, Carol, "mcp:payroll")
		if err != nil {
			return rawhttp.Request{}, err
		}
		r, err := aliceOpensPayroll(nil)(ctx, k)
		if err != nil {
			return r, err
		}
		edit(&r, carol)
		return r, nil
	}
}

func headerCases() []Case {
	const cat = "spoofed identity headers"
	spoof := func(id, attack string, fields ...rawhttp.Field) Case {
		return Case{ID: id, Category: cat, Attack: attack, Expect: payrollDenied,
			Build: aliceOpensPayroll(func(r *rawhttp.Request) { r.Header = append(r.Header, fields...) })}
	}
	f := func(name, value string) rawhttp.Field { return rawhttp.Field{Name: name, Value: value} }
	return []Case{
		spoof("spoof-principal-headers", "Alice opens payroll claiming to be Carol, payroll-admin, in headers a proxy might trust",
			f("X-Principal", "carol"), f("X-User", "carol"), f("X-Remote-User", "carol"), f("X-Auth-Request-User", "carol"),
			f("X-Roles", "payroll-admin"), f("X-Forwarded-User", "carol"), f("X-Forwarded-Groups", "payroll-admin")),
		spoof("spoof-forwarded-headers", "Alice opens payroll with X-Forwarded-* and Forwarded naming another client, host and path",
			f("X-Forwarded-For", "10.0.0.1"), f("X-Forwarded-Host", "payroll.internal"), f("X-Forwarded-Proto", "https"),
			f("X-Forwarded-Uri", "/mcp/tickets"), f("X-Forwarded-Prefix", "/mcp/tickets"), f("Forwarded", "for=10.0.0.1;host=payroll.internal")),
		spoof("spoof-envoy-headers", "Alice opens payroll with Envoy's internal headers: original path, internal, partial body, ext_authz",
			f("X-Envoy-Original-Path", "/mcp/tickets"), f("X-Envoy-Internal", "true"), f("X-Envoy-Auth-Partial-Body", "false"),
			f("X-Envoy-Decorator-Operation", "mcp_tickets"), f("X-Envoy-Peer-Metadata-Id", "carol"), f("X-Ext-Authz", "allow")),
		spoof("spoof-hopguard-headers", "Alice opens payroll announcing hopguard's own decision and agent headers",
			f("X-Hopguard-Decision", "allow"), f("X-Hopguard-Decision-Id", "00000000000000000000000000000000"),
			f("X-Hopguard-Agent-Id", "payroll-agent"), f("X-Hopguard-Task-Id", "payroll-run")),
		spoof("spoof-rewrite-headers", "Alice opens payroll with X-Original-URL and X-Rewrite-URL naming tickets",
			f("X-Original-URL", "/mcp/tickets"), f("X-Rewrite-URL", "/mcp/tickets"), f("X-Original-Method", "GET")),
	}
}

// withSession is a request by a with a's own token for server, carrying carol's session id.
func withSession(a scenarios.Actor, server string, build func(tok, session string) rawhttp.Request) builder {
	return func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
		session, err := k.Session(ctx, Carol, server)
		if err != nil {
			return rawhttp.Request{}, err
		}
		tok, err := k.Token(ctx, a, "mcp:"+server)
		if err != nil {
			return rawhttp.Request{}, err
		}
		return build(tok, session), nil
	}
}

func sessionCases() []Case {
	const cat = "MCP sessions and the event stream"
	sessionHeader := func(r rawhttp.Request, session string) rawhttp.Request {
		return r.With(rawhttp.Field{Name: "Mcp-Session-Id", Value: session}, rawhttp.Field{Name: "Mcp-Protocol-Version", Value: "2025-11-25"})
	}
	stream := func(tok string) rawhttp.Request {
		r := rawhttp.Request{Method: "GET", Target: "/mcp/payroll", Header: []rawhttp.Field{{Name: "Accept", Value: "text/event-stream"}}}
		if tok != "" {
			r.Header = append(r.Header, rawhttp.Field{Name: "Authorization", Value: "Bearer " + tok})
		}
		return r
	}
	return []Case{
		{ID: "session-of-another-principal-call", Category: cat, Expect: payrollDenied,
			Attack: "Alice calls run_payroll inside the payroll session Carol opened",
			Build: withSession(Alice, "payroll", func(tok, s string) rawhttp.Request {
				return sessionHeader(mcpPost("payroll", tok, toolCall(5, "run_payroll", `{}`)), s)
			})},
		{ID: "session-of-another-principal-list", Category: cat, Expect: payrollDenied,
			Attack: "the triage agent lists payroll's tools inside Carol's session",
			Build: withSession(Triage, "payroll", func(tok, s string) rawhttp.Request {
				return sessionHeader(mcpPost("payroll", tok, listToolsBody), s)
			})},
		{ID: "session-of-another-principal-stream", Category: cat, Expect: payrollDenied,
			Attack: "Alice opens the event stream of Carol's payroll session",
			Build:  withSession(Alice, "payroll", func(tok, s string) rawhttp.Request { return sessionHeader(stream(tok), s) })},
		{ID: "session-of-another-principal-delete", Category: cat, Expect: payrollDenied,
			Attack: "Alice ends Carol's payroll session (DELETE)",
			Build: withSession(Alice, "payroll", func(tok, s string) rawhttp.Request {
				r := sessionHeader(stream(tok), s)
				r.Method = "DELETE"
				return r
			})},
		{ID: "stream-without-a-token", Category: cat, Expect: []string{"unauthenticated"},
			Attack: "the SSE GET stream of tickets with no token at all",
			Build: func(context.Context, *Kit) (rawhttp.Request, error) {
				r := stream("")
				r.Target = "/mcp/tickets"
				return r, nil
			}},
		{ID: "stream-without-a-token-in-a-session", Category: cat, Expect: []string{"unauthenticated"},
			Attack: "the SSE GET stream of Carol's payroll session with no token, only her session id",
			Build:  withSession(Alice, "payroll", func(_, s string) rawhttp.Request { return sessionHeader(stream(""), s) })},
		{ID: "stream-with-an-empty-bearer", Category: cat, Expect: []string{"invalid_authorization", "unauthenticated"},
			Attack: "the SSE GET stream of payroll with \"Authorization: Bearer\" and nothing after it",
			Build: func(context.Context, *Kit) (rawhttp.Request, error) {
				return stream("").With(rawhttp.Field{Name: "Authorization", Value: "Bearer "}), nil
			}},
	}
}

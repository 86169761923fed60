package bypass

import (
	"bytes"
	"compress/gzip"
	"context"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/hopguard/hopguard/conformance/rawhttp"
)

// overLimit is the $9,000 refund padded past the gateway's 1 MiB body limit.
func overLimit() string {
	return toolCall(3, "refund_issue", `{"ticket_id":"T-1001","amount_cents":900000,"reason":"`+strings.Repeat("a", 2<<20)+`"}`)
}

// edited builds b, then edits the request.
func edited(b builder, edit func(*rawhttp.Request)) builder {
	return func(ctx context.Context, k *Kit) (rawhttp.Request, error) {
		r, err := b(ctx, k)
		if err != nil {
			return r, err
		}
		edit(&r)
		return r, nil
	}
}

func chunked(body string, size int) [][]byte {
	var out [][]byte
	for len(body) > size {
		out = append(out, []byte(body[:size]))
		body = body[size:]
	}
	return append(out, []byte(body))
}

func bodyCases() []Case {
	const cat = "body framing and content"
	return []Case{
		{ID: "body-over-the-limit", Category: cat, Expect: or(gatewayRefused, []string{"body_partial", "body_too_large"}),
			Attack: "the $9,000 refund in a 2 MiB body, past the body limit, in case an over-size body skips the check",
			Build:  aliceRefunds(overLimit())},
		{ID: "body-chunked", Category: cat, Expect: capDenied,
			Attack: "the $9,000 refund sent chunked, in 16-byte chunks, in case the check sees only the first chunk",
			Build: edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) {
				r.Chunks, r.Body = chunked(bigRefund, 16), nil
			})},
		{ID: "body-chunked-over-the-limit", Category: cat, Expect: or(gatewayRefused, []string{"body_partial", "body_too_large"}),
			Attack: "the 2 MiB refund sent chunked, with no length to refuse up front",
			Build: edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) {
				r.Chunks, r.Body = chunked(overLimit(), 64<<10), nil
			})},
		{ID: "body-chunked-and-length", Category: cat, Expect: or(gatewayRefused, capDenied),
			Attack: "Content-Length and Transfer-Encoding: chunked together (request smuggling: the check and the upstream may frame the body differently)",
			Build: edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) {
				r.OwnLength, r.Chunks, r.Body = true, chunked(bigRefund, 32), nil
				r.Header = append(r.Header, rawhttp.Field{Name: "Content-Length", Value: "4"}, rawhttp.Field{Name: "Transfer-Encoding", Value: "chunked"})
			})},
		{ID: "body-length-too-short", Category: cat, Expect: or(gatewayRefused, []string{"invalid_json"}),
			Attack: "the $9,000 refund with a Content-Length covering half of it; the rest follows on the connection as if it were the next request",
			Build: edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) {
				r.OwnLength = true
				r.Header = append(r.Header, rawhttp.Field{Name: "Content-Length", Value: strconv.Itoa(len(bigRefund) / 2)})
			})},
		{ID: "body-content-type-text", Category: cat, Expect: []string{"unsupported_content_type"},
			Attack: "the $9,000 refund labelled text/plain, in case the check skips bodies that are not JSON and the upstream parses it anyway",
			Build:  edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) { setHeader(r, "Content-Type", "text/plain") })},
		{ID: "body-content-type-form", Category: cat, Expect: []string{"unsupported_content_type"},
			Attack: "the $9,000 refund labelled application/x-www-form-urlencoded",
			Build: edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) {
				setHeader(r, "Content-Type", "application/x-www-form-urlencoded")
			})},
		{ID: "body-content-type-twice", Category: cat, Expect: []string{"unsupported_content_type"},
			Attack: "two Content-Type headers, application/json and text/plain",
			Build: edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) {
				r.Header = append(r.Header, rawhttp.Field{Name: "Content-Type", Value: "text/plain"})
			})},
		{ID: "body-utf16", Category: cat, Expect: []string{"unsupported_content_type"},
			Attack: "the $9,000 refund in UTF-16 labelled application/json; charset=utf-16",
			Build: edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) {
				setHeader(r, "Content-Type", "application/json; charset=utf-16")
				r.Body = utf16LE(bigRefund)
			})},
		{ID: "body-gzip", Category: cat, Expect: []string{"unsupported_content_encoding"},
			Attack: "the $9,000 refund gzipped with Content-Encoding: gzip, which the check cannot read and the upstream may inflate",
			Build: edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) {
				setHeader(r, "Content-Encoding", "gzip")
				r.Body = gzipped(bigRefund)
			})},
	}
}

func methodCases() []Case {
	const cat = "method overrides"
	return []Case{
		{ID: "method-override-headers", Category: cat, Expect: capDenied,
			Attack: "the $9,000 refund POSTed with X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override: GET",
			Build: edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) {
				r.Header = append(r.Header,
					rawhttp.Field{Name: "X-HTTP-Method-Override", Value: "GET"},
					rawhttp.Field{Name: "X-HTTP-Method", Value: "GET"},
					rawhttp.Field{Name: "X-Method-Override", Value: "GET"})
			})},
		{ID: "method-override-query", Category: cat, Expect: capDenied,
			Attack: "the $9,000 refund POSTed to /mcp/payments?_method=GET",
			Build:  edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) { r.Target += "?_method=GET" })},
		{ID: "method-get-with-body", Category: cat, Expect: or(gatewayRefused, []string{"body_unexpected"}),
			Attack: "GET (the event stream, which tier-1 may open) carrying the $9,000 refund as its body",
			Build:  edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) { r.Method = "GET" })},
		{ID: "method-put", Category: cat, Expect: or(gatewayRefused, []string{"method_not_allowed"}),
			Attack: "the $9,000 refund with PUT",
			Build:  edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) { r.Method = "PUT" })},
		{ID: "method-lower-case", Category: cat, Expect: or(gatewayRefused, []string{"method_not_allowed"}),
			Attack: "the $9,000 refund with method \"post\"",
			Build:  edited(aliceRefunds(bigRefund), func(r *rawhttp.Request) { r.Method = "post" })},
		{ID: "method-options-payroll", Category: cat, Expect: or(gatewayRefused, []string{"method_not_allowed"}, payrollDenied),
			Attack: "a CORS preflight (OPTIONS) to payroll by Alice, in case preflights skip the check",
			Build: aliceOpensPayroll(func(r *rawhttp.Request) {
				r.Method, r.Body = "OPTIONS", nil
				r.Header = append(r.Header, rawhttp.Field{Name: "Origin", Value: "http://127.0.0.1"}, rawhttp.Field{Name: "Access-Control-Request-Method", Value: "POST"})
			})},
		{ID: "method-head-payroll", Category: cat, Expect: or(gatewayRefused, []string{"method_not_allowed"}, payrollDenied),
			Attack: "HEAD on payroll by Alice",
			Build:  aliceOpensPayroll(func(r *rawhttp.Request) { r.Method, r.Body = "HEAD", nil })},
	}
}

func utf16LE(s string) []byte {
	var b bytes.Buffer
	for _, u := range utf16.Encode([]rune(s)) {
		b.WriteByte(byte(u))
		b.WriteByte(byte(u >> 8))
	}
	return b.Bytes()
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

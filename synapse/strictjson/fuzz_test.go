package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzDecode checks Decode against encoding/json, the parser a Go upstream uses: whatever Decode
// accepts, encoding/json accepts and reads as the same value; whatever Decode rejects that
// encoding/json accepts is rejected for one of the documented reasons.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund_issue","arguments":{"ticket_id":"T-1001","amount_cents":900000}}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]`,
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi \ud83d\ude00"}],"stream":true,"max_tokens":64}`,
		`{"model":"a","model":"b"}`,
		`{"method":"x","METHOD":"y"}`,
		`{"k":1,"\u212a":2}`,
		`"\ud800"`,
		"\"\xff\"",
		`[1e400,-0.0e-0,123456789012345678901234567890]`,
		`{"a":[[[[[[]]]]]]}`,
		`{} {}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(data, Limits{MaxDepth: 32})
		var want any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		stdErr := dec.Decode(&want)
		if stdErr == nil && dec.InputOffset() != int64(len(bytes.TrimRight(data, " \t\r\n"))) {
			stdErr = errors.New("trailing data")
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if stdErr == nil && errors.Is(err, ErrSyntax) {
				t.Fatalf("encoding/json accepts %q, Decode calls it a syntax error: %v", data, err)
			}
			return
		}
		if stdErr != nil {
			t.Fatalf("Decode accepts %q, encoding/json rejects it: %v", data, stdErr)
		}
		if !equalJSON(got, want) {
			t.Fatalf("Decode and encoding/json disagree on %q:\n%#v\n%#v", data, got, want)
		}
		if !utf8.Valid(data) {
			t.Fatalf("Decode accepted invalid UTF-8 %q", data)
		}

		// DecodeMembers materialises a subset of what Decode returns, never something else.
		obj, isObj := got.(map[string]any)
		members, err := DecodeMembers(data, Limits{MaxDepth: 32}, "model", "method")
		switch {
		case !isObj && err == nil:
			t.Fatalf("DecodeMembers accepted a non-object %q", data)
		case isObj && err != nil && !errors.Is(err, ErrCaseVariant):
			t.Fatalf("DecodeMembers rejects an object Decode accepts: %v", err)
		case err == nil:
			for k, v := range members {
				if !equalJSON(v, obj[k]) {
					t.Fatalf("member %q differs: %#v vs %#v", k, v, obj[k])
				}
			}
		}
	})
}

// equalJSON compares two decoded documents.
func equalJSON(a, b any) bool { return reflect.DeepEqual(a, b) }

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

// FuzzDecodeLimits holds the count limits to their meaning: a document Decode accepts under
// small limits has no more values, members, elements or string bytes than they allow, and one
// it refuses as too complex but accepts without them has more of one of them. No other
// refusal appears or disappears with them.
func FuzzDecodeLimits(f *testing.F) {
	for _, s := range []string{`[0,0,0]`, `[0,0,0,0]`, `{"a":1,"b":2,"c":3}`, `{"a":1,"b":2,"c":3,"d":4}`,
		`"abcdef"`, `"abc\u00e9f"`, `[[0],[0,[0]]]`, `{"abcdefg":0}`, `[[[[[[[[0]]]]]]]]`} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxDepth: 32, MaxValues: 8, MaxMembers: 3, MaxElements: 3, MaxString: 6}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(data, lim)
		loose, looseErr := Decode(data, Limits{MaxDepth: 32})
		switch {
		case err == nil:
			if looseErr != nil {
				t.Fatalf("accepted under the limits, refused without them: %v", looseErr)
			}
			if m := measure(got); !m.within(lim) {
				t.Fatalf("accepted %q, which passes the limits: %+v", data, m)
			}
		case errors.Is(err, ErrTooComplex):
			if looseErr == nil && measure(loose).within(lim) {
				t.Fatalf("refused %q as too complex, which is within the limits: %v", data, err)
			}
		case looseErr == nil:
			t.Fatalf("refused %q with %v under the limits, accepted without them", data, err)
		}
	})
}

// shape is what the count limits bound in a decoded document.
type shape struct{ values, members, elements, str int }

func (s shape) within(l Limits) bool {
	return s.values <= l.MaxValues && s.members <= l.MaxMembers && s.elements <= l.MaxElements && s.str <= l.MaxString
}

func measure(v any) shape {
	s := shape{values: 1}
	switch v := v.(type) {
	case string:
		s.str = len(v)
	case map[string]any:
		s.members = len(v)
		for k, e := range v {
			s.str = max(s.str, len(k))
			s = s.add(measure(e))
		}
	case []any:
		s.elements = len(v)
		for _, e := range v {
			s = s.add(measure(e))
		}
	}
	return s
}

// add counts the values of an inner value and keeps the largest of the rest.
func (s shape) add(in shape) shape {
	return shape{values: s.values + in.values, members: max(s.members, in.members),
		elements: max(s.elements, in.elements), str: max(s.str, in.str)}
}

package strictjson

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"object", `{"a":1,"b":[true,false,null],"c":"x"}`, map[string]any{
			"a": json.Number("1"), "b": []any{true, false, nil}, "c": "x",
		}},
		{"whitespace around", " \t\r\n{}\n ", map[string]any{}},
		{"empty array is not nil", `[]`, []any{}},
		{"number kept literally", `[1e400, -0, 0.1, 9007199254740993]`, []any{
			json.Number("1e400"), json.Number("-0"), json.Number("0.1"), json.Number("9007199254740993"),
		}},
		{"escapes decoded", `"refund\u005fissue \"q\" \\ \/ \b\f\n\r\t"`, "refund_issue \"q\" \\ / \b\f\n\r\t"},
		{"surrogate pair", `"\ud83d\ude00"`, "😀"},
		{"utf-8 passes through", `"héllo ☃ 😀 \ufffd"`, "héllo ☃ 😀 \ufffd"},
		{"literal replacement character is valid", "\"\xef\xbf\xbd\"", "\ufffd"},
		{"keys that differ by more than case", `{"model":1,"models":2,"mode1":3}`, map[string]any{
			"model": json.Number("1"), "models": json.Number("2"), "mode1": json.Number("3"),
		}},
		{"same key in sibling objects", `[{"a":1},{"a":2}]`, []any{
			map[string]any{"a": json.Number("1")}, map[string]any{"a": json.Number("2")},
		}},
		{"same key at different depths", `{"a":{"a":{"a":1}}}`, map[string]any{
			"a": map[string]any{"a": map[string]any{"a": json.Number("1")}},
		}},
		{"scalar document", `"x"`, "x"},
		{"null document", `null`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in), Limits{})
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	deep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	manyKeys := func(dupe string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range 40 {
			b.WriteString(`"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":0,`)
		}
		b.WriteString(dupe + `:1}`)
		return b.String()
	}
	tests := []struct {
		name string
		in   string
		kind error
	}{
		{"empty", ``, ErrSyntax},
		{"trailing data", `{"model":"a"}{"model":"b"}`, ErrSyntax},
		{"trailing garbage", `{} x`, ErrSyntax},
		{"trailing comma", `[1,]`, ErrSyntax},
		{"comment", `{/*x*/}`, ErrSyntax},
		{"NaN", `NaN`, ErrSyntax},
		{"Infinity", `[Infinity]`, ErrSyntax},
		{"leading zero", `01`, ErrSyntax},
		{"bare minus", `-`, ErrSyntax},
		{"fraction without digits", `1.`, ErrSyntax},
		{"exponent without digits", `1e+`, ErrSyntax},
		{"plus sign", `+1`, ErrSyntax},
		{"single quotes", `{'a':1}`, ErrSyntax},
		{"unquoted key", `{a:1}`, ErrSyntax},
		{"byte-order mark", "\ufeff{}", ErrSyntax},
		{"raw control character", "\"a\x01b\"", ErrSyntax},
		{"raw newline in string", "\"a\nb\"", ErrSyntax},
		{"bad escape", `"\x41"`, ErrSyntax},
		{"short unicode escape", `"\u12"`, ErrSyntax},
		{"unterminated string", `"abc`, ErrSyntax},
		{"unterminated object", `{"a":1`, ErrSyntax},
		{"truncated literal", `tru`, ErrSyntax},
		{"literal with suffix", `truex`, ErrSyntax},
		{"invalid utf-8 byte", "\"a\xffb\"", ErrInvalidUTF8},
		{"invalid utf-8 in key", "{\"a\xc3\":1}", ErrInvalidUTF8},
		{"utf-8 encoded surrogate", "\"\xed\xa0\x80\"", ErrInvalidUTF8},
		{"overlong utf-8", "\"\xc0\xaf\"", ErrInvalidUTF8},
		{"lone high surrogate", `"\ud800"`, ErrInvalidUTF8},
		{"lone low surrogate", `"\udc00"`, ErrInvalidUTF8},
		{"high surrogate then letter", `"\ud800\u0041"`, ErrInvalidUTF8},
		{"duplicate key", `{"model":"gpt-4o-mini","model":"gpt-4o"}`, ErrDuplicateKey},
		{"duplicate key deep", `{"params":{"arguments":{"amount_cents":100,"amount_cents":900000}}}`, ErrDuplicateKey},
		{"duplicate key in array element", `[{"a":1},{"b":1,"b":2}]`, ErrDuplicateKey},
		{"duplicate via escape", `{"model":"a","mod\u0065l":"b"}`, ErrDuplicateKey},
		{"duplicate by case", `{"method":"tools/list","METHOD":"tools/call"}`, ErrDuplicateKey},
		{"duplicate by kelvin sign", `{"k":1,"\u212a":2}`, ErrDuplicateKey},
		{"duplicate by long s", `{"stream":false,"\u017ftream":true}`, ErrDuplicateKey},
		{"duplicate in big object", manyKeys(`"kaa"`), ErrDuplicateKey},
		{"duplicate by case in big object", manyKeys(`"KAB"`), ErrDuplicateKey},
		{"too deep", deep, ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in), Limits{})
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.kind)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.NotEmpty(t, e.Detail)
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	_, err := Decode([]byte(`[[1]]`), Limits{MaxDepth: 2})
	require.NoError(t, err)
	_, err = Decode([]byte(`[[[1]]]`), Limits{MaxDepth: 2})
	require.ErrorIs(t, err, ErrTooDeep)

	_, err = Decode([]byte(`"12345"`), Limits{MaxBytes: 7})
	require.NoError(t, err)
	_, err = Decode([]byte(`"123456"`), Limits{MaxBytes: 7})
	require.ErrorIs(t, err, ErrTooLarge)

	// A hostile nesting far past the limit fails fast instead of exhausting the stack.
	_, err = Decode([]byte(strings.Repeat("[", 1<<20)), Limits{})
	require.ErrorIs(t, err, ErrTooDeep)
}

func TestDecodeMembers(t *testing.T) {
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"n":1}`
	got, err := DecodeMembers([]byte(body), Limits{}, "model", "stream", "max_tokens")
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"model": "gpt-4o", "stream": true}, got)

	tests := []struct {
		name string
		in   string
		kind error
	}{
		{"not an object", `["model"]`, ErrSyntax},
		{"case variant of a requested member", `{"Model":"gpt-4o"}`, ErrCaseVariant},
		{"kelvin-sign variant of a requested member", `{"model":"x","max_to\u212aens":5}`, ErrCaseVariant},
		{"duplicate among skipped members", `{"model":"x","messages":[{"role":"a","role":"b"}]}`, ErrDuplicateKey},
		{"duplicate requested member", `{"model":"x","model":"y"}`, ErrDuplicateKey},
		{"invalid utf-8 in a skipped member", "{\"model\":\"x\",\"messages\":\"\xff\"}", ErrInvalidUTF8},
		{"trailing data", `{"model":"x"} {}`, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMembers([]byte(tt.in), Limits{}, "model", "stream", "max_tokens")
			assert.ErrorIs(t, err, tt.kind)
		})
	}
}

func TestFoldKeyMatchesEqualFold(t *testing.T) {
	pairs := [][2]string{
		{"model", "MODEL"}, {"k", "\u212a"}, {"s", "\u017f"}, {"straße", "STRASSE"},
		{"σ", "Σ"}, {"ς", "Σ"}, {"a", "b"}, {"ǅ", "ǆ"},
	}
	for _, p := range pairs {
		assert.Equal(t, strings.EqualFold(p[0], p[1]), foldKey([]byte(p[0])) == foldKey([]byte(p[1])), "%q vs %q", p[0], p[1])
	}
}

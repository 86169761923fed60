package strictjson

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func repeatJoin(s string, n int) string {
	return strings.TrimSuffix(strings.Repeat(s+",", n), ",")
}

func members(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = `"k` + strconv.Itoa(i) + `":0`
	}
	return "{" + strings.Join(keys, ",") + "}"
}

// Each count limit at its edge: the limit itself is decoded, one more is refused as too
// complex, whether the value is kept (Decode) or only validated (a member DecodeMembers skips).
func TestLimitsAtTheEdge(t *testing.T) {
	tests := []struct {
		name      string
		lim       Limits
		at, over  string
		overWhere string // what the refusal's detail names
	}{
		// [0,0,0,0] is five values: the array and its elements.
		{"values", Limits{MaxValues: 5}, `[0,0,0,0]`, `[0,0,0,0,0]`, "more than 5 values"},
		{"values across nesting", Limits{MaxValues: 5}, `[[0],[0]]`, `[[0],[0,0]]`, "more than 5 values"},
		{"members", Limits{MaxMembers: 3}, members(3), members(4), "more than 3 members"},
		{"elements", Limits{MaxElements: 3}, `[1,2,3]`, `[1,2,3,4]`, "more than 3 elements"},
		{"elements of an inner array", Limits{MaxElements: 3}, `[[1,2,3]]`, `[[1,2,3,4]]`, "more than 3 elements"},
		{"string bytes", Limits{MaxString: 4}, `"abcd"`, `"abcde"`, "more than 4"},
		{"string bytes, unescaped", Limits{MaxString: 4}, `"\u00e9\u00e9"`, `"\u00e9\u00e9x"`, "more than 4"},
		{"string bytes, multi-byte", Limits{MaxString: 4}, `"éé"`, `"ééx"`, "more than 4"},
		{"key bytes", Limits{MaxString: 4}, `{"abcd":0}`, `{"abcde":0}`, "more than 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.at), tt.lim)
			require.NoError(t, err, "at the limit")
			_, err = Decode([]byte(tt.over), tt.lim)
			require.ErrorIs(t, err, ErrTooComplex)
			assert.Contains(t, err.Error(), tt.overWhere)
		})
		t.Run(tt.name+" skipped", func(t *testing.T) {
			lim := tt.lim
			if lim.MaxValues > 0 {
				lim.MaxValues++ // the enclosing object
			}
			wrap := func(v string) []byte { return []byte(`{"o":` + v + `}`) }
			_, err := DecodeMembers(wrap(tt.at), lim, "m")
			require.NoError(t, err, "at the limit")
			_, err = DecodeMembers(wrap(tt.over), lim, "m")
			require.ErrorIs(t, err, ErrTooComplex)
		})
	}
}

// Zero count limits are bounded by the document's size alone: every value takes a byte.
func TestZeroLimitsAreBoundedBySize(t *testing.T) {
	doc := "[" + repeatJoin("0", 1000) + "]"
	_, err := Decode([]byte(doc), Limits{})
	require.NoError(t, err)
	_, err = Decode([]byte(doc), Limits{MaxBytes: len(doc)})
	require.NoError(t, err)
	_, err = Decode([]byte(doc), Limits{MaxBytes: len(doc) - 1})
	require.ErrorIs(t, err, ErrTooLarge)
}

// A document over a limit is refused where the limit is passed, not after reading it whole.
func TestLimitsStopEarly(t *testing.T) {
	doc := []byte("[" + repeatJoin("0", 100_000) + "]")
	_, err := Decode(doc, Limits{MaxElements: 10})
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Less(t, e.Offset, 30, "refused at the eleventh element")

	doc = []byte(members(2000))
	_, err = Decode(doc, Limits{MaxMembers: 10})
	require.ErrorAs(t, err, &e)
	assert.Less(t, e.Offset, 200, "refused at the eleventh key")
}

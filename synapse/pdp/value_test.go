package pdp

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// viaJSON is the conversion attrValue must agree with.
func viaJSON(v any) (*structpb.Value, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	val := &structpb.Value{}
	if err := val.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return val, nil
}

func TestAttrValueAgreesWithJSON(t *testing.T) {
	type tagged struct {
		Ticket string `json:"ticket_id"`
		Amount int    `json:"amount_cents"`
	}
	tests := map[string]any{
		"nil":                 nil,
		"string":              "T-1001",
		"unicode":             "Café — 5 €",
		"invalid utf-8":       "bad \xff byte",
		"empty string":        "",
		"bool":                true,
		"float":               4000.5,
		"negative zero":       math.Copysign(0, -1),
		"big float":           1e300,
		"int":                 900000,
		"int64 beyond 2^53":   int64(1<<60 + 1),
		"nil []any":           []any(nil),
		"nil []string":        []string(nil),
		"nil map":             map[string]any(nil),
		"empty map":           map[string]any{},
		"[]string":            []string{"tier-1-support", "tier-2-lead"},
		"[]any":               []any{"a", 1.0, false, nil, map[string]any{"k": "v"}},
		"nested":              map[string]any{"task": map[string]any{"id": "t-1", "status": "active"}, "n": []any{[]any{1.0}}},
		"invalid utf-8 key":   map[string]any{"k\xff": "v"},
		"invalid utf-8 value": map[string]any{"k": []any{"\xfe"}},
		"raw message":         json.RawMessage(`{"ticket_id":"T-1","amount_cents":4000}`),
		"json number":         json.Number("12.50"),
		"struct with tags":    tagged{Ticket: "T-1", Amount: 4000},
		"[]int":               []int{1, 2},
		"NaN":                 math.NaN(),
		"infinity":            math.Inf(1),
		"NaN inside a map":    map[string]any{"x": math.NaN()},
		"channel":             make(chan int),
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			want, wantErr := viaJSON(v)
			got, err := attrValue(v)
			if wantErr != nil {
				require.Error(t, err, "JSON refuses it, so must attrValue")
				return
			}
			require.NoError(t, err)
			assert.True(t, proto.Equal(want, got), "want %v, got %v", want, got)
		})
	}
}

func TestDirectValueTakesTheMappersValues(t *testing.T) {
	// The shapes mapping.Check.Attr and the principal carry must not fall back to JSON.
	for _, v := range []any{
		map[string]any{"api": "chat.completions", "model": "gpt-4o-mini", "stream": false, "max_tokens": 256.0},
		map[string]any{"id": "task-1", "status": "active", "ticket_id": "T-1001"},
		map[string]any{"ticket_id": "T-1001", "amount_cents": 900000.0, "tags": []any{"a", nil}},
	} {
		_, ok := directValue(v)
		assert.True(t, ok, "%v", v)
	}
}

// BenchmarkAttrs converts the attributes of the refund hop, the largest of the demo's checks.
func BenchmarkAttrs(b *testing.B) {
	resource := map[string]any{
		"method": "tools/call", "server": "payments", "tool": "refund_issue",
		"arguments": map[string]any{"ticket_id": "T-1001", "amount_cents": 900000.0, "reason": "the customer asks for a refund"},
	}
	principal := map[string]any{
		"agent_id": "triage", "harness_version": "1.0.0", "task_id": "task-1",
		"task": map[string]any{"id": "task-1", "status": "active", "ticket_id": "T-1001"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := attrs(resource); err != nil {
			b.Fatal(err)
		}
		if _, err := attrs(principal); err != nil {
			b.Fatal(err)
		}
	}
}

package mapping

import (
	"fmt"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envelopeValues is how many JSON values toolCallBody adds around its arguments: the message,
// "2.0", the id, "tools/call", params and the tool's name.
const envelopeValues = 6

// arrayArgs is {"a":[0,...]} with n elements.
func arrayArgs(n int) string {
	return `{"a":[` + strings.TrimSuffix(strings.Repeat("0,", n), ",") + `]}`
}

// objectArgs is an object of n members.
func objectArgs(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":0`, i)
	}
	b.WriteString("}")
	return b.String()
}

// valuesArgs is arguments that make a tools/call body of exactly total JSON values, in arrays
// short enough that no other limit applies.
func valuesArgs(total int) string {
	var b strings.Builder
	b.WriteString("{")
	for i, rest := 0, total-envelopeValues-1; rest > 0; i++ {
		n := min(rest, DefaultMaxArrayElements+1) // the array and its elements
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"a%d":[%s]`, i, strings.TrimSuffix(strings.Repeat("0,", n-1), ","))
		rest -= n
	}
	b.WriteString("}")
	return b.String()
}

// nestedArgs is arguments nesting depth objects deep: {"a":{"a":...{}}}.
func nestedArgs(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

func mapTool(t *testing.T, args string, lim Limits) (*Input, error) {
	t.Helper()
	return MapWithLimits(mcp("payments", toolCallBody(1, "get_charge", args)).build(envoy), testRoutes, lim)
}

// Each limit at the edge, at its default: the limit itself is allowed, one more is refused
// with the limit's own code.
func TestLimitsAtTheEdge(t *testing.T) {
	def := DefaultLimits()
	tests := []struct {
		name      string
		atLimit   string // arguments exactly at the limit
		overLimit string // one more
		code      string
	}{
		{"values in a body", valuesArgs(def.MaxValues), valuesArgs(def.MaxValues + 1), CodeRequestTooComplex},
		{"members of an object", objectArgs(def.MaxObjectMembers), objectArgs(def.MaxObjectMembers + 1), CodeRequestTooComplex},
		{"elements of an array", arrayArgs(def.MaxArrayElements), arrayArgs(def.MaxArrayElements + 1), CodeRequestTooComplex},
		{"bytes of a string value",
			`{"s":"` + strings.Repeat("x", def.MaxStringBytes) + `"}`,
			`{"s":"` + strings.Repeat("x", def.MaxStringBytes+1) + `"}`, CodeRequestTooComplex},
		{"bytes of an escaped string, once unescaped",
			`{"s":"` + strings.Repeat(`\u00e9`, def.MaxStringBytes/2) + `"}`,
			`{"s":"` + strings.Repeat(`\u00e9`, def.MaxStringBytes/2) + `x"}`, CodeRequestTooComplex},
		{"bytes of a key",
			`{"` + strings.Repeat("k", def.MaxStringBytes) + `":1}`,
			`{"` + strings.Repeat("k", def.MaxStringBytes+1) + `":1}`, CodeRequestTooComplex},
		// The body nests the arguments two deep: the message, then params.
		{"nesting", nestedArgs(def.MaxDepth - 2), nestedArgs(def.MaxDepth - 1), CodeJSONTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := mapTool(t, tt.atLimit, Limits{})
			require.NoError(t, err, "at the limit")
			require.Len(t, in.Checks, 1)
			in, err = mapTool(t, tt.overLimit, Limits{})
			assertRefused(t, in, err, tt.code)
		})
	}
}

func TestLimitsAtTheEdgeOfTheBatch(t *testing.T) {
	batch := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"ping"},`, n), ",") + "]"
	}
	in, err := MapWithLimits(mcp("payments", batch(MaxBatch)).build(envoy), testRoutes, Limits{})
	require.NoError(t, err)
	assert.Len(t, in.Checks, MaxBatch)
	in, err = MapWithLimits(mcp("payments", batch(MaxBatch+1)).build(envoy), testRoutes, Limits{})
	assertRefused(t, in, err, CodeBatchTooLarge)
}

// Limits set lower than the defaults hold at their own edge, on the body's size and on the
// checks' encoded size as well.
func TestConfiguredLimitsAtTheEdge(t *testing.T) {
	body := toolCallBody(1, "get_charge", `{"charge_id":"ch_1001"}`)
	bodyAt := func(n int) string { return body + strings.Repeat(" ", n-len(body)) }
	lim := Limits{MaxBodyBytes: 200}
	_, err := MapWithLimits(mcp("payments", bodyAt(200)).build(envoy), testRoutes, lim)
	require.NoError(t, err)
	in, err := MapWithLimits(mcp("payments", bodyAt(201)).build(envoy), testRoutes, lim)
	assertRefused(t, in, err, CodeBodyTooLarge)

	// The checks' size grows byte for byte with a string argument.
	in, err = mapTool(t, `{"s":""}`, Limits{})
	require.NoError(t, err)
	lim = Limits{MaxCheckBytes: 4000}
	pad := lim.MaxCheckBytes - ChecksSize(in.Checks)
	in, err = mapTool(t, `{"s":"`+strings.Repeat("x", pad)+`"}`, lim)
	require.NoError(t, err)
	assert.Equal(t, lim.MaxCheckBytes, ChecksSize(in.Checks))
	in, err = mapTool(t, `{"s":"`+strings.Repeat("x", pad+1)+`"}`, lim)
	assertRefused(t, in, err, CodeRequestTooComplex)

	for _, tt := range []struct {
		name string
		lim  Limits
		at   string
		over string
	}{
		{"values", Limits{MaxValues: 20}, valuesArgs(20), valuesArgs(21)},
		// The message itself has four members.
		{"members", Limits{MaxObjectMembers: 4}, objectArgs(4), objectArgs(5)},
		{"elements", Limits{MaxArrayElements: 3}, arrayArgs(3), arrayArgs(4)},
		{"string bytes", Limits{MaxStringBytes: 16}, `{"s":"` + strings.Repeat("x", 16) + `"}`, `{"s":"` + strings.Repeat("x", 17) + `"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mapTool(t, tt.at, tt.lim)
			require.NoError(t, err)
			in, err := mapTool(t, tt.over, tt.lim)
			assertRefused(t, in, err, CodeRequestTooComplex)
		})
	}
}

// The demo's tool calls fit the defaults with room to spare: a batch of the largest of them,
// a refund with the longest reason its schema allows, as many as a batch holds.
func TestDefaultLimitsFitTheDemo(t *testing.T) {
	refund := toolCallBody(1, "refund_issue", `{"ticket_id":"T-1001","amount_cents":4000,"currency":"usd","reason":"`+strings.Repeat("é", 2000)+`"}`)
	batch := "[" + strings.TrimSuffix(strings.Repeat(refund+",", MaxBatch), ",") + "]"
	in, err := Map(mcp("payments", batch).build(envoy), testRoutes)
	require.NoError(t, err)
	assert.Len(t, in.Checks, MaxBatch)
	assert.Less(t, ChecksSize(in.Checks), DefaultMaxCheckBytes/4)
}

// A model call's body is held to its size, its depth and the members of an object only:
// nothing but a few scalars of it is kept, and a chat history legitimately holds long strings
// and arrays.
func TestModelCallsAreNotHeldToTheMCPLimits(t *testing.T) {
	long := strings.Repeat("x", DefaultMaxStringBytes+1)
	wide := strings.TrimSuffix(strings.Repeat(`{"role":"user","content":"hi"},`, DefaultMaxArrayElements+1), ",")
	_, err := Map(chat(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"`+long+`"},`+wide+`]}`).build(envoy), testRoutes)
	require.NoError(t, err)

	withMetadata := func(members int) *authv3.CheckRequest {
		return chat(`{"model":"gpt-4o-mini","metadata":` + objectArgs(members) + `,"messages":[]}`).build(envoy)
	}
	_, err = Map(withMetadata(DefaultMaxObjectMembers), testRoutes)
	require.NoError(t, err)
	in, err := Map(withMetadata(DefaultMaxObjectMembers+1), testRoutes)
	assertRefused(t, in, err, CodeRequestTooComplex)
}

func TestLimitsDefaults(t *testing.T) {
	assert.Equal(t, DefaultLimits(), Limits{}.withDefaults(), "zero fields take the defaults")
	assert.Equal(t, DefaultLimits(), Limits{MaxValues: -1, MaxDepth: -5}.withDefaults(), "so do negative ones")
	assert.Equal(t, MaxCheckBytesCeiling, Limits{MaxCheckBytes: 1 << 30}.withDefaults().MaxCheckBytes, "never past the ceiling")
}

// hugeArguments are the two bodies of issue 16: a 500,000-element array (1 MB) and an
// 80,000-key object (0.9 MB) as the arguments of an otherwise allowed get_charge. Each took
// hundreds of milliseconds to map, and expanded past what Cerbos accepts.
func hugeArguments() map[string]string {
	return map[string]string{
		"array of 500000": `{"charge_id":"ch_1001","x":[` + strings.TrimSuffix(strings.Repeat("0,", 500_000), ",") + `]}`,
		"object of 80000": objectArgs(80_000),
	}
}

// Both are refused as too complex after reading no more than the limit's worth of them. The
// time bound is a thousand times what it takes (BenchmarkMapRefusesHugeArguments), so that a
// loaded machine cannot make it flake; the best of three runs is taken.
func TestMapRefusesHugeArgumentsFast(t *testing.T) {
	for name, args := range hugeArguments() {
		t.Run(name, func(t *testing.T) {
			req := mcp("payments", toolCallBody(1, "get_charge", args)).build(envoy)
			best := time.Hour
			for range 3 {
				start := time.Now()
				in, err := Map(req, testRoutes)
				best = min(best, time.Since(start))
				assertRefused(t, in, err, CodeRequestTooComplex)
			}
			assert.Less(t, best, 50*time.Millisecond)
		})
	}
}

func BenchmarkMapRefusesHugeArguments(b *testing.B) {
	for name, args := range hugeArguments() {
		req := mcp("payments", toolCallBody(1, "get_charge", args)).build(envoy)
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Map(req, testRoutes); err == nil {
					b.Fatal("mapped")
				}
			}
		})
	}
}

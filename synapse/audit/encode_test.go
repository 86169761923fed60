package audit

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hand-written encoder must give exactly the bytes encoding/json gives:
// the decision log's format is what encoding/json made of Record.
func TestAppendRecordMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 25, 21, 50, 7, 123456789, time.UTC)
	tests := []struct {
		name   string
		record Record
	}{
		{name: "zero record", record: Record{}},
		{name: "minimal allow", record: Record{Time: at, DecisionID: "d1", Effect: EffectAllow, LatencyMS: 0.734}},
		{name: "every field", record: Record{
			Time: at, DecisionID: "d2", CerbosCallID: "01JX", Cached: true, CachedFrom: "d1", Effect: EffectDeny, Code: "PERMISSION_DENIED",
			Reason: "policy denied", Failure: "pdp", Policy: "resource.mcp_payments.vdefault", PolicyVersion: "sha256:1f2e3d4c5b6a7980",
			Principal: "spiffe://hopguard/agent/refunds",
			Roles:     []string{"agent", "refunds"}, Actor: "alice", AgentID: "refund-bot", HarnessVersion: "1.2.3",
			Task: "t-42", TaskStatus: "active", Ticket: "SUP-7", Kind: "mcp:payments",
			Resources: []Resource{
				{Kind: "mcp:payments", ID: "refund", Actions: []string{"tools/call"}},
				{Kind: "llm", ID: "gpt", Actions: []string{}},
				{Kind: "x", ID: "nil actions"},
			},
			LatencyMS: 12.5,
		}},
		{name: "cached", record: Record{Time: at, DecisionID: "d3", Cached: true, CachedFrom: "d2", Effect: EffectAllow, LatencyMS: 0.1}},
		{name: "empty roles and resources are omitted", record: Record{Time: at, Roles: []string{}, Resources: []Resource{}}},
		{name: "empty strings inside slices", record: Record{Roles: []string{""}, Resources: []Resource{{Actions: []string{""}}}}},
		{name: "quotes, backslashes and control bytes", record: Record{
			Reason: "say \"no\" \\ then\n\r\t\b\f\x00\x01\x1f\x7f end",
		}},
		{name: "html characters", record: Record{Reason: "<script>a && b</script>", Principal: "a>b<c&"}},
		{name: "unicode", record: Record{
			Actor: "Zoë 日本語 🚀", Reason: "line\u2028para\u2029end", Task: "é\u0301",
		}},
		{name: "invalid utf-8", record: Record{Reason: "bad \xff\xfe byte \xc3 cut \xe6\x97", Actor: "\xed\xa0\x80"}},
		{name: "time with zone and no fraction", record: Record{Time: time.Date(1999, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -(5*3600+30*60)))}},
		{name: "time with trailing zeros in fraction", record: Record{Time: time.Date(2026, 1, 1, 0, 0, 0, 120000000, time.UTC)}},
		{name: "time with monotonic reading", record: Record{Time: time.Now()}},
		{name: "year zero", record: Record{Time: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "negative latency", record: Record{LatencyMS: -0.5}},
		{name: "negative zero latency", record: Record{LatencyMS: math.Copysign(0, -1)}},
		{name: "tiny latency", record: Record{LatencyMS: 1e-9}},
		{name: "just under exponent threshold", record: Record{LatencyMS: 1e-6}},
		{name: "huge latency", record: Record{LatencyMS: 1e21}},
		{name: "large latency", record: Record{LatencyMS: 123456789012345678901.0}},
		{name: "max float", record: Record{LatencyMS: math.MaxFloat64}},
		{name: "smallest float", record: Record{LatencyMS: math.SmallestNonzeroFloat64}},
		{name: "long fraction", record: Record{LatencyMS: 1.0 / 3}},
	}
	// "every field" must stay that: a field added to Record and not to the encoder is caught
	// only if the case sets it.
	every := reflect.ValueOf(tests[2].record)
	for i := range every.NumField() {
		require.False(t, every.Field(i).IsZero(), "the case %q leaves Record.%s unset", tests[2].name, every.Type().Field(i).Name)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.record)
			require.NoError(t, err)
			got, err := appendRecord([]byte("prefix"), &tt.record)
			require.NoError(t, err)
			assert.Equal(t, "prefix"+string(want), string(got))
		})
	}
}

func TestAppendRecordRefusesWhatEncodingJSONRefuses(t *testing.T) {
	tests := []struct {
		name   string
		record Record
	}{
		{name: "NaN latency", record: Record{LatencyMS: math.NaN()}},
		{name: "infinite latency", record: Record{LatencyMS: math.Inf(1)}},
		{name: "negative infinite latency", record: Record{LatencyMS: math.Inf(-1)}},
		{name: "year after 9999", record: Record{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "negative year", record: Record{Time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "zone offset of a day", record: Record{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 24*3600))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, wantErr := json.Marshal(tt.record)
			require.Error(t, wantErr)
			_, err := appendRecord(nil, &tt.record)
			assert.Error(t, err)
		})
	}
}

func FuzzAppendString(f *testing.F) {
	for _, seed := range []string{"", "plain", "\"\\/", "<>&", "\x00\x1f\x7f", "\u2028\u2029", "\xff", "日本", "\xed\xa0\x80"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendString(nil, s)))
	})
}

func BenchmarkLogWrite(b *testing.B) {
	log := Discard()
	r := Record{
		Time: time.Now(), DecisionID: "0193a5d2-7c1e-7a3b-9f00-1234567890ab", CerbosCallID: "01JDX9QZ3B1Y0N7V5W",
		Effect: EffectAllow, Principal: "spiffe://hopguard/agent/refunds", Roles: []string{"agent"},
		Actor: "alice", AgentID: "refund-bot", Task: "t-42", TaskStatus: "active", Kind: "mcp:payments",
		Resources: []Resource{{Kind: "mcp:payments", ID: "refund", Actions: []string{"tools/call"}}},
		LatencyMS: 0.734,
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := log.Write(r); err != nil {
			b.Fatal(err)
		}
	}
}

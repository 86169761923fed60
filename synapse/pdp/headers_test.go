package pdp

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"google.golang.org/grpc/metadata"
)

// headerValueByRune is headerValue as it was first written, rune by rune: the reference the
// fast path is held to.
func headerValueByRune(v string) string {
	var b strings.Builder
	for _, r := range v {
		if b.Len() >= maxHeaderValue {
			break
		}
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestHeaderValueMatchesTheRuneByRuneReading(t *testing.T) {
	long := strings.Repeat("a", maxHeaderValue)
	for _, v := range []string{
		"", "task-42", "9.9.9", "agent\névil", "tab\there", "\x7f", "\xff\xfe", "é", "日本",
		long, long + "b", long[1:] + "é", long[1:] + "\n", long[2:] + "é", "é" + long, long + long,
		strings.Repeat("é", 200), "a\x00b", " ~",
	} {
		assert.Equal(t, headerValueByRune(v), headerValue(v), "%q", v)
	}
}

func FuzzHeaderValue(f *testing.F) {
	f.Add("triage-agent-7")
	f.Add("agent\névil")
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := headerValue(v), headerValueByRune(v); got != want {
			t.Fatalf("headerValue(%q) = %q, want %q", v, got, want)
		}
	})
}

func TestHeadersSendsEveryNonEmptyField(t *testing.T) {
	md := headers(Metadata{DecisionID: "d-1", AgentID: "agent\n1", TaskID: "t-1"})
	assert.Equal(t, metadata.MD{
		HeaderDecisionID: {"d-1"},
		HeaderAgentID:    {"agent?1"},
		HeaderTaskID:     {"t-1"},
	}, md)
	assert.Empty(t, headers(Metadata{}))
}

func BenchmarkHeaders(b *testing.B) {
	m := Metadata{DecisionID: "9249d30eec5eab2f22fbb803783c1810", AgentID: "triage-agent-7", HarnessVersion: "1.0.0", TaskID: "task-42"}
	b.ReportAllocs()
	for b.Loop() {
		headers(m)
	}
}

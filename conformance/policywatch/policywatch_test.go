package policywatch

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Lines of Cerbos 0.55.0's own log, as it wrote them for a policy it could not parse and one it
// could not compile (shortened).
const (
	unreadable = `{"log.level":"warn","@timestamp":"2026-12-05T14:59:24.192Z","log.logger":"cerbos.dir.watch","message":"Failed to read policy from file","dir":"/run/cerbos/policies","file":"resource_policies/mcp_payments.yaml","error":"97:13 sequence end token ']' not found"}`
	uncompiled = `{"log.level":"warn","@timestamp":"2026-12-05T14:52:10.810Z","log.logger":"cerbos.ruletable","message":"Error processing storage event, maintaining last valid state","event":"ADD/UPDATE [7624559034244945046]","error":"failed to load policy: policy compilation error: resource_policies/mcp_payments.yaml:69:11: Invalid expression"}`
	other      = `{"log.level":"info","@timestamp":"2026-12-05T14:51:20.905Z","log.logger":"cerbos.http","message":"Starting HTTP server at 127.0.0.1:13592"}`
)

func TestParseRefusal(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Refusal
		ok   bool
	}{
		{name: "a file that does not parse", line: unreadable, ok: true,
			want: Refusal{File: "resource_policies/mcp_payments.yaml", Error: "97:13 sequence end token ']' not found"}},
		{name: "a policy that does not compile", line: uncompiled, ok: true,
			want: Refusal{Error: "failed to load policy: policy compilation error: resource_policies/mcp_payments.yaml:69:11: Invalid expression"}},
		{name: "anything else", line: other},
		{name: "not JSON", line: "panic: runtime error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRefusal([]byte(tt.line))
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRefusalsReadsOnFromWhereItLeftOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cerbos.log")
	require.NoError(t, os.WriteFile(path, []byte(other+"\n"+unreadable+"\n"+uncompiled[:40]), 0o644))
	got, offset, err := Refusals(path, 0)
	require.NoError(t, err)
	require.Len(t, got, 1, "the partial last line waits")
	assert.Equal(t, "resource_policies/mcp_payments.yaml", got[0].File)

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(uncompiled[40:] + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	got, _, err = Refusals(path, offset)
	require.NoError(t, err)
	require.Len(t, got, 1, "only what was written since")
	assert.Contains(t, got[0].String(), "policy compilation error")

	_, _, err = Refusals(filepath.Join(t.TempDir(), "missing.log"), 0)
	assert.Error(t, err)
}

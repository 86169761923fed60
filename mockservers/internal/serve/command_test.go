package serve

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlagsParse(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantAddr string
		wantErr  string
	}{
		{name: "defaults", wantAddr: "127.0.0.1:18000"},
		{name: "addr and level", args: []string{"--addr", "127.0.0.1:0", "--log-level", "debug"}, wantAddr: "127.0.0.1:0"},
		{name: "positional arguments", args: []string{"extra"}, wantErr: `unexpected arguments ["extra"]`},
		{name: "unknown level", args: []string{"--log-level", "loud"}, wantErr: `log level "loud"`},
		{name: "unknown flag", args: []string{"--bogus"}, wantErr: "flag provided but not defined"},
		{name: "version checks nothing else", args: []string{"--version", "--log-level", "loud", "extra"}, wantErr: ErrVersion.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := NewFlags("mock", "mock serves nothing.\n", "127.0.0.1:18000", io.Discard)
			logger, err := fs.Parse(tt.args)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, logger)
			assert.Equal(t, tt.wantAddr, *fs.Addr)
		})
	}
}

func TestFlagsHelpPrintsUsageThenEveryFlag(t *testing.T) {
	var out bytes.Buffer
	fs := NewFlags("mock", "mock serves nothing.\n\nFlags:\n", "127.0.0.1:18000", &out)
	fs.String("color", "blue", "the `color` to paint")
	_, err := fs.Parse([]string{"--help"})
	require.ErrorIs(t, err, flag.ErrHelp)
	help := out.String()
	assert.Regexp(t, `^mock serves nothing\.\n\nFlags:\n`, help)
	for _, want := range []string{"-addr host:port", `(default "127.0.0.1:18000")`, "-log-level level", "-color color", "-version"} {
		assert.Contains(t, help, want)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		want       int
		wantStdout string
		wantStderr string
	}{
		{name: "clean shutdown", want: 0},
		{name: "help", err: flag.ErrHelp, want: 0},
		{name: "version", err: ErrVersion, want: 0, wantStdout: `^mock \S+( \S+)* go\S+\n$`},
		{name: "wrapped version", err: fmt.Errorf("parse: %w", ErrVersion), want: 0, wantStdout: `^mock `},
		{name: "failure", err: errors.New("listen: boom"), want: 1, wantStderr: `^mock: listen: boom\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tt.want, exitCode("mock", tt.err, &stdout, &stderr))
			for _, w := range []struct {
				got, want string
			}{{stdout.String(), tt.wantStdout}, {stderr.String(), tt.wantStderr}} {
				if w.want == "" {
					assert.Empty(t, w.got)
				} else {
					assert.Regexp(t, w.want, w.got)
				}
			}
		})
	}
}

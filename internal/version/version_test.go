package version

import (
	"flag"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	const rev = "4a819b1c0ffee0123456789abcdef0123456789a"
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{
			name: "work tree with uncommitted changes",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Settings: vcs("-buildmode", "exe", "vcs", "git", "vcs.revision", rev, "vcs.time", "2026-12-05T08:00:00Z", "vcs.modified", "true")},
			want: "synapse (devel) 4a819b1+dirty 2026-12-05T08:00:00Z go1.26.8",
		},
		{
			name: "clean work tree",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Settings: vcs("vcs.revision", rev, "vcs.time", "2026-12-05T08:00:00Z", "vcs.modified", "false")},
			want: "synapse (devel) 4a819b1 2026-12-05T08:00:00Z go1.26.8",
		},
		{
			name: "tagged module version",
			info: &debug.BuildInfo{GoVersion: "go1.26.4", Main: debug.Module{Version: "v1.2.3"},
				Settings: vcs("vcs.revision", rev, "vcs.time", "2026-11-30T10:20:30Z", "vcs.modified", "false")},
			want: "synapse v1.2.3 4a819b1 2026-11-30T10:20:30Z go1.26.4",
		},
		{
			// go build in a work tree (Go 1.24 on) stamps a pseudo-version too; both are kept.
			name: "pseudo-version",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261205080000-4a819b1c0ffe+dirty"},
				Settings: vcs("vcs.revision", rev, "vcs.time", "2026-12-05T08:00:00Z", "vcs.modified", "true")},
			want: "synapse v0.0.0-20261205080000-4a819b1c0ffe+dirty 4a819b1+dirty 2026-12-05T08:00:00Z go1.26.8",
		},
		{
			name: "no VCS information (-buildvcs=false, go run)",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("-buildmode", "exe")},
			want: "synapse (devel) go1.26.8",
		},
		{
			name: "a revision shorter than the short form is kept whole",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "abc", "vcs.modified", "true")},
			want: "synapse (devel) abc+dirty go1.26.8",
		},
		{
			name: "dirty without a revision says nothing",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.modified", "true")},
			want: "synapse (devel) go1.26.8",
		},
		{
			name: "empty module version and Go version",
			info: &debug.BuildInfo{},
			want: "synapse (devel) " + runtime.Version(),
		},
		{
			name: "no build information",
			info: nil,
			want: "synapse (unknown) " + runtime.Version(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Render("synapse", tt.info)
			assert.Equal(t, tt.want, got)
			assert.NotContains(t, got, "\n")
		})
	}
}

func TestLineDescribesThisBinary(t *testing.T) {
	line := Line("hopguard-test")
	assert.True(t, strings.HasPrefix(line, "hopguard-test "), line)
	assert.True(t, strings.HasSuffix(line, " "+runtime.Version()), line)
}

func TestFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v := Flag(fs)
	require.NoError(t, fs.Parse([]string{"--version"}))
	assert.True(t, *v)
	assert.Equal(t, Usage, fs.Lookup("version").Usage)
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name             string
		args             []string
		wantExit         int
		wantDone         bool
		wantOut, wantErr string
	}{
		{name: "flags only", args: []string{"-n", "3"}},
		{name: "help", args: []string{"--help"}, wantDone: true, wantErr: "Usage"},
		{name: "bad flag", args: []string{"--nope"}, wantExit: 2, wantDone: true, wantErr: "flag provided but not defined"},
		{name: "version", args: []string{"--version"}, wantDone: true, wantOut: "cmd "},
		{name: "positional", args: []string{"x"}, wantExit: 2, wantDone: true, wantErr: `cmd: unexpected arguments ["x"] (see --help)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
			fs.SetOutput(&stderr)
			fs.Int("n", 0, "a number")
			showVersion := Flag(fs)
			exit, done := ParseCommand(fs, showVersion, "cmd", tt.args, &stdout, &stderr)
			if exit != tt.wantExit || done != tt.wantDone {
				t.Fatalf("ParseCommand(%q) = %d, %t; want %d, %t", tt.args, exit, done, tt.wantExit, tt.wantDone)
			}
			if !strings.HasPrefix(stdout.String(), tt.wantOut) || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stdout %q, stderr %q; want %q and %q", stdout.String(), stderr.String(), tt.wantOut, tt.wantErr)
			}
		})
	}
}

// Package version renders what a hopguard binary knows of itself, from the build information the
// Go toolchain embeds (runtime/debug.ReadBuildInfo), as the one line every command prints on
// --version.
package version

import (
	"flag"
	"runtime"
	"runtime/debug"
	"strings"
)

// Usage is the help text of every command's --version flag.
const Usage = "print the version (module version, VCS revision and time, Go version) on stdout and exit"

// Flag defines --version on fs, with Usage as its help.
func Flag(fs *flag.FlagSet) *bool {
	return fs.Bool("version", false, Usage)
}

// Line is the --version line of the running binary, named name.
func Line(name string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	return Render(name, info)
}

// shortRevision is the length of a revision on the line, as `git log --oneline` shows it.
const shortRevision = 7

// Render renders info as one line of space-separated fields, in this order:
//
//	NAME MODULE_VERSION [REVISION[+dirty]] [VCS_TIME] GO_VERSION
//
// e.g. "synapse (devel) 4a819b1+dirty 2026-12-05T08:00:00Z go1.26.8". MODULE_VERSION is the main
// module's version: a tag or pseudo-version when the binary was built from a module version,
// "(devel)" when built in a work tree, "(unknown)" without build information. REVISION is the
// VCS revision, shortened, "+dirty" when the work tree had uncommitted changes; it and VCS_TIME
// (the commit's time, RFC 3339) are left out when the build recorded no VCS information
// (go build -buildvcs=false, go run, a build outside a repository).
func Render(name string, info *debug.BuildInfo) string {
	fields := []string{name}
	if info == nil {
		return strings.Join(append(fields, "(unknown)", runtime.Version()), " ")
	}
	module := info.Main.Version
	if module == "" {
		module = "(devel)"
	}
	fields = append(fields, module)
	var revision, vcsTime string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			vcsTime = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if revision != "" {
		if len(revision) > shortRevision {
			revision = revision[:shortRevision]
		}
		if dirty {
			revision += "+dirty"
		}
		fields = append(fields, revision)
	}
	if vcsTime != "" {
		fields = append(fields, vcsTime)
	}
	goVersion := info.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	return strings.Join(append(fields, goVersion), " ")
}

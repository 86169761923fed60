#!/usr/bin/env bash
# Installs SPIRE v1.13.3's spire-server and spire-agent into a bin directory (`install.sh <bin-dir>
# spire` runs this). SPIRE publishes its binaries on GitHub and as images, neither reachable from
# this project's machines; its Go module is served by the module proxy, so both commands are
# built from it, in the nested module beside this script (conformance/tools/spire: its go.mod pins
# the version with `tool` directives and go.sum its dependencies; `go install <pkg>@version` is
# refused for this module). The cold build takes about 8 minutes on 2 cores and 230 MB and 87 MB
# of binaries; Go's build cache makes a second one take seconds. Both are verified with
# --version; a run with both already at that version does nothing.
#
# Usage: spire.sh <bin-dir>
set -euo pipefail

VERSION=1.13.3

die() { printf 'install: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 <bin-dir>"
bin_dir=$1
module=$(cd "$(dirname "$0")/spire" && pwd)
go=${GO:-go}
mkdir -p "$bin_dir"

# --version prints "1.13.3-dev-unk" for a build from the module (no release build tags).
version_of() { [ -x "$1" ] && "$1" --version 2>&1 | head -n 1 | sed -n 's/^\([0-9][0-9.]*\).*/\1/p'; }

if [ "$(version_of "$bin_dir/spire-server")" = "$VERSION" ] && [ "$(version_of "$bin_dir/spire-agent")" = "$VERSION" ]; then
	echo "spire-server and spire-agent $VERSION already in $bin_dir"
	exit 0
fi
work=$(mktemp -d "$bin_dir/.spire-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
for cmd in spire-server spire-agent; do
	echo "==> building $cmd $VERSION from the Go module github.com/spiffe/spire (about 8 minutes on 2 cores the first time, seconds once Go's build cache holds it)"
	(cd "$module" && "$go" build -trimpath -o "$work/$cmd" "github.com/spiffe/spire/cmd/$cmd") ||
		die "go build of $cmd failed: the module proxy must be reachable for a first build (see above)"
	got=$(version_of "$work/$cmd")
	[ "$got" = "$VERSION" ] || die "the built $cmd says version '${got:-unknown}', want $VERSION: conformance/tools/spire/go.mod pins another"
done
mv -f "$work/spire-server" "$work/spire-agent" "$bin_dir/"
echo "==> installed spire-server and spire-agent $VERSION in $bin_dir"

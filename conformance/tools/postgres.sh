#!/usr/bin/env bash
# Installs PostgreSQL 15's server programs (initdb, postgres, pg_ctl, ...) into <bin-dir>/postgresql
# for synapse's shared task registry and its tests (synapse/tasks/pgstore). Debian's own package is
# used as it is when installed (/usr/lib/postgresql/15/bin: bin/postgresql/bin links to it);
# otherwise its .deb is fetched from Debian's archive (apt-get download, no root needed) and
# unpacked into <bin-dir>/postgresql. Verified with --version; a second run does nothing.
#
# Usage: postgres.sh <bin-dir>
set -euo pipefail

MAJOR=15

die() { printf 'install: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 <bin-dir>"
mkdir -p "$1"
bin_dir=$(cd "$1" && pwd)
target=$bin_dir/postgresql

version_of() { [ -x "$1/postgres" ] && "$1/postgres" --version 2>/dev/null | sed -n 's/^postgres (PostgreSQL) \([0-9]*\)\..*/\1/p'; }

if [ "$(version_of "$target/bin")" = "$MAJOR" ]; then
	echo "postgresql $MAJOR already in $target"
	exit 0
fi
rm -rf "$target"
system=/usr/lib/postgresql/$MAJOR/bin
if [ "$(version_of "$system")" = "$MAJOR" ]; then
	mkdir -p "$target"
	ln -s "$system" "$target/bin"
	echo "==> postgresql $MAJOR: Debian's installed package ($system), linked from $target/bin"
	exit 0
fi

command -v apt-get >/dev/null || die "PostgreSQL $MAJOR is not installed and apt-get is not here to fetch it: install postgresql-$MAJOR, then run make tools again"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "==> downloading postgresql-$MAJOR from Debian's archive (apt-get download, about 20 MB)"
(cd "$work" && apt-get download "postgresql-$MAJOR" "postgresql-client-$MAJOR" libpq5 >/dev/null) ||
	die "apt-get download postgresql-$MAJOR failed: run apt-get update, or install postgresql-$MAJOR yourself"
mkdir -p "$target/root"
for deb in "$work"/*.deb; do
	dpkg-deb -x "$deb" "$target/root"
done
ln -s "root/usr/lib/postgresql/$MAJOR/bin" "$target/bin"
# initdb finds its share files relative to its own path; libpq from the package, where the
# system has none.
if [ "$(LD_LIBRARY_PATH="$target/root/usr/lib/x86_64-linux-gnu" version_of "$target/bin")" != "$MAJOR" ]; then
	missing=$(ldd "$target/bin/postgres" | sed -n 's/^\s*\(\S*\) => not found/\1/p' | tr '\n' ' ')
	die "the unpacked postgres does not run${missing:+ (missing libraries: $missing)}: install postgresql-$MAJOR with apt-get instead"
fi
echo "==> installed postgresql $MAJOR in $target"

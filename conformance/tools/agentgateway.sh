#!/usr/bin/env bash
# Installs agentgateway v1.4.1 at <bin-dir>/agentgateway (`install.sh <bin-dir> agentgateway` runs
# this). agentgateway's release is an image, and its release binaries are not reachable from this
# project's machines, so the binary comes from the first of these sources that works:
#   1. HOPGUARD_AGENTGATEWAY=<path>: a binary of v1.4.1, or an .xz of one, whose sha256 is one of
#      KNOWN_SHA256 below; anything else is refused and this script fails, since it was asked for;
#   2. the official image, where a Docker engine answers and has it or can pull it: the binary is
#      copied out of a container created from it (never started);
#   3. neither: it says how to get one, writes the reason to <bin-dir>/.agentgateway.not-installed
#      and exits 0: the harness then reports agentgateway as "not run", not as a failure.
# The source used is written to <bin-dir>/.agentgateway.source (one line), which the harness
# reports. A second run with agentgateway v1.4.1 already installed from a known source does nothing.
#
# Usage: agentgateway.sh <bin-dir>
set -euo pipefail

VERSION=1.4.1
IMAGE=cr.agentgateway.dev/agentgateway:v$VERSION
# Where the binary is in the official image: agentgateway's own Dockerfile at tag v1.4.1
# (github.com/agentgateway/agentgateway, commit 163ea2146acb7b82082acea30ed691b29079095f, the
# repository root's Dockerfile) has `COPY --from=builder /out/agentgateway /app/agentgateway` and
# `ENTRYPOINT ["/app/agentgateway"]`. docker/agentgateway.Dockerfile puts it at the same path.
IMAGE_PATH=/app/agentgateway
# sha256 of the agentgateway v1.4.1 binaries (uncompressed) accepted from HOPGUARD_AGENTGATEWAY,
# each "<sha256> <what it is>". Add a line for another build of v1.4.1 you trust.
KNOWN_SHA256=(
	# linux-amd64, built from the v1.4.1 source (cargo release profile, x86_64-unknown-linux-gnu),
	# kept as this project's local mirror of the release: agentgateway-v1.4.1-linux-amd64.xz
	"ecabf65b49bd40289677b9b1e2a5a8244ab45eb2eea4593c315b692d68494b73 linux-amd64 source build of v1.4.1 (local mirror)"
)

die() { printf 'install: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 <bin-dir>"
bin_dir=$1
mkdir -p "$bin_dir"
target=$bin_dir/agentgateway
source_file=$bin_dir/.agentgateway.source
not_installed_file=$bin_dir/.agentgateway.not-installed

# The version a binary reports, without a leading "v" (`--version` prints JSON with "version":
# "v1.4.1" for a source build, "1.4.1" for upstream's release; `-V` prints the bare version).
# Empty when it does not run or says no version.
version_of() {
	local path=$1 v
	[ -x "$path" ] || return 0
	v=$(run_briefly "$path" --version | sed -n 's/.*"version": *"v\{0,1\}\([^"]*\)".*/\1/p' | head -n 1)
	[ -n "$v" ] || v=$(run_briefly "$path" -V | head -n 1 | sed 's/^v//')
	printf '%s' "$v"
}
run_briefly() {
	if command -v timeout >/dev/null; then timeout 20 "$@" 2>/dev/null || true; else "$@" 2>/dev/null || true; fi
}
sha_of() { sha256sum "$1" | cut -d ' ' -f 1; }
# The description of a known sha256, empty when it is not known.
known_sha() {
	local entry
	for entry in "${KNOWN_SHA256[@]}"; do
		[ "${entry%% *}" = "$1" ] && { printf '%s' "${entry#* }"; return 0; }
	done
	return 0
}
known_list() {
	local entry
	for entry in "${KNOWN_SHA256[@]}"; do printf '\n  %s  %s' "${entry%% *}" "${entry#* }"; done
}
absolute() { printf '%s/%s' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")"; }

# Puts a verified candidate in place and records where it came from.
install_from() { # candidate source-line
	chmod +x "$1"
	mv -f "$1" "$target"
	printf '%s\n' "$2" > "$source_file"
	rm -f "$not_installed_file"
	echo "==> installed agentgateway v$VERSION in $target (from $2)"
	exit 0
}

provided=${HOPGUARD_AGENTGATEWAY:-}
[ -z "$provided" ] || [ ! -e "$provided" ] || provided=$(absolute "$provided")

# Already installed: the right version, and either a known sha256 or a recorded source (the image
# case, whose sha256 cannot be known here). A HOPGUARD_AGENTGATEWAY naming another file than the
# one installed from is installed (and checked) again.
if [ "$(version_of "$target")" = "$VERSION" ]; then
	recorded=$(head -n 1 "$source_file" 2>/dev/null || true)
	sha=$(sha_of "$target")
	known=$(known_sha "$sha")
	if [ -z "$recorded" ] && [ -n "$known" ]; then
		recorded="a known build ($known, sha256 $sha)"
		printf '%s\n' "$recorded" > "$source_file"
	fi
	case "$recorded" in
	"image "*) ok=1 ;;
	"") ok= ;;
	*) ok=${known:+1} ;;
	esac
	if [ -n "$ok" ] && { [ -z "$provided" ] || [ "$recorded" = "HOPGUARD_AGENTGATEWAY=$provided" ]; }; then
		rm -f "$not_installed_file"
		echo "agentgateway v$VERSION already in $bin_dir (from $recorded)"
		exit 0
	fi
fi

work=$(mktemp -d)
container=
cleanup() {
	[ -z "$container" ] || docker rm -f "$container" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# 1. HOPGUARD_AGENTGATEWAY: asked for explicitly, so anything wrong with it is a failure. The
#    sha256 is checked before the file is ever run.
if [ -n "$provided" ]; then
	[ -f "$provided" ] || die "HOPGUARD_AGENTGATEWAY=$provided: no such file (want agentgateway v$VERSION, a binary or an .xz of one)"
	candidate=$work/agentgateway
	case "$provided" in
	*.xz)
		command -v xz >/dev/null ||
			die "HOPGUARD_AGENTGATEWAY=$provided is an .xz and xz is not installed: install xz-utils (or decompress it and point HOPGUARD_AGENTGATEWAY at the binary)"
		echo "==> decompressing agentgateway from HOPGUARD_AGENTGATEWAY=$provided (xz -dc)"
		xz -dc "$provided" > "$candidate" || die "HOPGUARD_AGENTGATEWAY=$provided: xz could not decompress it"
		;;
	*)
		echo "==> agentgateway from HOPGUARD_AGENTGATEWAY=$provided"
		cp "$provided" "$candidate"
		;;
	esac
	sha=$(sha_of "$candidate")
	known=$(known_sha "$sha")
	[ -n "$known" ] ||
		die "HOPGUARD_AGENTGATEWAY=$provided is not a known agentgateway v$VERSION binary: its sha256 (uncompressed) is $sha, want one of:$(known_list)
(a build you trust: add its sha256 to KNOWN_SHA256 in conformance/tools/agentgateway.sh)"
	chmod +x "$candidate"
	got=$(version_of "$candidate")
	[ "$got" = "$VERSION" ] ||
		die "HOPGUARD_AGENTGATEWAY=$provided (sha256 $sha) reports version '${got:-none: it does not run here}', want $VERSION"
	echo "==> sha256 $sha: $known"
	install_from "$candidate" "HOPGUARD_AGENTGATEWAY=$provided"
fi

# 2. The official image. Every failure here is quiet (the reason is kept) and falls through to 3.
#    Only $IMAGE is ever pulled.
from_image() {
	command -v docker >/dev/null || { reason="docker is not installed"; return 1; }
	docker info >/dev/null 2>&1 || { reason="no Docker engine answers"; return 1; }
	if docker image inspect "$IMAGE" >/dev/null 2>&1; then
		echo "==> agentgateway from the image $IMAGE (on the engine already)"
	else
		echo "==> docker pull $IMAGE"
		run_briefly_pull || { reason="the Docker engine cannot pull $IMAGE"; return 1; }
	fi
	container=$(docker create "$IMAGE" 2>/dev/null) || { reason="docker create $IMAGE failed"; return 1; }
	docker cp "$container:$IMAGE_PATH" "$work/agentgateway" >/dev/null 2>&1 ||
		{ reason="$IMAGE has no $IMAGE_PATH"; return 1; }
	docker rm -f "$container" >/dev/null 2>&1 || true
	container=
	chmod +x "$work/agentgateway"
	got=$(version_of "$work/agentgateway")
	[ "$got" = "$VERSION" ] ||
		{ reason="the binary in $IMAGE reports version '${got:-none: it does not run on this machine}', want $VERSION"; return 1; }
}
run_briefly_pull() {
	if command -v timeout >/dev/null; then timeout 300 docker pull -q "$IMAGE" >/dev/null 2>&1
	else docker pull -q "$IMAGE" >/dev/null 2>&1; fi
}
reason=
if from_image; then
	# upstream's sha256 of this binary cannot be known here: the image reference (a release tag
	# of agentgateway's own registry) is what pins it, so it is accepted after the version check
	# and its sha256 is printed for the record.
	echo "==> sha256 $(sha_of "$work/agentgateway") (agentgateway v$VERSION from $IMAGE)"
	install_from "$work/agentgateway" "image $IMAGE"
fi

# 3. Neither: say how to get it, and leave a reason for the harness. Not a failure of make tools.
why="no agentgateway v$VERSION binary: HOPGUARD_AGENTGATEWAY is not set and $reason"
rm -f "$source_file"
if [ -e "$target" ]; then
	# A binary someone put there by hand is left alone: the harness finds it (with no source).
	rm -f "$not_installed_file"
	echo "agentgateway: not installed ($why)."
	echo "  $target is there but is not a known agentgateway v$VERSION (version '$(version_of "$target")', sha256 $(sha_of "$target")): it is left as it is. To replace it, either"
else
	printf '%s\n' "$why" > "$not_installed_file"
	echo "agentgateway: not installed ($why)."
	echo "  agentgateway will be reported \"not run\". To install it, either"
fi
cat <<EOF
  - set HOPGUARD_AGENTGATEWAY to an agentgateway binary, or an .xz of one, built from agentgateway
    v$VERSION (its sha256 must be listed in conformance/tools/agentgateway.sh), or
  - have a Docker engine that can pull $IMAGE,
  then run make tools again.
EOF
exit 0

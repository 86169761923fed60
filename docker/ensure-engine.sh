#!/usr/bin/env bash
# Makes sure a Docker engine answers, for the container pass of `make test`:
#   - an engine that answers `docker info` is used as it is;
#   - else, as root with apt-get: install docker.io (quietly), start
#     `dockerd --bridge=none --iptables=false` in the background (host networking only: no bridge,
#     no NAT rules, no network is ever created) with its log in out/docker/dockerd.log, and wait
#     until it answers;
#   - else say why not and exit with status 3, which the Makefile reports as "not run".
#
# Exit status: 0 an engine answers; 3 no engine can be had here (not run: neither a pass nor a
# failure, and the reason is printed).
set -euo pipefail

readonly NOT_RUN=3
root=$(cd "$(dirname "$0")/.." && pwd)
logdir=$root/out/docker
engine_wait=${HOPGUARD_ENGINE_WAIT:-60}

not_run() { printf 'container runtime: not run (%s)\n' "$*"; exit "$NOT_RUN"; }
answers() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

answers && exit 0

[ "$(id -u)" -eq 0 ] || not_run "no Docker engine answers, and only root may install and start one"
command -v apt-get >/dev/null || not_run "no Docker engine answers, and there is no apt-get to install one"
mkdir -p "$logdir"

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
	echo "==> apt-get install docker.io (log in $logdir/apt.log)"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq --no-install-recommends docker.io >"$logdir/apt.log" 2>&1; then
		# A fresh machine may have no package lists yet.
		apt-get update -qq >>"$logdir/apt.log" 2>&1 &&
			apt-get install -y -qq --no-install-recommends docker.io >>"$logdir/apt.log" 2>&1 ||
			not_run "apt-get could not install docker.io; see $logdir/apt.log"
	fi
fi

if pgrep -x dockerd >/dev/null; then
	why="a dockerd runs but \`docker info\` gets no answer from it"
else
	echo "==> starting dockerd --bridge=none --iptables=false (log in $logdir/dockerd.log)"
	# setsid: the engine outlives this make run, as a system service would, for the next one.
	setsid dockerd --bridge=none --iptables=false >"$logdir/dockerd.log" 2>&1 </dev/null &
	why=started
fi

for _ in $(seq "$engine_wait"); do
	answers && exit 0
	sleep 1
done
# Typically a machine whose kernel or sandbox does not let an engine run (no overlay file
# system, no cgroups): nothing this repository can fix, so it is reported, not failed.
[ "$why" = started ] &&
	why="the dockerd started here does not answer: $(tail -n 1 "$logdir/dockerd.log" 2>/dev/null); see $logdir/dockerd.log"
not_run "after ${engine_wait}s, $why"

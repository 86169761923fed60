#!/usr/bin/env bash
# netns.sh CMD [ARG...]: run CMD in a private network namespace whose only interface is loopback.
#
# agentgateway v1.4.1 binds its gateway port on every interface (it has no listen address), and
# hopguard's servers must bind loopback only; in such a namespace "every interface" is loopback.
# The conformance harness starts agentgateway only where that holds. Needs root or unprivileged
# user namespaces; exits 3 ("not run") when no namespace can be made.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 CMD [ARG...]  (run CMD in a network namespace with loopback only)" >&2
	exit 2
fi

if [ "$(id -u)" -eq 0 ]; then
	unshare_args=(--net)
else
	unshare_args=(--net --map-root-user)
fi
if ! unshare "${unshare_args[@]}" true 2>/dev/null; then
	echo "network namespace: not run (unshare ${unshare_args[*]} is refused here: needs root or user namespaces)" >&2
	exit 3
fi

# Inside: bring loopback up (a new namespace starts with it down), then run the command.
exec unshare "${unshare_args[@]}" -- bash -c 'ip link set lo up && exec "$@"' netns "$@"

#!/usr/bin/env bash
# Serves a Podman API of its own, for broker's tests, demo and benchmarks:
#
#   test/podman/serve.sh DIR [TAG...]
#
# Podman's storage (images, containers, volumes) and its API socket
# unix://DIR/podman.sock live under DIR, so that several of these services
# (parallel test packages) and the machine's own Podman never share an image
# store. TAGs are Docker images copied in (docker save TAG | podman load).
# It runs until it gets SIGTERM, SIGINT or SIGHUP (the test harness asks the
# kernel to send SIGTERM when the test binary ends, however it ends), then
# removes its containers and DIR. A DIR left by a service that was killed
# (SIGKILL) is removed by the next service started beside it.
#
# Networks are Podman's usual ones (/etc/cni/net.d or
# /etc/containers/networks): one configuration for every service, so that
# networks made at the same time by two services never get the same subnet.
#
# With LISTEN_FDS=1 in the environment, the listening socket is fd 3
# (socket activation, as systemd's podman.socket does it): the caller made the
# socket, so it needs not wait for it. Otherwise the socket is made here, and
# "serve.sh: ready" is printed on stdout once it answers.
#
# CONTAINERS_CONF is a file of its own with default_ulimits: in sandboxes that
# cannot raise RLIMIT_NPROC or RLIMIT_NOFILE, runc otherwise fails every
# container with "error setting rlimit type 7: operation not permitted".
set -euo pipefail

dir=${1:?usage: serve.sh DIR [TAG...]}
shift
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
command -v podman >/dev/null || {
	echo "serve.sh: podman not found (apt-get install podman)" >&2
	exit 1
}

# The lock says that this folder's service runs: held while this script or
# podman runs (podman inherits it). A folder whose lock is free is what a
# killed service left.
exec 8>"$dir/serve.lock"
flock 8

# clean DIR: remove the containers of the Podman storage in DIR, then DIR.
clean() {
	CONTAINERS_CONF=$1/containers.conf CONTAINERS_STORAGE_CONF=$1/storage.conf \
		podman rm --all --force --time 0 >/dev/null 2>&1 || true
	# The storage driver leaves mounts (its overlay home, the layers of
	# containers that would not go): undo them before rm.
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$1"
}
for old in "$(dirname "$dir")"/broker-podman-*/serve.lock; do
	[ -f "$old" ] && [ "$old" != "$dir/serve.lock" ] || continue
	[ -n "$(find "$old" -mmin +1)" ] || continue # a service just starting
	if flock -n "$old" true; then
		clean "$(dirname "$old")"
	fi
done

# Overlay on overlay does not mount: vfs then (slower, but it works).
driver=overlay
[ "$(stat -f -c %T "$dir")" != overlayfs ] || driver=vfs
cat >"$dir/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
EOF
cat >"$dir/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$dir/root"
runroot = "$dir/run"
EOF
export CONTAINERS_CONF=$dir/containers.conf CONTAINERS_STORAGE_CONF=$dir/storage.conf
url=unix://$dir/podman.sock

svc=""
cleanup() {
	# Ignored, not reset: the harness's SIGTERM comes once per thread of
	# the test binary as they end, and the first one started this.
	trap '' TERM INT HUP
	trap - EXIT
	if [ -n "$svc" ]; then
		kill "$svc" 2>/dev/null || true
		wait "$svc" 2>/dev/null || true
	fi
	clean "$dir"
}
trap 'cleanup; exit 0' TERM INT HUP
trap cleanup EXIT

if [ -n "${LISTEN_FDS:-}" ]; then
	# podman takes the socket only if LISTEN_PID is its own pid: the
	# subshell sets it to its pid and execs podman, keeping that pid.
	(
		export LISTEN_PID=$BASHPID
		exec podman system service --time=0
	) &
	svc=$!
	exec 3>&- # podman holds the socket now
else
	podman system service --time=0 "$url" &
	svc=$!
	for _ in $(seq 1 600); do
		podman --url "$url" version >/dev/null 2>&1 && break
		kill -0 "$svc" 2>/dev/null || {
			echo "serve.sh: podman system service ended" >&2
			exit 1
		}
		sleep 0.1
	done
	podman --url "$url" version >/dev/null || exit 1
fi

for tag in "$@"; do
	docker save "$tag" | podman --url "$url" load >/dev/null
done
[ -n "${LISTEN_FDS:-}" ] || echo "serve.sh: ready"
wait "$svc"

#!/usr/bin/env bash
# `broker apply` of 20 containers of broker-busybox:latest (--parallelism 10)
# and `broker destroy` of them, on Docker and on Podman (a service of its own,
# started with test/podman/serve.sh: rootful, its API on a unix socket, the
# image copied from Docker), alternating, median of ROUNDS after a warm-up of
# each. The same manifest and broker; only DOCKER_HOST differs. Prints a
# Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
BROKER=${BROKER:-$PWD/bin/broker}
n=${N:-20}
p=${P:-10}
rounds=${ROUNDS:-5}
image=broker-busybox:latest
work=$(mktemp -d)
dir=$(mktemp -d "${TMPDIR:-/tmp}/broker-podman-XXXXXXXX")
serve=""
cleanup() {
	docker ps -aq --filter label=broker.environment=bench-engines | xargs -r docker rm -f >/dev/null
	if [ -n "$serve" ]; then
		kill "$serve" 2>/dev/null || true
		wait "$serve" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

docker image inspect "$image" >/dev/null 2>&1 || bash test/images/build.sh busybox >&2
bash test/podman/serve.sh "$dir" "$image" >"$work/serve.log" 2>&1 &
serve=$!
until grep -q '^serve.sh: ready' "$work/serve.log"; do
	kill -0 "$serve" 2>/dev/null || {
		cat "$work/serve.log" >&2
		exit 1
	}
	sleep 0.2
done
podman_host=unix://$dir/podman.sock

cat >"$work/lab.hcl" <<HCL
environment = "bench-engines"
provider "docker" "local" {
  name_prefix = "bench-engines"
}
host "box" {
  provider = "docker.local"
  count    = $n
  args     = { image = "$image" }
}
HCL

. test/bench/timing.sh

# broker_on ENGINE COMMAND: broker apply or destroy of the lab on ENGINE,
# each engine with a broker directory of its own.
broker_on() {
	local engine=$1 cmd=$2
	if [ "$engine" = podman ]; then
		DOCKER_HOST=$podman_host BROKER_DIRECTORY=$work/$engine \
			"$BROKER" "$cmd" -f "$work/lab.hcl" --auto-approve --parallelism "$p" >/dev/null 2>&1
	else
		BROKER_DIRECTORY=$work/$engine "$BROKER" "$cmd" -f "$work/lab.hcl" --auto-approve --parallelism "$p" >/dev/null 2>&1
	fi
}

for e in docker podman; do
	broker_on "$e" apply
	broker_on "$e" destroy
	: >"$work/$e.apply"
	: >"$work/$e.destroy"
done
for _ in $(seq "$rounds"); do
	for e in docker podman; do
		t=$(now); broker_on "$e" apply; since "$t" >>"$work/$e.apply"
		t=$(now); broker_on "$e" destroy; since "$t" >>"$work/$e.destroy"
	done
done
da=$(median <"$work/docker.apply"); dd=$(median <"$work/docker.destroy")
pa=$(median <"$work/podman.apply"); pd=$(median <"$work/podman.destroy")
dv=$(docker version --format '{{.Server.Version}}')
pv=$(podman --url "$podman_host" version --format '{{.Server.Version}}')
echo "## docker and podman ($n containers of $image, $p at a time, median of $rounds alternating rounds)"
echo
echo "| what | Docker $dv | Podman $pv | Podman / Docker |"
echo "| --- | --- | --- | --- |"
awk -v d="$da" -v q="$pa" 'BEGIN{printf "| `broker apply` (check out) | %.2f s | %.2f s | %.2f× |\n", d, q, q/d}'
awk -v d="$dd" -v q="$pd" 'BEGIN{printf "| `broker destroy` (check in) | %.2f s | %.2f s | %.2f× |\n", d, q, q/d}'
echo

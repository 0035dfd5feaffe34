#!/usr/bin/env bash
# Times the docker CLI making and removing N containers of
# broker-busybox:latest with P at a time: the baseline `broker apply` /
# `broker destroy` of the same number of docker hosts is compared with.
#
# Usage: test/bench/docker.sh [N] [P]     (default 20 10)
# Needs the image: test/images/build.sh busybox
set -euo pipefail

n=${1:-20}
p=${2:-10}
image=broker-busybox:latest
label=broker.bench=docker-sh-$$

docker image inspect "$image" >/dev/null 2>&1 ||
	{ echo "docker.sh: $image missing; run test/images/build.sh busybox" >&2; exit 1; }

cleanup() {
	docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null
}
trap cleanup EXIT

now() { date +%s.%N; }

t0=$(now)
seq "$n" | xargs -P "$p" -I{} docker run -d --label "$label" "$image" >/dev/null
t1=$(now)
docker ps -aq --filter "label=$label" | xargs -P "$p" -n 1 docker rm -f >/dev/null
t2=$(now)

awk -v n="$n" -v p="$p" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
	printf "docker run -d: %d containers, %d at a time: %.2fs\n", n, p, b - a
	printf "docker rm -f:  %d containers, %d at a time: %.2fs\n", n, p, c - b
}'

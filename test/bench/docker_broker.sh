#!/usr/bin/env bash
# Checks out 20 containers of broker-busybox:latest with `broker apply
# --parallelism 10` and checks them in with `broker destroy`, next to the
# same with the docker CLI through xargs -P 10, alternating, in one run.
# Prints a Markdown table of medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
BROKER=${BROKER:-$PWD/bin/broker}
n=${N:-20}
p=${P:-10}
rounds=${ROUNDS:-5}
work=$(mktemp -d)
export BROKER_DIRECTORY="$work/b"
trap 'docker ps -aq --filter label=broker.environment=bench-docker | xargs -r docker rm -f >/dev/null; rm -rf "$work"' EXIT

docker image inspect broker-busybox:latest >/dev/null 2>&1 || bash test/images/build.sh busybox >&2

cat >"$work/lab.hcl" <<HCL
environment = "bench-docker"
provider "docker" "local" {
  name_prefix = "bench"
}
host "box" {
  provider = "docker.local"
  count    = $n
  args     = { image = "broker-busybox:latest" }
}
HCL

. test/bench/timing.sh

label=broker.bench=docker-cli-$$
: >"$work/ba"; : >"$work/bd"; : >"$work/ca"; : >"$work/cd"
# one warm-up of each, not counted
"$BROKER" apply -f "$work/lab.hcl" --auto-approve --parallelism "$p" >/dev/null 2>&1
"$BROKER" destroy -f "$work/lab.hcl" --auto-approve --parallelism "$p" >/dev/null 2>&1
for r in $(seq "$rounds"); do
	t=$(now); "$BROKER" apply -f "$work/lab.hcl" --auto-approve --parallelism "$p" >/dev/null 2>&1; since "$t" >>"$work/ba"
	t=$(now); "$BROKER" destroy -f "$work/lab.hcl" --auto-approve --parallelism "$p" >/dev/null 2>&1; since "$t" >>"$work/bd"
	t=$(now); seq "$n" | xargs -P "$p" -I{} docker run -d --label "$label" broker-busybox:latest >/dev/null; since "$t" >>"$work/ca"
	t=$(now); docker ps -aq --filter "label=$label" | xargs -r -P "$p" -n 1 docker rm -f >/dev/null; since "$t" >>"$work/cd"
done
ba=$(median <"$work/ba"); bd=$(median <"$work/bd"); ca=$(median <"$work/ca"); cd=$(median <"$work/cd")
echo "## docker ($n containers of broker-busybox:latest, $p at a time, median of $rounds alternating rounds)"
echo
echo "| what | broker | docker CLI (xargs -P $p) | broker / CLI | goal |"
echo "| --- | --- | --- | --- | --- |"
awk -v b="$ba" -v c="$ca" 'BEGIN{printf "| check out (`broker apply` vs `docker run -d`) | %.2f s | %.2f s | %.2f× | ≤ 1.15× |\n", b, c, b/c}'
awk -v b="$bd" -v c="$cd" 'BEGIN{printf "| check in (`broker destroy` vs `docker rm -f`) | %.2f s | %.2f s | %.2f× | |\n", b, c, b/c}'
echo

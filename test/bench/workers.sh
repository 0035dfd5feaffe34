#!/usr/bin/env bash
# Many workers, one environment: N broker processes started at once, each
# running `broker checkout --provider sim --count 4` in the environment
# "default" (as pytest-xdist workers or parallel CI jobs do), on the bbolt
# file and on etcd (a single-member etcd on 127.0.0.1 started here;
# Debian: etcd-server). For each backend and N (50, 100): the median wall
# time of 3 rounds (all N processes, from the first start to the last
# exit), the processes that failed (over the 3 rounds), and whether every
# round recorded N*4 hosts, each once, with no intent left.
# Prints Markdown; test/bench/run.sh calls it.
# Usage: test/bench/workers.sh [N…]   (BROKER=path/to/broker, default bin/broker;
# ARGS=… adds flags to each checkout, e.g. ARGS="--lock-timeout 10m" to time
# an older build whose checkouts take turns; LATENCY=1s gives each sim
# checkout that long in the provider call, as a real provider takes;
# ROUNDS=… rounds instead of 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/bench/timing.sh
BROKER=${BROKER:-$PWD/bin/broker}
[ -x "$BROKER" ] || { echo "bench: build broker first (make build)" >&2; exit 1; }
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(50 100)
rounds=${ROUNDS:-3}
work=$(mktemp -d)
etcd_pid=
cleanup() { [ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

backends=(bolt)
if command -v etcd >/dev/null; then
	free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
	cport=$(free_port); pport=$(free_port)
	endpoint=http://127.0.0.1:$cport
	etcd --name bench --data-dir "$work/etcd" \
		--listen-client-urls "$endpoint" --advertise-client-urls "$endpoint" \
		--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "bench=http://127.0.0.1:$pport" --log-level error >"$work/etcd.log" 2>&1 &
	etcd_pid=$!
	for _ in $(seq 200); do curl -fsS "$endpoint/health" >/dev/null 2>&1 && break; sleep 0.05; done
	backends+=(etcd)
fi

# directory BACKEND NAME: a fresh broker directory (etcd: its own prefix).
directory() {
	local dir=$work/$2
	mkdir -p "$dir"
	: >"$dir/broker.hcl"
	if [ "$1" = etcd ]; then
		printf 'state {\n  backend   = "etcd"\n  endpoints = ["%s"]\n  prefix    = "/bench/%s"\n}\n' "$endpoint" "$2" >>"$dir/broker.hcl"
	fi
	if [ -n "${LATENCY:-}" ]; then
		printf 'provider "sim" "default" {\n  latency = "%s"\n}\n' "$LATENCY" >>"$dir/broker.hcl"
	fi
	echo "$dir"
}

# round DIR N: N processes at once; prints "WALL FAILED".
round() {
	local dir=$1 n=$2 i t0 failed=0
	rm -f "$work"/rc.*
	t0=$(now)
	for i in $(seq "$n"); do
		(
			rc=0
			BROKER_DIRECTORY=$dir "$BROKER" checkout --provider sim --count 4 ${ARGS:-} >/dev/null 2>"$work/err.$i" || rc=$?
			echo $rc >"$work/rc.$i"
		) &
	done
	wait
	local wall
	wall=$(since "$t0")
	for i in $(seq "$n"); do
		[ "$(cat "$work/rc.$i")" = 0 ] || { failed=$((failed + 1)); tail -n 2 "$work/err.$i" >>"$work/failures"; }
	done
	echo "$wall $failed"
}

# check DIR WANT: "yes" when the state records WANT hosts, each once, and no intent.
check() {
	BROKER_DIRECTORY=$1 "$BROKER" inventory --json | python3 -c '
import json, sys
hosts = json.load(sys.stdin)
ids = {h["id"] for h in hosts}
pids = {h.get("provider_id") for h in hosts}
print("yes" if len(hosts) == int(sys.argv[1]) == len(ids) == len(pids) else "NO (%d records, %d ids)" % (len(hosts), len(ids)))
' "$2"
}

echo "## Many workers, one environment"
echo
echo "N broker processes started at once, each \`broker checkout --provider sim --count 4\` in"
echo "\"default\"${LATENCY:+ (sim latency $LATENCY a checkout)}${ARGS:+ (with $ARGS)}; $rounds rounds each, a fresh state per round."
echo
echo "| state | processes | wall (median of $rounds) | failed processes (of $((rounds))×N) | every host recorded once |"
echo "| --- | --- | --- | --- | --- |"
for b in "${backends[@]}"; do
	for n in "${counts[@]}"; do
		walls=() failed=0 ok=yes
		for r in $(seq $rounds); do
			dir=$(directory "$b" "$b-$n-$r")
			read -r wall f < <(round "$dir" "$n")
			walls+=("$wall")
			failed=$((failed + f))
			got=$(check "$dir" $(((n - f) * 4)))
			[ "$got" = yes ] || ok=$got
		done
		echo "| $b | $n | $(printf '%s\n' "${walls[@]}" | median) s | $failed | $ok |"
	done
done
if [ -s "$work/failures" ]; then
	echo
	echo "Failures (most frequent first):"
	echo
	sort "$work/failures" | sed -E 's/pid [0-9]+/pid N/; s/since [^)]*/since T/' | sort | uniq -c | sort -rn | head -5 | sed 's/^/    /'
fi

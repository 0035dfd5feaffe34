#!/usr/bin/env bash
# The etcd backend's benchmarks: checkout throughput of sim hosts from 20
# concurrent broker processes on one etcd against the same on the bbolt
# file, and the p50/p99 of lock hand-over between holders with separate
# clients. Starts its own single-member etcd on 127.0.0.1 (Debian:
# etcd-server). Prints Markdown; test/bench/run.sh calls it.
# Usage: test/bench/etcd.sh   (BROKER=path/to/broker, default bin/broker)
set -euo pipefail
cd "$(dirname "$0")/../.."
BROKER=${BROKER:-$PWD/bin/broker}
[ -x "$BROKER" ] || { echo "bench: build broker first (make build)" >&2; exit 1; }
command -v etcd >/dev/null || { echo "bench: etcd is not installed (apt-get install etcd-server)" >&2; exit 1; }
work=$(mktemp -d)
etcd_pid=
cleanup() { [ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(free_port); pport=$(free_port)
endpoint=http://127.0.0.1:$cport
etcd --name bench --data-dir "$work/etcd" \
	--listen-client-urls "$endpoint" --advertise-client-urls "$endpoint" \
	--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "bench=http://127.0.0.1:$pport" --log-level error >"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 200); do curl -fsS "$endpoint/health" >/dev/null 2>&1 && break; sleep 0.05; done

runners=20
each=10

# checkouts DIR: 20 runners at once, each checking out $each sim hosts into
# "shared" (side by side: checkouts share its lock) and $each into its own environment.
checkouts() {
	local dir=$1 i pids=()
	for i in $(seq -w 1 $runners); do
		(
			BROKER_DIRECTORY=$dir "$BROKER" checkout --provider sim --count $each -e shared --lock-timeout 10m >/dev/null 2>"$work/e1.$i" || cat "$work/e1.$i" >>"$work/err"
			BROKER_DIRECTORY=$dir "$BROKER" checkout --provider sim --count $each -e "own-$i" >/dev/null 2>"$work/e2.$i" || cat "$work/e2.$i" >>"$work/err"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
}

throughput() { # NAME DIR
	local start end secs hosts
	start=$(date +%s.%N)
	checkouts "$2"
	end=$(date +%s.%N)
	hosts=$(BROKER_DIRECTORY=$2 "$BROKER" inventory --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	secs=$(python3 -c "print(f'{$end-$start:.2f}')")
	echo "| $1 | $runners | $hosts | ${secs}s | $(python3 -c "print(f'{$hosts/($end-$start):.0f}')") hosts/s |"
}

echo "## etcd state backend"
echo
echo "Checkout of \`sim\` hosts by $runners concurrent broker processes, each checking out"
echo "$each hosts into one shared environment (side by side: checkouts share its lock) and $each into its own."
echo
echo "| state | processes | hosts recorded | wall | throughput |"
echo "| --- | --- | --- | --- | --- |"
mkdir -p "$work/bolt" "$work/etcd-dir"
cat >"$work/etcd-dir/broker.hcl" <<HCL
state {
  backend   = "etcd"
  endpoints = ["$endpoint"]
  prefix    = "/bench/throughput"
}
HCL
throughput "bbolt (one machine)" "$work/bolt"
throughput "etcd (1 member, loopback)" "$work/etcd-dir"
echo
echo "Lock hand-over: time from the holder's Unlock to the next waiter's Lock returning,"
echo "between goroutines with separate stores (separate etcd clients and sessions)."
echo
echo "| state | waiters | hand-overs | p50 | p99 |"
echo "| --- | --- | --- | --- | --- |"
go run ./test/bench/lockhandover -backend etcd -endpoints "$endpoint" -n 500
go run ./test/bench/lockhandover -backend bolt -path "$work/handover.db" -n 500
if [ -s "$work/err" ]; then echo "bench: errors:" >&2; cat "$work/err" >&2; fi

#!/usr/bin/env bash
# broker's benchmarks, as whole processes where the issue asks for that, next
# to the peer tools. Prints a Markdown table per section; BENCHMARKS.md keeps
# the figures of a run. Usage: test/bench/run.sh [section…]
#   sections: core docker ssh python etcd workers libvirt go   (default: all that can run here)
set -euo pipefail
cd "$(dirname "$0")/../.."
BROKER=${BROKER:-$PWD/bin/broker}
[ -x "$BROKER" ] || { echo "bench: build broker first (make build)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# measure CMD…: prints the mean wall seconds (hyperfine, 40 runs after 5
# warm-ups; without hyperfine, the median of 5) and the largest peak RSS in
# MB of 5 runs.
measure() {
	local rss=0 out i mean=""
	if command -v hyperfine >/dev/null; then
		hyperfine -N -w 5 -r 40 --export-json "$work/hf.json" "$(printf '%q ' "$@")" >/dev/null 2>&1 &&
			mean=$(python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$work/hf.json")
	fi
	if [ -n "$mean" ]; then
		for i in 1 2 3 4 5; do
			/usr/bin/time -f '%M' -o "$work/time" "$@" >/dev/null 2>&1
			out=$(tail -n1 "$work/time")
			[ "$out" -gt "$rss" ] && rss=$out
		done
		printf '%s %s\n' "$mean" "$((rss / 1024))"
		return
	fi
	measure_median "$@"
}

measure_median() {
	local i walls=() rss=0 out
	for i in 1 2 3 4 5; do
		/usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
		out=$(tail -n1 "$work/time")
		walls+=("${out% *}")
		[ "${out#* }" -gt "$rss" ] && rss=${out#* }
	done
	local median
	median=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n 3p)
	printf '%s %s\n' "$median" "$((rss / 1024))"
}

section_core() {
	echo "## core (sim provider, bbolt state)"
	echo
	echo "| what | wall (mean) | peak RSS | goal |"
	echo "| --- | --- | --- | --- |"
	export BROKER_DIRECTORY="$work/core"
	cat >"$work/sim1000.hcl" <<-'HCL'
	environment = "bench-1000"
	provider "sim" "fast" {}
	host "node" {
	  provider = "sim.fast"
	  count    = 1000
	  lease    = "2h"
	}
	HCL
	# apply of 1,000 hosts, destroyed between runs
	local walls=() i t0 t1
	for i in 1 2 3; do
		t0=$(date +%s.%N)
		"$BROKER" apply -f "$work/sim1000.hcl" --auto-approve --parallelism 50 >/dev/null 2>&1
		t1=$(date +%s.%N)
		walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')")
		"$BROKER" destroy -f "$work/sim1000.hcl" --auto-approve --parallelism 50 >/dev/null 2>&1
	done
	echo "| \`broker apply\` of 1,000 sim hosts, --parallelism 50 | $(printf '%s\n' "${walls[@]}" | sort -n | sed -n 2p) s (median of 3) | | < 3 s |"

	sed 's/bench-1000/bench-10k/; s/count    = 1000/count    = 10000/' "$work/sim1000.hcl" >"$work/sim10k.hcl"
	"$BROKER" apply -f "$work/sim10k.hcl" --auto-approve --parallelism 50 >/dev/null 2>&1
	read -r wall rss < <(measure "$BROKER" plan -f "$work/sim10k.hcl")
	echo "| \`broker plan\` against 10,000 recorded hosts (refresh on) | $wall s | $rss MB | < 100 ms, < 100 MB |"
	read -r wall rss < <(measure "$BROKER" plan -f "$work/sim10k.hcl" --refresh=false)
	echo "| \`broker plan --refresh=false\`, 10,000 hosts | $wall s | $rss MB | |"
	read -r wall rss < <(measure "$BROKER" inventory --json)
	echo "| \`broker inventory --json\` of 10,000 hosts | $wall s | $rss MB | < 150 ms |"
	echo
}

section_docker() {
	docker info >/dev/null 2>&1 || { echo "## docker: skipped (no engine)"; return; }
	[ -f test/bench/docker_broker.sh ] && bash test/bench/docker_broker.sh
	command -v podman >/dev/null || { echo "## podman: skipped (no podman; apt-get install podman)"; return; }
	bash test/bench/podman.sh
}

section_ssh() {
	[ -f test/bench/ssh.sh ] && bash test/bench/ssh.sh
}

section_python() {
	docker info >/dev/null 2>&1 || { echo "## python: skipped (no engine)"; return; }
	bash test/bench/python.sh
}

section_etcd() {
	command -v etcd >/dev/null || { echo "## etcd: skipped (no etcd; apt-get install etcd-server)"; return; }
	[ -f test/bench/etcd.sh ] && bash test/bench/etcd.sh
}

section_libvirt() {
	command -v libvirtd >/dev/null || [ -x /usr/sbin/libvirtd ] || { echo "## libvirt: skipped (no libvirtd; test/deps.sh installs it)"; return; }
	bash test/bench/libvirt.sh
}

section_workers() {
	bash test/bench/workers.sh
}

section_go() {
	echo "## Go benchmarks"
	echo
	echo '```'
	go test -run '^$' -bench . -benchtime 3x ./state/bolt ./executor ./filter ./internal/views 2>&1 | grep -E '^(Benchmark|ok|PASS)' || true
	echo '```'
}

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(core docker ssh python etcd workers libvirt go)
for s in "${sections[@]}"; do "section_$s"; done

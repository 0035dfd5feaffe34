#!/usr/bin/env bash
# python.sh — the Python package's round trip (section_python of
# test/bench/run.sh): on one warm sshd container (broker-sshd:bookworm),
# p50/p90 of host.execute("true") through the package, of Debian's
# python3-paramiko on its own warm connection, and of a fresh
# `broker exec` process. Needs Docker, the test images (make images) and
# python3-paramiko. Environment: RUNS_WARM (500), RUNS_FRESH (40).
set -euo pipefail
cd "$(dirname "$0")/../.."
BROKER=${BROKER:-$PWD/bin/broker}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench_python.XXXXXX")
trap 'BROKER_DIRECTORY="$work/broker" "$BROKER" checkin --all -e bench-python >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
echo "## Python package (one warm sshd container)"
echo
echo "load average at start: $(cut -d" " -f1-3 /proc/loadavg)"
echo
if ! /usr/bin/python3 -c 'import paramiko' 2>/dev/null; then
	echo "skipped: no python3-paramiko (apt-get install python3-paramiko)"
	exit 0
fi
mkdir -p "$work/broker"
BROKER_DIRECTORY="$work/broker" BROKER_ENVIRONMENT=bench-python BROKER_BINARY="$BROKER" PYTHONPATH="$PWD/python" \
	/usr/bin/python3 test/bench/python_bench.py
echo

#!/usr/bin/env bash
# The quickstart, end to end: check out three containers from the local
# broker-sshd image (built by `make deps`), run a command on each over SSH,
# show the inventory, check them in. Uses a throwaway broker directory so it
# never touches your own inventory. Run it with `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
BROKER=${BROKER:-$PWD/bin/broker}
export BROKER_DIRECTORY=${BROKER_DIRECTORY:-$(mktemp -d)}
manifest=examples/quickstart.hcl

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() { "$BROKER" destroy -f "$manifest" --auto-approve >/dev/null 2>&1 || true; }
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
	echo "demo: no Docker engine answers; showing the simulated lab instead (examples/sim.hcl)" >&2
	manifest=examples/sim.hcl
	step "broker plan -f $manifest"; "$BROKER" plan -f "$manifest"
	step "broker apply -f $manifest --auto-approve"; "$BROKER" apply -f "$manifest" --auto-approve
	step "broker inventory"; "$BROKER" inventory
	step "broker destroy -f $manifest --auto-approve"; "$BROKER" destroy -f "$manifest" --auto-approve
	trap - EXIT
	exit 0
fi

step "broker validate -f $manifest"
"$BROKER" validate -f "$manifest"
step "broker plan -f $manifest"
"$BROKER" plan -f "$manifest"
step "broker apply -f $manifest --auto-approve"
"$BROKER" apply -f "$manifest" --auto-approve
step "broker exec -e quickstart --all -- 'cat /etc/motd; uname -r'"
"$BROKER" exec -e quickstart --all -- 'cat /etc/motd; uname -r'
step "broker inventory"
"$BROKER" inventory
step "broker destroy -f $manifest --auto-approve"
"$BROKER" destroy -f "$manifest" --auto-approve
trap - EXIT
echo
echo "demo: done; broker's files for this run are in $BROKER_DIRECTORY"

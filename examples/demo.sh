#!/usr/bin/env bash
# The quickstart, end to end: check out three containers from the local
# broker-sshd image (built by `make deps`), run a command on each over SSH,
# show the inventory, check them in. Uses a throwaway broker directory so it
# never touches your own inventory. Run it with `make demo`.
#
# The engine: Docker when it answers; else a Podman answering at one of its
# usual sockets ($XDG_RUNTIME_DIR/podman/podman.sock, /run/podman/podman.sock);
# else the simulated lab. BROKER_DEMO_ENGINE=podman takes Podman even where
# Docker answers: the one at its usual sockets, else (as root) a service of
# the demo's own, started with test/podman/serve.sh and removed at the end.
# On Podman the image is copied from Docker when Docker has it, else built
# with the podman CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
BROKER=${BROKER:-$PWD/bin/broker}
export BROKER_DIRECTORY=${BROKER_DIRECTORY:-$(mktemp -d)}
manifest=examples/quickstart.hcl
image=broker-sshd:bookworm

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
serve=""
cleanup() {
	"$BROKER" destroy -f "$manifest" --auto-approve >/dev/null 2>&1 || true
	if [ -n "$serve" ]; then
		kill "$serve" 2>/dev/null || true
		wait "$serve" 2>/dev/null || true
	fi
}
trap cleanup EXIT

# podman_socket prints the first of podman's usual sockets that answers.
podman_socket() {
	command -v podman >/dev/null || return 1
	local s
	for s in ${XDG_RUNTIME_DIR:+"$XDG_RUNTIME_DIR/podman/podman.sock"} /run/podman/podman.sock; do
		if [ -S "$s" ] && podman --url "unix://$s" version >/dev/null 2>&1; then
			echo "unix://$s"
			return 0
		fi
	done
	return 1
}

engine=${BROKER_DEMO_ENGINE:-}
case "$engine" in
"")
	if docker info >/dev/null 2>&1; then
		engine=docker
	elif podman_socket >/dev/null; then
		engine=podman
	fi
	;;
docker | podman) ;;
*)
	echo "demo: BROKER_DEMO_ENGINE=$engine: want docker or podman" >&2
	exit 2
	;;
esac

if [ "$engine" = podman ]; then
	if host=$(podman_socket); then
		if ! podman --url "$host" image exists "$image"; then
			if docker image inspect "$image" >/dev/null 2>&1; then
				echo "demo: copying $image from Docker to Podman" >&2
				docker save "$image" | podman --url "$host" load >/dev/null
			else
				# build.sh speaks docker's CLI; podman's takes the same words.
				shim=$(mktemp -d)
				printf '#!/bin/sh\nexec podman "$@"\n' >"$shim/docker"
				chmod +x "$shim/docker"
				PATH="$shim:$PATH" bash test/images/build.sh sshd
				rm -rf "$shim"
			fi
		fi
	else
		[ "$(id -u)" = 0 ] || {
			echo "demo: no Podman answers at its usual sockets; start one (systemctl --user start podman.socket)" >&2
			exit 1
		}
		dir=$(mktemp -d "${TMPDIR:-/tmp}/broker-podman-XXXXXXXX")
		echo "demo: starting a Podman service of its own in $dir (test/podman/serve.sh)" >&2
		bash test/podman/serve.sh "$dir" "$image" >"$dir.log" 2>&1 &
		serve=$!
		until grep -q '^serve.sh: ready' "$dir.log"; do
			kill -0 "$serve" 2>/dev/null || {
				cat "$dir.log" >&2
				exit 1
			}
			sleep 0.2
		done
		rm -f "$dir.log"
		host=unix://$dir/podman.sock
	fi
	if [ -n "$serve" ] || docker info >/dev/null 2>&1; then
		# Docker answers too, or Podman is not at a usual socket:
		# DOCKER_HOST, which the quickstart's provider takes, points it
		# at Podman.
		export DOCKER_HOST=$host
	fi # else broker finds Podman at its usual socket by itself
	echo "demo: on Podman at $host" >&2
fi

if [ -z "$engine" ]; then
	echo "demo: neither Docker nor Podman answers; showing the simulated lab instead (examples/sim.hcl)" >&2
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
if [ -n "$serve" ]; then
	kill "$serve"
	wait "$serve" || true
fi
echo
echo "demo: done; broker's files for this run are in $BROKER_DIRECTORY"

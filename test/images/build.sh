#!/usr/bin/env bash
# Builds broker's test images locally, without a registry:
#
#   broker-sshd:bookworm    Debian bookworm (debootstrap minbase) with OpenSSH;
#                           host keys made at start, key login only, the
#                           authorized key from env BROKER_AUTHORIZED_KEYS
#   broker-busybox:latest   Debian's busybox-static with its applet links
#
# Each image carries the label broker.recipe.hash, a hash of its recipe (this
# script and its folder); an image whose label matches is not rebuilt.
#
# Usage: test/images/build.sh [--check] [--force] [sshd|busybox ...]
#   --check   build nothing; exit 1 when an image is missing or stale
#   --force   rebuild even when the hash matches
#
# The Debian mirror is the one this machine's apt uses (sources.list or
# sources.list.d/*.sources); debootstrap is installed with apt-get if missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# One build at a time (parallel test packages may all ask for the images).
exec 9<"${BASH_SOURCE[0]}"
command -v flock >/dev/null && flock 9
check=0
force=0
want=()
for a in "$@"; do
	case "$a" in
	--check) check=1 ;;
	--force) force=1 ;;
	-h | --help)
		sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	sshd | busybox) want+=("$a") ;;
	*)
		echo "build.sh: unknown argument $a" >&2
		exit 2
		;;
	esac
done
[ "${#want[@]}" -gt 0 ] || want=(sshd busybox)

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

command -v docker >/dev/null || die "docker CLI not found"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	die "docker engine not reachable (${DOCKER_HOST:-unix:///var/run/docker.sock}); start it or set DOCKER_HOST"

tag_of() {
	case "$1" in
	sshd) echo broker-sshd:bookworm ;;
	busybox) echo broker-busybox:latest ;;
	esac
}

# recipe_hash NAME: hash of this script and the image's recipe folder.
recipe_hash() {
	(
		cd "$here"
		sha256sum build.sh
		find "$1" -type f -print0 | sort -z | xargs -0 sha256sum
		find "$1" -type f -print0 | sort -z | xargs -0 stat -c '%n %a'
	) | sha256sum | cut -c1-32
}

current_hash() {
	docker image inspect -f '{{index .Config.Labels "broker.recipe.hash"}}' "$1" 2>/dev/null || true
}

# mirror prints the Debian mirror URL apt uses for bookworm.
mirror() {
	local f url=""
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		url=$(awk '
			/^[[:space:]]*$/ { if (ok && uri != "") { print uri; exit } ok = 0; uri = ""; next }
			/^[[:space:]]*#/ { next }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == "bookworm") ok = 1 }
			END { if (ok && uri != "") print uri }' "$f" | head -n1)
		[ -z "$url" ] || break
	done
	if [ -z "$url" ]; then
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			url=$(awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i+1) == "bookworm") { print $i; exit } }' "$f")
			[ -z "$url" ] || break
		done
	fi
	[ -n "$url" ] || die "no bookworm mirror found in the apt configuration (/etc/apt/sources.list, /etc/apt/sources.list.d)"
	echo "$url"
}

need_debootstrap() {
	command -v debootstrap >/dev/null && return
	log "installing debootstrap with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
		die "could not install debootstrap"
}

work=""
cleanup() { [ -z "$work" ] || rm -rf "$work"; }
trap cleanup EXIT

# import DIR TAG HASH CHANGE...: docker import of DIR as TAG.
import() {
	local dir=$1 tag=$2 hash=$3
	shift 3
	local args=()
	for c in "$@"; do args+=(--change "$c"); done
	log "importing $tag"
	tar --numeric-owner -C "$dir" -cf - . |
		docker import "${args[@]}" --change "LABEL broker.recipe.hash=$hash" - "$tag" >/dev/null
}

build_sshd() {
	local tag=$1 hash=$2 root url
	need_debootstrap
	url=$(mirror)
	work=$(mktemp -d)
	root=$work/root
	log "debootstrap bookworm (minbase + openssh-server); this takes a minute or two"
	debootstrap --variant=minbase --include=openssh-server,openssh-sftp-server,ca-certificates \
		bookworm "$root" "$url" >"$work/debootstrap.log" 2>&1 || {
		tail -n 20 "$work/debootstrap.log" >&2
		die "debootstrap failed"
	}
	log "trimming the root filesystem"
	rm -f "$root"/etc/ssh/ssh_host_*
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
		"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
		"$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/*
	# Device nodes come from the engine at run time.
	find "$root/dev" -mindepth 1 -delete
	install -m 0644 "$here/sshd/sshd_config" "$root/etc/ssh/sshd_config"
	install -m 0755 "$here/sshd/entrypoint.sh" "$root/usr/local/sbin/broker-entrypoint"
	# A locked password ("*" is not "!"): sshd accepts key logins.
	chroot "$root" usermod -p '*' root
	printf 'broker-sshd\n' >"$root/etc/hostname"
	import "$root" "$tag" "$hash" \
		'ENTRYPOINT ["/usr/local/sbin/broker-entrypoint"]' \
		'CMD ["/usr/sbin/sshd", "-D", "-e"]' \
		'EXPOSE 22' \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	rm -rf "$work"
	work=""
}

build_busybox() {
	local tag=$1 hash=$2 root deb
	work=$(mktemp -d)
	root=$work/root
	log "fetching busybox-static with apt-get download"
	(cd "$work" && apt-get download -q busybox-static >/dev/null 2>"$work/apt.log") || {
		cat "$work/apt.log" >&2
		die "apt-get download busybox-static failed (apt-get update may help)"
	}
	deb=$(ls "$work"/busybox-static_*.deb)
	dpkg-deb -x "$deb" "$work/deb"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,run}
	chmod 1777 "$root/tmp"
	chmod 700 "$root/root"
	install -m 0755 "$work/deb/bin/busybox" "$root/bin/busybox"
	log "linking busybox applets"
	local a
	while read -r a; do
		[ "$a" = bin/busybox ] && continue
		mkdir -p "$root/$(dirname "$a")"
		ln -sf /bin/busybox "$root/$a"
	done < <("$root/bin/busybox" --list-full)
	install -m 0755 "$here/busybox/init.sh" "$root/sbin/broker-init"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	import "$root" "$tag" "$hash" \
		'CMD ["/sbin/broker-init"]' \
		'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin'
	rm -rf "$work"
	work=""
}

stale=0
for name in "${want[@]}"; do
	tag=$(tag_of "$name")
	hash=$(recipe_hash "$name")
	have=$(current_hash "$tag")
	if [ "$have" = "$hash" ] && [ "$force" = 0 ]; then
		log "$tag is up to date"
		continue
	fi
	if [ "$check" = 1 ]; then
		if [ -z "$have" ]; then log "$tag is missing"; else log "$tag is stale"; fi
		stale=1
		continue
	fi
	start=$(date +%s)
	log "building $tag (recipe $hash)"
	"build_$name" "$tag" "$hash"
	log "built $tag in $(($(date +%s) - start))s"
done
exit "$stale"

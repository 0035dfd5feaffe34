#!/usr/bin/env bash
# Installs what broker's tests and demo need on a Debian machine, then builds
# the local test images. Idempotent: it installs only what is missing.
#   test/deps.sh          packages for the tests and the demo
#   test/deps.sh --bench  also the peer tools the benchmarks compare against
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have sshd        || need+=(openssh-server)
have ssh         || need+=(openssh-client)
# The inventory formats are tested with the programs that read them.
have ansible     || need+=(ansible)
have etcd        || need+=(etcd-server)
have debootstrap || need+=(debootstrap)
# The container tests run on Docker and on a Podman service of their own
# (test/podman/serve.sh).
have podman      || need+=(podman)
# Podman 4.3's CNI networks resolve container names through this plugin.
[ -x /usr/lib/cni/dnsname ] || need+=(golang-github-containernetworking-plugin-dnsname)
[ -x /bin/busybox ] || need+=(busybox-static)
# --report's JUnit files are read back by a real JUnit reader.
/usr/bin/python3 -c 'import junitparser' 2>/dev/null || need+=(python3-junitparser)
# The libvirt provider's tests run a private libvirtd booting a tiny guest
# (test/libvirttest): QEMU, qemu-img, a kernel to boot, dropbear in the
# guest, and genisoimage for cloud-init seeds.
have libvirtd    || need+=(libvirt-daemon libvirt-daemon-driver-qemu)
have qemu-system-x86_64 || need+=(qemu-system-x86)
have qemu-img    || need+=(qemu-utils)
have genisoimage || need+=(genisoimage)
have dropbear    || need+=(dropbear-bin)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-cloud-amd64)
# The terminal view is tested in a real terminal (cmd/broker/terminal_test.go).
have tmux        || need+=(tmux)
if [ "${1:-}" = "--bench" ]; then
  have parallel-ssh || have pssh || need+=(pssh)
  have hyperfine   || need+=(hyperfine)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${need[*]}: install them (as root: apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ "$(id -u)" != 0 ] || mkdir -p /run/sshd

if docker info >/dev/null 2>&1; then
  bash test/images/build.sh
else
  echo "deps: no Docker engine answers: the container tests need one (the demo can do with Podman)" >&2
  [ "${CI:-}" != true ] || exit 1
fi

#!/usr/bin/env bash
# Time from `checkout` to SSH for one libvirt guest: the tiny guest of
# test/libvirttest (direct kernel boot, busybox + dropbear) on a private
# libvirtd under software emulation (TCG), user-mode networking. Prints
# Markdown; test/bench/run.sh calls it. Needs what test/deps.sh installs.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "## libvirt (private libvirtd, TCG, tiny guest)"
echo
echo "| what | mean of 3 boots |"
echo "| --- | --- |"
out=$(go test -run '^$' -bench BenchmarkTimeToSSH -benchtime 3x ./providers/libvirt 2>&1) || { echo "$out" | tail -20 >&2; exit 1; }
secs=$(echo "$out" | awk '/BenchmarkTimeToSSH/ { for (i = 1; i < NF; i++) if ($(i+1) == "s-to-ssh") print $i }')
echo "| checkout of one guest: define, start, DHCP in the guest, SSH banner | ${secs} s |"
echo

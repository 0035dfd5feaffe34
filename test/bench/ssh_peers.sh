#!/usr/bin/env bash
# ssh_peers.sh — time the usual tools on the jobs `broker exec` / `broker cp`
# do, against loopback sshd servers, for comparison in `make bench`:
#
#   parallel-ssh -p 50 -i true         on every port
#   ansible all -f 50 -m command -a true   with a generated inventory
#   scp of one 256 MiB file            to the first port
#
# Usage:
#   ssh_peers.sh KEYFILE PORT...   use running sshd servers on 127.0.0.1
#   ssh_peers.sh                   start 50 throwaway sshd ports itself
#                                  (needs openssh-server; stopped on exit)
#
# Environment: BENCH_USER (login, default: the current user), BENCH_HOSTS
# (ports to start when none are given, default 50), SCP_MIB (default 256).
#
# Output: one line per tool, "<tool> <seconds>", or "<tool> skipped (<why>)".
set -euo pipefail

user=${BENCH_USER:-$(id -un)}
scp_mib=${SCP_MIB:-256}
work=$(mktemp -d "${TMPDIR:-/tmp}/ssh_peers.XXXXXX")
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# start_sshd N: start sshd on N free ports, 16 per process (sshd's limit of
# listen sockets); sets key and ports.
start_sshd() {
	local n=$1 sshd
	sshd=$(command -v sshd || echo /usr/sbin/sshd)
	[ -x "$sshd" ] || { echo "ssh_peers.sh: sshd not found (install openssh-server)" >&2; exit 1; }
	mkdir -p /run/sshd 2>/dev/null || true
	ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
	cp "$work/client_key.pub" "$work/authorized_keys"
	key=$work/client_key
	mapfile -t ports < <(python3 - "$n" <<-'EOF'
		import socket, sys
		socks = []
		for _ in range(int(sys.argv[1])):
		    s = socket.socket()
		    s.bind(("127.0.0.1", 0))
		    socks.append(s)
		for s in socks:
		    print(s.getsockname()[1])
	EOF
	)
	local i=0 proc=0
	while [ "$i" -lt "$n" ]; do
		local cfg=$work/sshd_config.$proc
		{
			for p in "${ports[@]:$i:16}"; do echo "ListenAddress 127.0.0.1:$p"; done
			cat <<-EOF
				HostKey $work/host_key
				PidFile $work/sshd.$proc.pid
				AuthorizedKeysFile $work/authorized_keys
				StrictModes no
				UsePAM no
				UseDNS no
				PasswordAuthentication no
				KbdInteractiveAuthentication no
				PermitRootLogin prohibit-password
				MaxStartups 1000
				MaxSessions 100
				Subsystem sftp internal-sftp
			EOF
		} >"$cfg"
		"$sshd" -D -f "$cfg" -E "$work/sshd.$proc.log" &
		pids+=($!)
		i=$((i + 16))
		proc=$((proc + 1))
	done
	# Ready when every port answers with an SSH banner.
	for p in "${ports[@]}"; do
		local tries=0
		until python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),1); sys.exit(0 if s.recv(4)==b"SSH-" else 1)' "$p" 2>/dev/null; do
			tries=$((tries + 1))
			[ "$tries" -lt 200 ] || { echo "ssh_peers.sh: sshd on port $p did not come up" >&2; cat "$work"/sshd.*.log >&2; exit 1; }
			sleep 0.05
		done
	done
}

if [ "$#" -eq 0 ]; then
	start_sshd "${BENCH_HOSTS:-50}"
else
	key=$1
	shift
	ports=("$@")
fi
[ "${#ports[@]}" -gt 0 ] || { echo "usage: ssh_peers.sh [KEYFILE PORT...]" >&2; exit 2; }
fanout=${#ports[@]}

ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR)

# parallel-ssh (Debian's pssh names it parallel-ssh; upstream, pssh).
pssh=$(command -v parallel-ssh || command -v pssh || true)
if [ -z "$pssh" ]; then
	echo "parallel-ssh skipped (not installed: apt-get install pssh)"
else
	for p in "${ports[@]}"; do echo "127.0.0.1:$p"; done >"$work/pssh_hosts"
	start=$(now)
	if "$pssh" -p "$fanout" -i -h "$work/pssh_hosts" -l "$user" -t 120 \
		-x "-i $key ${ssh_opts[*]}" true >"$work/pssh.out" 2>&1; then
		echo "parallel-ssh $(elapsed "$start" "$(now)")"
	else
		echo "parallel-ssh skipped (failed, see below)"
		tail -5 "$work/pssh.out" >&2
	fi
fi

# ansible ad-hoc command module.
if ! command -v ansible >/dev/null; then
	echo "ansible skipped (not installed: apt-get install ansible-core)"
else
	{
		echo "[bench]"
		i=0
		for p in "${ports[@]}"; do
			echo "h$i ansible_host=127.0.0.1 ansible_port=$p"
			i=$((i + 1))
		done
		echo "[bench:vars]"
		echo "ansible_user=$user"
		echo "ansible_ssh_private_key_file=$key"
		echo "ansible_ssh_common_args='${ssh_opts[*]}'"
		echo "ansible_python_interpreter=$(command -v python3)"
	} >"$work/inventory.ini"
	start=$(now)
	if ANSIBLE_HOME="$work/ansible" ANSIBLE_LOCAL_TEMP="$work/ansible/tmp" \
		ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_STDOUT_CALLBACK=minimal \
		ansible all -i "$work/inventory.ini" -f "$fanout" -m command -a true >"$work/ansible.out" 2>&1; then
		echo "ansible $(elapsed "$start" "$(now)")"
	else
		echo "ansible skipped (failed, see below)"
		tail -5 "$work/ansible.out" >&2
	fi
fi

# scp of one file to the first port.
if ! command -v scp >/dev/null; then
	echo "scp skipped (not installed: apt-get install openssh-client)"
else
	head -c "$((scp_mib << 20))" /dev/urandom >"$work/blob"
	dest=$work/blob.copy
	start=$(now)
	if scp -q -i "$key" -P "${ports[0]}" "${ssh_opts[@]}" "$work/blob" "$user@127.0.0.1:$dest" 2>"$work/scp.err"; then
		echo "scp $(elapsed "$start" "$(now)")"
	else
		echo "scp skipped (failed, see below)"
		cat "$work/scp.err" >&2
	fi
fi

#!/usr/bin/env bash
# ssh.sh — remote execution benchmarks for `make bench` (section_ssh of
# test/bench/run.sh): on the same 50 loopback sshd endpoints,
#
#   broker exec -- true      a static pool of 50 members checked out into
#                            an environment, then `broker exec --all` timed
#                            as a whole process
#   parallel-ssh -p 50 -i true, ansible all -f 50 -m command -a true
#                            (test/bench/ssh_peers.sh)
#   broker cp vs scp         one 256 MiB file to the first endpoint
#   peak RSS                 of `broker exec` on 50 hosts (/usr/bin/time -f %M)
#
# Each timing is the median of RUNS (default 3) runs. Prints a Markdown
# table. Needs openssh-server; the peers are skipped when not installed.
# Environment: BENCH_HOSTS (default 50), RUNS (3), SCP_MIB (256).
set -euo pipefail
cd "$(dirname "$0")/../.."

hosts=${BENCH_HOSTS:-50}
runs=${RUNS:-3}
mib=${SCP_MIB:-256}
user=$(id -un)
work=$(mktemp -d "${TMPDIR:-/tmp}/bench_ssh.XXXXXX")
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk 'NF { v[++n] = $1 } END { if (n == 0) print "-"; else print v[int((n + 1) / 2)] }'; }

echo "## Remote execution"
echo

# The endpoints: sshd processes of 16 ports each (sshd's limit of listen
# sockets), one host key and one client key for all.
sshd=$(command -v sshd || echo /usr/sbin/sshd)
if [ ! -x "$sshd" ]; then
	echo "skipped: sshd not found (apt-get install openssh-server)"
	exit 0
fi
mkdir -p /run/sshd 2>/dev/null || true
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
key=$work/client_key
mapfile -t ports < <(python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
' "$hosts")
i=0
proc=0
while [ "$i" -lt "$hosts" ]; do
	cfg=$work/sshd_config.$proc
	{
		for p in "${ports[@]:$i:16}"; do echo "ListenAddress 127.0.0.1:$p"; done
		printf '%s\n' "HostKey $work/host_key" "PidFile $work/sshd.$proc.pid" \
			"AuthorizedKeysFile $work/authorized_keys" "StrictModes no" "UsePAM no" "UseDNS no" \
			"PasswordAuthentication no" "KbdInteractiveAuthentication no" \
			"PermitRootLogin prohibit-password" "MaxStartups 1000" "MaxSessions 100" \
			"Subsystem sftp internal-sftp"
	} >"$cfg"
	"$sshd" -D -f "$cfg" -E "$work/sshd.$proc.log" &
	pids+=($!)
	i=$((i + 16))
	proc=$((proc + 1))
done
for p in "${ports[@]}"; do
	tries=0
	until python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),1); sys.exit(0 if s.recv(4)==b"SSH-" else 1)' "$p" 2>/dev/null; do
		tries=$((tries + 1))
		[ "$tries" -lt 200 ] || { echo "ssh.sh: sshd on port $p did not come up" >&2; cat "$work"/sshd.*.log >&2; exit 1; }
		sleep 0.05
	done
done

# broker, with a static pool of the endpoints checked out into "bench".
go build -o "$work/broker" ./cmd/broker
export BROKER_DIRECTORY=$work/broker-dir NO_COLOR=1
mkdir -p "$BROKER_DIRECTORY"
printf 'ssh {\n  private_key_file = "%s"\n  known_hosts_file = "%s"\n}\n' "$key" "$work/known_hosts" >"$BROKER_DIRECTORY/broker.hcl"
{
	echo 'environment = "bench"'
	echo 'provider "static" "bench" {'
	printf '  hosts = ['
	sep=''
	for p in "${ports[@]}"; do
		printf '%s"127.0.0.1:%s"' "$sep" "$p"
		sep=', '
	done
	echo ']'
	echo "  user  = \"$user\""
	echo '}'
	echo 'host "n" {'
	echo '  provider = "static.bench"'
	echo "  count    = $hosts"
	echo '}'
} >"$work/bench.hcl"
"$work/broker" apply -f "$work/bench.hcl" --auto-approve --log-level error >/dev/null 2>"$work/apply.err" || {
	cat "$work/apply.err" >&2
	exit 1
}
# The first exec pins the host keys into the records; time the ones after.
"$work/broker" exec --all -e bench -- true >/dev/null 2>&1

broker_exec=$(for _ in $(seq "$runs"); do
	start=$(now)
	"$work/broker" exec --all -e bench -- true >/dev/null 2>&1
	elapsed "$start" "$(now)"
	echo
done | median)
rss_kib=-
if [ -x /usr/bin/time ]; then
	rss_kib=$(/usr/bin/time -f '%M' -o "$work/rss" "$work/broker" exec --all -e bench -- true >/dev/null 2>&1 && tail -1 "$work/rss")
fi

# The peers, RUNS times (one ssh_peers.sh run times all three).
: >"$work/peers"
for _ in $(seq "$runs"); do
	SCP_MIB=$mib BENCH_USER=$user bash test/bench/ssh_peers.sh "$key" "${ports[@]}" >>"$work/peers" 2>>"$work/peers.err" || true
done
peer() { awk -v t="$1" '$1 == t && $2 ~ /^[0-9.]+$/ { print $2 }' "$work/peers" | median; }
pssh=$(peer parallel-ssh)
ansible=$(peer ansible)
scp=$(peer scp)

# broker cp of a file of the same size.
head -c "$((mib << 20))" /dev/urandom >"$work/blob"
broker_cp=$(for _ in $(seq "$runs"); do
	start=$(now)
	"$work/broker" cp -e bench "$work/blob" "host.n[0]:$work/blob.broker" >/dev/null 2>&1
	elapsed "$start" "$(now)"
	echo
	rm -f "$work/blob.broker"
done | median)

faster() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == 0) print "-"; else printf "%.1f×", b / a }'; }
mibs() { awk -v s="$1" -v m="$mib" 'BEGIN { if (s == "-" || s == 0) print "-"; else printf "%.0f MiB/s", m / s }'; }
mb() { awk -v k="$1" 'BEGIN { if (k == "-" || k == "") print "-"; else printf "%.1f MB", k * 1024 / 1e6 }'; }

echo "$hosts loopback sshd endpoints (one machine), median of $runs runs, $(nproc) CPUs, $(ssh -V 2>&1 | cut -d, -f1)."
echo
echo "| job | broker | peer | broker vs peer |"
echo "| --- | --- | --- | --- |"
echo "| \`true\` on $hosts hosts | ${broker_exec}s \`broker exec --all\` | ${pssh}s \`parallel-ssh -p $hosts -i\` | $(faster "$broker_exec" "$pssh") faster (goal ≥1.3×) |"
echo "| \`true\` on $hosts hosts | ${broker_exec}s \`broker exec --all\` | ${ansible}s \`ansible all -f $hosts -m command\` | $(faster "$broker_exec" "$ansible") faster (goal ≥5×) |"
echo "| upload one $mib MiB file | ${broker_cp}s, $(mibs "$broker_cp") \`broker cp\` | ${scp}s, $(mibs "$scp") \`scp\` | $(faster "$broker_cp" "$scp") scp's throughput (goal ≥0.9×) |"
echo "| peak RSS of \`broker exec\` on $hosts hosts | $(mb "$rss_kib") | | goal < 80 MB |"
echo

"""Round trip of one command on one warm sshd container, three ways (run by
test/bench/python.sh with Debian's python3):

  broker package   host.execute("true") through broker rpc's warm session
  paramiko         exec_command("true") on paramiko's own warm connection,
                   as it comes and with TCP_NODELAY set
  broker exec      a fresh `broker exec ID -- true` process per command

Prints a Markdown table of p50 and p90 in milliseconds.
"""

import os
import socket
import statistics
import subprocess
import sys
import time

import paramiko

from broker import Broker

N = int(os.environ.get("RUNS_WARM", "500"))
N_FRESH = int(os.environ.get("RUNS_FRESH", "40"))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def timed(f, n, warm=20):
    for _ in range(warm):
        f()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main():
    b = Broker(container_host="broker-sshd:bookworm", ports=["22"], labels={"bench": "python"})
    host = b.checkout()
    try:
        def pkg():
            r = host.execute("true")
            assert r.status == 0, r

        rows = [("`host.execute(\"true\")` through the broker package (warm broker rpc session)", timed(pkg, N))]

        key = os.path.join(os.environ["BROKER_DIRECTORY"], "ssh", "id_ed25519")
        cli = paramiko.SSHClient()
        cli.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        cli.connect(host.connect_host, port=host.port, username=host.user or "root", key_filename=key,
                    look_for_keys=False, allow_agent=False)

        def pmk():
            _, out, _ = cli.exec_command("true")
            assert out.channel.recv_exit_status() == 0

        rows.append(("paramiko `exec_command(\"true\")` on its own warm connection", timed(pmk, N)))
        # paramiko leaves Nagle's algorithm on; with it off, its floor is
        # sshd's and its own.
        cli.get_transport().sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rows.append(("the same, with TCP_NODELAY set on paramiko's socket", timed(pmk, N)))
        cli.close()

        binary = os.environ["BROKER_BINARY"]

        def fresh():
            subprocess.run([binary, "exec", host.id, "--", "true"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        rows.append(("a fresh `broker exec ID -- true` process", timed(fresh, N_FRESH, warm=3)))
    finally:
        b.checkin()

    print("| what | runs | p50 | p90 | mean |")
    print("| --- | --- | --- | --- | --- |")
    for name, xs in rows:
        print(f"| {name} | {len(xs)} | {pct(xs, 50):.2f} ms | {pct(xs, 90):.2f} ms | {statistics.mean(xs):.2f} ms |")
    p = {i: pct(xs, 50) for i, (_, xs) in enumerate(rows)}
    print()
    print(f"p50: package / paramiko = {p[0] / p[1]:.2f}, / paramiko with TCP_NODELAY = {p[0] / p[2]:.2f} (goal ≤ 1); "
          f"fresh broker exec / package = {p[3] / p[0]:.0f}× (goal ≥ 20×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

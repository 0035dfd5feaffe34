"""The seed README's examples, as a suite written that way uses them.

Run by cmd/broker/python_test.go against containers: broker.hcl has a
nick "rhel7" (an sshd container) and BROKER_TEST_IMAGE names the image
for container_host.
"""

import os

import pytest

from broker import Broker
from broker.hosts import Host

pytestmark = pytest.mark.skipif(os.environ.get("BROKER_TEST_TARGET") != "docker", reason="needs containers")


def test_checkout_by_nick_and_execute():
    rhel7_host = Broker(nick="rhel7").checkout()
    try:
        result = rhel7_host.execute("cat /etc/os-release")
        assert result.status == 0
        assert "debian" in result.stdout
        failed = rhel7_host.execute("echo oops >&2; exit 3")
        assert (failed.status, failed.stdout, failed.stderr) == (3, "", "oops\n")
    finally:
        Broker(hosts=[rhel7_host]).checkin()
    assert rhel7_host.id not in [h.id for h in Broker.from_inventory()]


def test_args_file(tmp_path):
    args = tmp_path / "broker_args.json"
    args.write_text('{"container_host": "broker-busybox:latest"}')
    host = Broker(args_file=str(args)).checkout()
    try:
        assert host.execute("busybox true").status == 0
    finally:
        Broker(hosts=host).checkin()


def test_context_manager_container_host():
    with Broker(container_host=os.environ["BROKER_TEST_IMAGE"]) as container_host:
        assert container_host.hostname in container_host.execute("hostname").stdout
        held = container_host.id
    assert held not in [h.id for h in Broker.from_inventory()]


class MyHost(Host):
    events = []

    def setup(self):
        self.execute("echo registered > /tmp/registered")
        MyHost.events.append(("setup", self.name))

    def teardown(self):
        assert self.execute("cat /tmp/registered").stdout == "registered\n"
        MyHost.events.append(("teardown", self.name))


def test_custom_host_class_setup_teardown():
    MyHost.events.clear()
    with Broker(nick="rhel7", host_class=MyHost) as my_host:
        assert isinstance(my_host, MyHost)
        assert MyHost.events == [("setup", my_host.name)]
        assert my_host.execute("cat /tmp/registered").stdout == "registered\n"
    assert MyHost.events == [("setup", my_host.name), ("teardown", my_host.name)]


def test_teardown_runs_and_hosts_are_checked_in_when_the_block_fails():
    MyHost.events.clear()
    with pytest.raises(RuntimeError):
        with Broker(nick="rhel7", host_class=MyHost) as my_host:
            raise RuntimeError("the test failed")
    assert MyHost.events[-1] == ("teardown", my_host.name)
    assert my_host.id not in [h.id for h in Broker.from_inventory()]


def test_count_of_three():
    with Broker(nick="rhel7", _count=3) as hosts:
        assert isinstance(hosts, list) and len(hosts) == 3
        names = {h.execute("hostname").stdout.strip() for h in hosts}
        assert len(names) == 3
    left = {h.id for h in Broker.from_inventory()}
    assert not left & {h.id for h in hosts}


def test_sftp_write_read_and_timeout(tmp_path):
    src = tmp_path / "payload.txt"
    src.write_text("payload\n")
    with Broker(nick="rhel7") as host:
        host.session.sftp_write(str(src), "/tmp/payload.txt")
        assert host.execute("cat /tmp/payload.txt").stdout == "payload\n"
        back = tmp_path / "back.txt"
        host.session.sftp_read("/tmp/payload.txt", str(back))
        assert back.read_text() == "payload\n"
        assert host.session.sftp_read("/tmp/payload.txt", return_data=True) == b"payload\n"
        host.session.write_file("/tmp/data.bin", b"\x00\xff")
        assert host.session.read_file("/tmp/data.bin") == b"\x00\xff"
        slow = host.execute("sleep 30", timeout=0.3)
        assert slow.status == 124 and slow.timed_out
        assert host.execute("cat", stdin="fed\n").stdout == "fed\n"


@pytest.mark.broker(nick="rhel7")
def test_fixture(broker_host):
    assert broker_host.execute("true").status == 0

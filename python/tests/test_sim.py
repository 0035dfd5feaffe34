"""The package against the sim provider (no containers needed)."""

import os
import threading

import pytest

from broker import Broker, BrokerError, HostUnreachable, UnknownHost
from broker import _rpc

pytestmark = pytest.mark.skipif(os.environ.get("BROKER_TEST_TARGET") != "sim", reason="sim run")


def test_checkout_inventory_extend_checkin():
    b = Broker(provider="sim", count=3, labels={"suite": "py"}, lease="2h")
    hosts = b.checkout()
    assert len(hosts) == 3 and all(h.provider == "sim.default" for h in hosts)
    assert all(h.hostname and h.name and h.id for h in hosts)
    found = Broker.from_inventory(filter='labels.suite == "py"')
    assert {h.id for h in found} == {h.id for h in hosts}
    before = hosts[0].lease
    b.extend(lease="9h")
    assert hosts[0].lease > before
    b.checkin()
    assert Broker().from_inventory(filter='labels.suite == "py"') == []
    Broker(hosts=hosts).checkin()  # twice is harmless


def test_single_host_is_not_a_list():
    with Broker(nick="rhel7") as host:
        assert host.hostname.endswith(".sim.test")


def test_errors_are_structured():
    with pytest.raises(BrokerError) as e:
        Broker(provider="nosuch").checkout()
    assert e.value.code == -32000 and e.value.hint
    with pytest.raises(BrokerError) as e:
        Broker.from_inventory(filter="labels.x ==")
    assert e.value.kind == "invalid_params"
    with Broker(provider="sim") as host:
        with pytest.raises(HostUnreachable) as e:
            host.execute("true")
        assert "no transport" in str(e.value)
    with pytest.raises(UnknownHost):
        host.execute("true")


def test_concurrent_calls_share_one_child():
    pid = _rpc.client().pid
    out = []

    def work():
        with Broker(provider="sim") as h:
            out.append(h.id)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 6
    assert _rpc.client().pid == pid


def test_no_binary_says_what_to_do(monkeypatch):
    monkeypatch.setenv("BROKER_BINARY", "")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BrokerError) as e:
        _rpc.Client()
    assert "BROKER_BINARY" in e.value.hint


def test_fixture_checks_in_after_the_test(broker_host, request):
    assert broker_host.provider == "sim.default"
    request.config._broker_sim_held = broker_host.id


def test_fixture_host_was_checked_in(request):
    held = getattr(request.config, "_broker_sim_held", None)
    assert held and held not in [h.id for h in Broker.from_inventory()]


def test_provider_action():
    res = Broker(provider="sim", test_action="ping", extra_arg="x").execute(command=["echo", "hi"])
    assert res["provider"] == "sim.default"
    assert res["result"]["args"] == {"test_action": "ping", "extra_arg": "x"}
    assert res["result"]["command"] == ["echo", "hi"]


@pytest.mark.broker(nick="rhel7", count=3, labels={"fixture": "many"})
def test_hosts_fixture(broker_hosts):
    assert len(broker_hosts) == 3
    held = Broker.from_inventory(filter='labels.fixture == "many"')
    assert {h.id for h in held} == {h.id for h in broker_hosts}


def test_hosts_fixture_checked_in():
    assert Broker.from_inventory(filter='labels.fixture == "many"') == []

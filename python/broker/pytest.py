"""pytest plugin: a ``broker_host`` fixture checked out for the test and
checked in after it, even when the test fails or the run is interrupted.

Enable it with ``-p broker.pytest`` or ``pytest_plugins = ["broker.pytest"]``
in a conftest.py (an installed package registers it by itself). What is
checked out comes from the test's marker, else the command line:

    @pytest.mark.broker(nick="rhel7")            # any Broker(...) keywords
    def test_packages(broker_host):
        assert broker_host.execute("rpm -q bash").status == 0

    pytest --broker-nick rhel7 --broker-arg image=broker-sshd:bookworm

``broker_hosts`` is the same with ``count`` hosts (a list); the marker's
``host_class`` makes instances of a Host subclass, whose ``setup()`` runs
after checkout and ``teardown()`` before checkin.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List

import pytest

from .broker import Broker
from .hosts import Host

# Brokers whose hosts are out, checked in at session end if a teardown was
# skipped (an interrupted run tears fixtures down, this is the backstop).
_open: List[Broker] = []


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("broker", "broker hosts")
    group.addoption("--broker-nick", default=None, help="nick the broker_host fixture checks out")
    group.addoption("--broker-args-file", default=None, help="JSON or YAML file of provider arguments")
    group.addoption("--broker-arg", action="append", default=[], metavar="KEY=VALUE",
                    help="a provider argument for broker_host (repeatable)")
    parser.addini("broker_nick", "nick the broker_host fixture checks out", default="")


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "broker(**kwargs): Broker(...) keywords for the broker_host fixture")


def _kwargs(request: Any) -> Dict[str, Any]:
    cfg = request.config
    kw: Dict[str, Any] = {}
    nick = cfg.getoption("--broker-nick") or cfg.getini("broker_nick")
    if nick:
        kw["nick"] = nick
    if cfg.getoption("--broker-args-file"):
        kw["args_file"] = cfg.getoption("--broker-args-file")
    for item in cfg.getoption("--broker-arg"):
        k, sep, v = item.partition("=")
        if not sep:
            raise pytest.UsageError(f"--broker-arg {item!r}: want KEY=VALUE")
        kw[k] = v
    marker = request.node.get_closest_marker("broker")
    if marker is not None:
        kw.update(marker.kwargs)
    return kw


def _hosts(request: Any, count: int) -> Iterator[Any]:
    kw = _kwargs(request)
    if count > 1:
        kw["count"] = count
    b = Broker(**kw)
    _open.append(b)
    try:
        with b as hosts:
            yield hosts
    finally:
        if b in _open:
            _open.remove(b)


@pytest.fixture
def broker_host(request: Any) -> Iterator[Host]:
    """One host, checked out for the test and checked in after it."""
    yield from _hosts(request, 1)


@pytest.fixture
def broker_hosts(request: Any) -> Iterator[List[Host]]:
    """``count`` hosts (the marker's, default 2) as a list."""
    marker = request.node.get_closest_marker("broker")
    count = int((marker.kwargs.get("count") if marker else None) or 2)
    hosts = _hosts(request, count)
    for hs in hosts:
        yield hs if isinstance(hs, list) else [hs]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: Any) -> None:
    # Fixtures are torn down before this on an interrupt too; whatever is
    # still held here is checked in.
    for b in list(_open):
        try:
            b.checkin()
        finally:
            if b in _open:
                _open.remove(b)

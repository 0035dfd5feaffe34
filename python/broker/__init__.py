"""broker for Python test suites: ``from broker import Broker``.

A thin client of the Go ``broker`` binary: every call goes to one
``broker rpc`` child per process (found through ``$BROKER_BINARY`` or on
``PATH``), which keeps one warm connection per host. Standard library only.

    from broker import Broker

    with Broker(nick="rhel7") as host:
        result = host.execute("rpm -qa")
        assert result.status == 0
"""

from .broker import Broker
from .exceptions import BrokerError, HostUnreachable, RPCUnavailable, UnknownHost
from .helpers import Result
from .hosts import Host, Session

__version__ = "0.1.0"

__all__ = ["Broker", "BrokerError", "Host", "HostUnreachable", "RPCUnavailable", "Result", "Session", "UnknownHost"]

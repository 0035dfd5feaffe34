"""The Broker class: checkout, checkin, extend, inventory and provider
actions, as the Python broker's API has them."""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Iterable, List, Optional, Type, Union

from . import _rpc
from .hosts import Host

class _hybridmethod:
    """A method callable on the class (Broker.from_inventory(...)) or on an
    instance (Broker(...).from_inventory(...))."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def __get__(self, obj: Any, cls: type) -> Callable[..., Any]:
        return functools.partial(self.func, cls, obj)


class Broker:
    """Checks hosts out of broker and in again.

    Keyword arguments are those of ``broker checkout`` with underscores:
    ``nick``, ``args_file``, ``provider`` ("TYPE" or "TYPE.INSTANCE"),
    ``count`` (or ``_count``), ``lease`` ("4h"), ``labels`` (or
    ``provider_labels``), ``environment``; ``host_class`` is the Host
    subclass to make; ``hosts`` are hosts to check in or extend. Any other
    keyword is a provider argument: ``Broker(container_host="ch-d:rhel7")``
    runs a container of that image (``container_host`` is the docker
    provider's ``image``), ``Broker(workflow="deploy-rhel")`` an AWX one.

    Used as a context manager it checks out on enter (running each host's
    ``setup()``) and, on exit, runs each host's ``teardown()`` and checks
    the hosts in, whatever happened in the block.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.nick: Optional[str] = kwargs.pop("nick", None)
        self.args_file: Optional[str] = kwargs.pop("args_file", None)
        self.provider: Optional[str] = kwargs.pop("provider", None)
        self.host_class: Type[Host] = kwargs.pop("host_class", None) or Host
        count = kwargs.pop("count", None)
        _count = kwargs.pop("_count", None)
        self.count: int = int(count or _count or 1)
        self.environment: Optional[str] = kwargs.pop("environment", None)
        self.lease: Optional[str] = kwargs.pop("lease", None)
        labels = kwargs.pop("labels", None)
        provider_labels = kwargs.pop("provider_labels", None)
        labels = labels or provider_labels
        self.labels: Dict[str, str] = _labels(labels)
        hosts = kwargs.pop("hosts", None) or []
        self._hosts: List[Host] = list(hosts) if isinstance(hosts, (list, tuple)) else [hosts]
        if not issubclass(self.host_class, Host):
            raise TypeError(f"host_class {self.host_class!r} must be a subclass of broker.hosts.Host")
        # Dashes are underscores, as the Python broker has them.
        self.provider_args: Dict[str, Any] = {k.replace("-", "_"): v for k, v in kwargs.items()}

    def _spec(self) -> Dict[str, Any]:
        spec: Dict[str, Any] = {}
        if self.nick:
            spec["nick"] = self.nick
        if self.args_file:
            spec["args_file"] = str(self.args_file)
        if self.provider:
            spec["provider"] = self.provider
        if self.provider_args:
            spec["args"] = self.provider_args
        return spec

    @property
    def hosts(self) -> List[Host]:
        """The hosts this Broker holds."""
        return list(self._hosts)

    def checkout(self) -> Union[Host, List[Host]]:
        """Checks ``count`` hosts out: one Host, or a list when count > 1.

        It is all or nothing: if one host fails, those made are checked in
        and BrokerError is raised.
        """
        params = self._spec()
        params["count"] = self.count
        if self.labels:
            params["labels"] = self.labels
        if self.lease:
            params["lease"] = self.lease
        if self.environment:
            params["environment"] = self.environment
        res = _rpc.call("checkout", params)
        hosts = [Host._from_record(rec, self.host_class) for rec in res["hosts"]]
        self._hosts.extend(hosts)
        return hosts[0] if len(hosts) == 1 else hosts

    def checkin(self, host: Union[Host, Iterable[Host], None] = None) -> None:
        """Checks in ``host`` (one or several), else every host this Broker
        holds. Checking a host in twice is harmless."""
        hosts = self._select(host)
        if not hosts:
            return
        ids = [h.id for h in hosts if h.id]
        if ids:
            _rpc.call("checkin", {"hosts": ids})
        for h in hosts:
            if h in self._hosts:
                self._hosts.remove(h)

    def extend(self, host: Union[Host, Iterable[Host], None] = None, lease: Optional[str] = None) -> None:
        """Renews the leases of ``host`` (or every host held) to ``lease``
        from now ("4h"); without it, each host's own lease."""
        hosts = self._select(host)
        if not hosts:
            return
        params: Dict[str, Any] = {"hosts": [h.id for h in hosts]}
        if lease:
            params["lease"] = lease
        res = _rpc.call("extend", params)
        by_id = {rec["id"]: rec for rec in res["hosts"]}
        for h in hosts:
            if h.id in by_id:
                h._update(by_id[h.id])

    def _select(self, host: Union[Host, Iterable[Host], None]) -> List[Host]:
        if host is None:
            return list(self._hosts)
        if isinstance(host, Host):
            return [host]
        return list(host)

    @_hybridmethod
    def from_inventory(cls, self: Optional["Broker"], filter: Optional[str] = None) -> List[Host]:  # noqa: A002
        """The hosts broker's state holds that pass ``filter`` (the filter
        language of ``broker inventory --filter``: ``labels.role == "db"``),
        as ``host_class`` (of the instance, else Host). Callable on the
        class or an instance."""
        host_class = self.host_class if self is not None else Host
        res = _rpc.call("inventory", {"filter": filter or ""})
        return [Host._from_record(rec, host_class) for rec in res["hosts"]]

    def execute(self, command: Optional[List[str]] = None, artifacts: Optional[str] = None) -> Any:
        """Runs a provider action that makes no host (an AWX workflow, a
        one-off container with ``command``) and returns its result: a dict
        with ``provider``, ``result``, ``status``, ``stdout``, ``stderr``."""
        params = self._spec()
        if command:
            params["command"] = list(command)
        if artifacts:
            params["artifacts"] = artifacts
        return _rpc.call("execute", params)

    def __enter__(self) -> Union[Host, List[Host]]:
        hosts = self.checkout()
        try:
            for h in hosts if isinstance(hosts, list) else [hosts]:
                h.setup()
        except BaseException:
            self.checkin()
            raise
        return hosts

    def __exit__(self, *exc: Any) -> None:
        # Every host's teardown runs, and the hosts are checked in, even if
        # a teardown fails; the first failure is raised after the checkin.
        first: Optional[BaseException] = None
        for h in list(self._hosts):
            try:
                h.teardown()
            except BaseException as err:  # noqa: B902 - re-raised below
                first = first or err
        self.checkin()
        if first is not None:
            raise first


def _labels(labels: Any) -> Dict[str, str]:
    """Labels as a dict; "k=v,k2=v2" is accepted as the command line takes it."""
    if not labels:
        return {}
    if isinstance(labels, str):
        out = {}
        for part in labels.split(","):
            k, _, v = part.partition("=")
            out[k.strip()] = v.strip()
        return out
    return {str(k): str(v) for k, v in dict(labels).items()}

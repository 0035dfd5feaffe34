"""Hosts broker checked out, and their sessions.

Subclass :class:`Host` to add your own behaviour and pass the class as
``Broker(..., host_class=MyHost)``. ``setup()`` and ``teardown()`` take no
arguments; the ``Broker`` context manager calls them after checkout and
before checkin. A subclass that defines ``__init__`` must accept
``**kwargs`` and call ``super().__init__(**kwargs)``.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Dict, List, Optional, Union

from . import _rpc
from .helpers import Result


class Session:
    """A host's session in ``broker rpc``: one warm connection (SSH, or the
    Docker engine's exec API) kept for the life of the process."""

    def __init__(self, host: "Host") -> None:
        self._host = host

    def run(self, command: str, timeout: Optional[float] = None, stdin: Optional[str] = None,
            env: Optional[Dict[str, str]] = None) -> Result:
        """Runs a shell command line on the host. ``timeout`` is in seconds;
        a command that outlives it is stopped and its Result has status 124
        and ``timed_out`` set."""
        params: Dict[str, Any] = {"host": self._host.id, "command": command}
        if timeout:
            params["timeout"] = float(timeout)
        if stdin is not None:
            params["stdin"] = stdin
        if env:
            params["env"] = dict(env)
        r = _rpc.call("run", params)
        return Result(status=r["status"], stdout=r["stdout"], stderr=r["stderr"],
                      timed_out=r.get("timed_out", False), duration=r.get("duration", 0.0))

    def sftp_write(self, source: Union[str, List[str]], destination: Optional[str] = None) -> None:
        """Copies local files (or trees) to the host, keeping modes.

        With one source, ``destination`` is the remote path (default: the
        source's name in the login directory, as the Python broker's). With
        several, it is a remote directory.
        """
        sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        for src in sources:
            src = os.fspath(src)
            if destination is None:
                dest = os.path.basename(src.rstrip("/"))
            elif len(sources) > 1 or destination.endswith("/"):
                dest = destination.rstrip("/") + "/" + os.path.basename(src.rstrip("/"))
            else:
                dest = destination
            _rpc.call("upload", {"host": self._host.id, "local": os.path.abspath(src), "remote": dest})

    def sftp_read(self, source: str, destination: Optional[str] = None, return_data: bool = False) -> Optional[bytes]:
        """Copies a remote file (or tree) to ``destination`` (default: its
        name in the current directory); with ``return_data`` returns the
        file's bytes instead."""
        if return_data:
            return self.read_file(source)
        dest = destination or os.path.basename(source.rstrip("/"))
        _rpc.call("download", {"host": self._host.id, "remote": source, "local": os.path.abspath(dest)})
        return None

    def read_file(self, path: str) -> bytes:
        """Returns a remote file's bytes."""
        r = _rpc.call("read_file", {"host": self._host.id, "path": path})
        return base64.b64decode(r["data"])

    def write_file(self, path: str, data: Union[str, bytes], mode: int = 0o644) -> None:
        """Writes data (text is encoded as UTF-8) to a remote file whose
        directory exists."""
        if isinstance(data, str):
            data = data.encode()
        _rpc.call("write_file", {"host": self._host.id, "path": path, "data": base64.b64encode(data).decode(), "mode": mode})

    def close(self) -> None:
        """Closes the connection; the next command opens another."""
        _rpc.call("close", {"host": self._host.id})


class Host:
    """A host broker checked out.

    Attributes: ``id`` (broker's id, as ``broker checkin`` takes),
    ``hostname``, ``name``, ``ip``, ``provider`` ("TYPE.INSTANCE"),
    ``environment``, ``labels``, ``facts``, ``lease`` (RFC 3339 or None),
    and the rest of the record under their own names.
    """

    def __init__(self, hostname: Optional[str] = None, name: Optional[str] = None, **kwargs: Any) -> None:
        self.hostname = hostname
        self.name = name
        self.id: str = kwargs.pop("id", "")
        self.ip: Optional[str] = kwargs.pop("ip", None)
        self.provider: Optional[str] = kwargs.pop("provider", None)
        self.environment: Optional[str] = kwargs.pop("environment", None)
        self.labels: Dict[str, str] = kwargs.pop("labels", None) or {}
        self.facts: Dict[str, Any] = kwargs.pop("facts", None) or {}
        self.lease: Optional[str] = kwargs.pop("lease", None)
        for k, v in kwargs.items():
            setattr(self, k, v)
        self._session: Optional[Session] = None

    @classmethod
    def _from_record(cls, rec: Dict[str, Any], host_class: Optional[type] = None) -> "Host":
        klass = host_class or cls
        return klass(**dict(rec))

    def _update(self, rec: Dict[str, Any]) -> None:
        self.lease = rec.get("lease")
        self.labels = rec.get("labels") or self.labels

    @property
    def session(self) -> Session:
        """The host's session (sftp_write, sftp_read, run, …)."""
        if self._session is None:
            self._session = Session(self)
        return self._session

    def execute(self, command: str, timeout: Optional[float] = None, stdin: Optional[str] = None) -> Result:
        """Runs a shell command line on the host: ``Result(status, stdout, stderr)``."""
        return self.session.run(command, timeout=timeout, stdin=stdin)

    def setup(self) -> None:
        """Called by the Broker context manager after checkout; override it."""

    def teardown(self) -> None:
        """Called by the Broker context manager before checkin; override it."""

    def close(self) -> None:
        """Closes the host's connection (the host stays checked out)."""
        self.session.close()

    def to_dict(self) -> Dict[str, Any]:
        """The host's public attributes."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(hostname={self.hostname!r}, name={self.name!r}, id={self.id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Host) and bool(self.id) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

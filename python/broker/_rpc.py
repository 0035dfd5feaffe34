"""The ``broker rpc`` child process and the JSON-RPC calls made to it.

One child serves the whole Python process (every ``Broker`` and ``Host``
shares it, and with it one warm connection per host). It is started on the
first call, from ``$BROKER_BINARY`` or ``broker`` on ``PATH``, in a session
of its own so that a Ctrl-C aimed at the test run does not kill it before
the hosts are checked in. It ends when this process closes its stdin: at
exit, or when the process dies however it dies; it checks nothing in on its
own, so hosts a killed run held stay in ``broker inventory``.

Calls are thread-safe and may be concurrent: each waits for the response
with its own id.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import subprocess
import threading
from typing import Any, Dict, List, Optional

from .exceptions import BrokerError, HostUnreachable, RPCUnavailable, UnknownHost

_KINDS = {"unreachable": HostUnreachable, "unknown_host": UnknownHost}


def binary() -> str:
    """The broker binary: ``$BROKER_BINARY``, else ``broker`` on ``PATH``."""
    path = os.environ.get("BROKER_BINARY") or shutil.which("broker")
    if not path:
        raise RPCUnavailable(
            "no broker binary: BROKER_BINARY is not set and there is no broker on PATH",
            kind="no_binary",
            hint="build it (make build, then bin/broker) and put it on PATH, or set BROKER_BINARY",
        )
    return path


class _Pending:
    __slots__ = ("event", "response")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.response: Optional[Dict[str, Any]] = None


class Client:
    """One ``broker rpc`` child and the calls in flight to it."""

    def __init__(self, args: Optional[List[str]] = None) -> None:
        cmd = [binary(), "rpc"] + list(args or [])
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as err:
            raise RPCUnavailable(f"start {cmd[0]} rpc: {err}", kind="no_binary", hint="set BROKER_BINARY to broker's path") from err
        self.pid = self._proc.pid
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: Dict[int, _Pending] = {}
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="broker-rpc-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        out = self._proc.stdout
        assert out is not None
        for line in iter(out.readline, b""):
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                p = self._pending.pop(msg.get("id"), None)
            if p is not None:
                p.response = msg
                p.event.set()
        # The child ended: nobody will answer the calls left.
        with self._lock:
            self._closed = True
            left = list(self._pending.values())
            self._pending.clear()
        for p in left:
            p.event.set()

    def call(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        """Calls method and returns its result, or raises BrokerError."""
        p = _Pending()
        with self._lock:
            if self._closed:
                raise RPCUnavailable("broker rpc has ended", kind="ended", hint=self._exit_hint())
            rid = next(self._ids)
            self._pending[rid] = p
        line = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}, separators=(",", ":"))
        try:
            with self._write_lock:
                assert self._proc.stdin is not None
                self._proc.stdin.write(line.encode() + b"\n")
                self._proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError) as err:
            with self._lock:
                self._pending.pop(rid, None)
            raise RPCUnavailable(f"broker rpc has ended: {err}", kind="ended", hint=self._exit_hint()) from err
        try:
            p.event.wait()
        except BaseException:
            # Interrupted (Ctrl-C) while broker checks hosts out: they
            # would be made with nobody to check them in. A thread that
            # is not a daemon (the interpreter waits for it at exit) waits
            # for them and checks them in.
            if method == "checkout":
                threading.Thread(target=self._undo_checkout, args=(p,), name="broker-undo-checkout").start()
            raise
        msg = p.response
        if msg is None:
            raise RPCUnavailable(f"broker rpc ended before answering {method}", kind="ended", hint=self._exit_hint())
        err = msg.get("error")
        if err:
            data = err.get("data") or {}
            kind = data.get("kind", "failed")
            cls = _KINDS.get(kind, BrokerError)
            raise cls(err.get("message", "error"), code=err.get("code", -32000), kind=kind, hint=data.get("hint") or None)
        return msg.get("result")

    def _undo_checkout(self, p: _Pending) -> None:
        p.event.wait()
        hosts = ((p.response or {}).get("result") or {}).get("hosts") or []
        if hosts:
            try:
                self.call("checkin", {"hosts": [h["id"] for h in hosts]})
            except BrokerError:
                pass  # they stay in the inventory, for broker checkin or reap

    def _exit_hint(self) -> str:
        code = self._proc.poll()
        if code is None:
            return "its stdout closed; see broker's log (broker.log in the broker directory)"
        return f"it exited with status {code}; see its stderr and broker's log"

    def close(self) -> None:
        """Closes the child's stdin and waits for it: calls under way are
        answered first; nothing is checked in."""
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait()
        except Exception:
            pass


_client: Optional[Client] = None
_client_pid: Optional[int] = None
_client_lock = threading.Lock()


def client() -> Client:
    """The process's shared client, started on first use (and again in a
    forked child, which must not share its parent's pipes)."""
    global _client, _client_pid
    with _client_lock:
        if _client is None or _client_pid != os.getpid() or _client._closed:
            _client = Client()
            _client_pid = os.getpid()
        return _client


def call(method: str, params: Optional[Dict[str, Any]] = None) -> Any:
    """Calls method on the shared client."""
    return client().call(method, params)


def shutdown() -> None:
    """Ends the shared client (at exit); hosts stay checked out."""
    global _client
    with _client_lock:
        c, _client = _client, None
    if c is not None and _client_pid == os.getpid():
        c.close()


atexit.register(shutdown)

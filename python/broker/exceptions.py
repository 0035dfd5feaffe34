"""Errors raised by the broker package."""

from __future__ import annotations

from typing import Optional


class BrokerError(Exception):
    """An operation broker refused or could not finish.

    ``code`` is the JSON-RPC error code of ``broker rpc`` (see the README's
    "The rpc protocol"), ``kind`` its name (``failed``, ``unknown_host``,
    ``unreachable``, ``invalid_params``, …) and ``hint`` what to do about
    it, when broker knows.
    """

    def __init__(self, message: str, code: int = -32000, kind: str = "failed", hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.kind = kind
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class HostUnreachable(BrokerError):
    """The host could not be reached, or the connection was lost before the
    command's end was seen (``kind == "unreachable"``)."""


class UnknownHost(BrokerError):
    """No host with that id is recorded: it was checked in (``kind == "unknown_host"``)."""


class RPCUnavailable(BrokerError):
    """``broker rpc`` could not be started, or ended."""

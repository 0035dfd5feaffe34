"""Small value types: the result of a command."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """A finished command: its exit ``status``, ``stdout`` and ``stderr``.

    A command stopped by its timeout has ``status`` 124 and ``timed_out``
    set; ``duration`` is in seconds.
    """

    status: int
    stdout: str
    stderr: str
    timed_out: bool = False
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.status == 0

    def __str__(self) -> str:
        parts = [f"status {self.status}" + (" (timed out)" if self.timed_out else "")]
        for name, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text:
                parts.append(f"{name}:\n{text.rstrip()}")
        return "\n".join(parts)

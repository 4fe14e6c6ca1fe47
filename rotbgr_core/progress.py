"""Progress reporting and cancellation, as small protocols the core accepts.

Core functions never know about Qt or terminals: the CLI passes a stderr bar,
the app passes an object that emits signals, tests pass recorders.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class ProgressReporter(Protocol):
    """Receives progress from long-running core work."""

    def begin(self, total: int | None, description: str) -> None:
        """Work starts; ``total`` is the item count when known."""

    def advance(self, done: int, message: str = "") -> None:
        """``done`` items are finished so far."""

    def end(self) -> None:
        """Work is over (finished, failed or cancelled)."""


class CancelToken(Protocol):
    """Lets a caller stop a generator between items."""

    def is_cancelled(self) -> bool:
        """Whether the work should stop as soon as possible."""


class NullProgress:
    """A reporter that ignores everything."""

    def begin(self, total: int | None, description: str) -> None:
        """Ignore the start."""

    def advance(self, done: int, message: str = "") -> None:
        """Ignore an advance."""

    def end(self) -> None:
        """Ignore the end."""


class StderrProgress:
    """A one-line progress counter on a terminal stream (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, min_interval: float = 0.5) -> None:
        """Write to ``stream`` at most every ``min_interval`` seconds."""
        self._stream = stream if stream is not None else sys.stderr
        self._min_interval = min_interval
        self._total: int | None = None
        self._description = ""
        self._start = 0.0
        self._last = 0.0
        self._done = 0
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())

    def begin(self, total: int | None, description: str) -> None:
        """Remember the total and the start time."""
        self._total = total
        self._description = description
        self._start = self._last = time.monotonic()

    def advance(self, done: int, message: str = "") -> None:
        """Print the count and rate when enough time has passed."""
        self._done = done
        now = time.monotonic()
        if self._tty and now - self._last >= self._min_interval:
            self._last = now
            self._stream.write("\r" + self._line(now))
            self._stream.flush()

    def end(self) -> None:
        """Print the final count."""
        if self._tty:
            self._stream.write("\r" + self._line(time.monotonic()) + "\n")
            self._stream.flush()

    def _line(self, now: float) -> str:
        elapsed = max(now - self._start, 1e-9)
        total = f"/{self._total}" if self._total is not None else ""
        return f"{self._description}: {self._done}{total} ({self._done / elapsed:.1f}/s)"

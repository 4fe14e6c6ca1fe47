"""Background work: core generators run in QThreadPool workers, results come back as signals.

A :class:`GeneratorWorker` runs a generator function in a pool thread (like
superqt's GeneratorWorker): every yielded value is emitted to the main thread,
and a :class:`CancelFlag` (the core's ``CancelToken``) stops it between values.
:class:`Batcher` collects values arriving from a worker and hands them to the
main thread in one call per event-loop turn, so a burst of results never floods
the event loop.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

GeneratorFn = Callable[["CancelFlag"], Iterator[Any]]
#: Nice value of worker threads: the UI thread comes first when both want the CPU.
BACKGROUND_NICE = 10


class CancelFlag:
    """A thread-safe cancellation flag; satisfies ``rotbgr_core.progress.CancelToken``."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop as soon as it can."""
        self._event.set()

    def is_cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()


class WorkerSignals(QObject):
    """Signals of a worker; they live in the main thread, so slots run there."""

    yielded = Signal(object)
    failed = Signal(str, str)
    finished = Signal()


def forget_foreign_thread() -> None:
    """Drop Python's record of the current Qt-owned thread.

    Python (before 3.13) registers a ``_DummyThread`` for every foreign thread that
    runs Python code and never removes it, so pool threads would look alive
    forever to ``threading.enumerate()``.  Called when a worker ends.
    """
    current = threading.current_thread()
    if isinstance(current, threading._DummyThread):  # noqa: SLF001 - see docstring
        with threading._active_limbo_lock:  # noqa: SLF001
            threading._active.pop(current.ident, None)  # type: ignore[arg-type]  # noqa: SLF001


def lower_thread_priority(nice: int = BACKGROUND_NICE) -> None:
    """Give the current (worker) thread a lower CPU priority than the UI thread (Linux: per-thread nice)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError:
        pass


class GeneratorWorker(QRunnable):
    """Runs ``fn(cancel_flag)`` in a pool thread and emits each value it yields."""

    def __init__(self, fn: GeneratorFn, name: str = "worker") -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.name = name
        self.cancel_flag = CancelFlag()
        self.signals = WorkerSignals()
        self.done = threading.Event()

    def cancel(self) -> None:
        """Stop between values."""
        self.cancel_flag.cancel()

    def run(self) -> None:
        """Run the generator to its end, its failure or its cancellation."""
        generator: Iterator[Any] | None = None
        lower_thread_priority()
        try:
            generator = self.fn(self.cancel_flag)
            for value in generator:
                self.signals.yielded.emit(value)  # work already done is always reported
                if self.cancel_flag.is_cancelled():
                    break
        except Exception as exc:  # noqa: BLE001 - reported to the UI, never lost
            self.signals.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            close = getattr(generator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001, S110 - closing must not mask the result
                    pass
            self.done.set()
            self.signals.finished.emit()
            forget_foreign_thread()


class Pool:
    """A named QThreadPool that keeps its workers alive until they finish, and can drain."""

    def __init__(self, name: str, threads: int) -> None:
        """A pool of at most ``threads`` threads."""
        self.name = name
        self.pool = QThreadPool()
        self.pool.setObjectName(name)
        self.pool.setMaxThreadCount(max(1, threads))
        self.pool.setExpiryTimeout(2000)
        self._workers: set[QRunnable] = set()

    def start(self, worker: GeneratorWorker | QRunnable, priority: int = 0) -> None:
        """Queue ``worker``; it is kept referenced until it ends."""
        self._workers.add(worker)
        if isinstance(worker, GeneratorWorker):
            worker.signals.finished.connect(lambda w=worker: self._workers.discard(w))
        self.pool.start(worker, priority)

    def track(self, worker: QRunnable) -> None:
        """Keep a reference to a worker started elsewhere until :meth:`release`."""
        self._workers.add(worker)

    def release(self, worker: QRunnable) -> None:
        """Forget a tracked worker."""
        self._workers.discard(worker)

    @property
    def busy(self) -> bool:
        """Whether any worker is queued or running."""
        return self.pool.activeThreadCount() > 0 or any(
            isinstance(w, GeneratorWorker) and not w.done.is_set() for w in self._workers
        )

    def cancel_all(self) -> None:
        """Drop queued workers and ask running ones to stop."""
        self.pool.clear()
        for worker in list(self._workers):
            cancel = getattr(worker, "cancel", None)
            if cancel is not None:
                cancel()

    def drain(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything and wait for running workers; True if all ended in time."""
        self.cancel_all()
        return bool(self.pool.waitForDone(timeout_ms))


class Batcher(QObject):
    """Collects values from any thread's signals and delivers them in batches on the main thread."""

    def __init__(self, deliver: Callable[[list[Any]], None], interval_ms: int = 15, parent: QObject | None = None):
        """Call ``deliver(values)`` at most every ``interval_ms`` while values keep coming."""
        super().__init__(parent)
        self._deliver = deliver
        self._pending: list[Any] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)

    def add(self, value: Any) -> None:
        """Queue one value (call from a slot in the main thread)."""
        self._pending.append(value)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Deliver what is queued now."""
        self._timer.stop()
        if self._pending:
            values, self._pending = self._pending, []
            self._deliver(values)

    def clear(self) -> None:
        """Drop what is queued."""
        self._timer.stop()
        self._pending = []

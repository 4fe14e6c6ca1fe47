"""Background inference: one worker per device runs the core pipeline over a folder's items.

The items are handed to :func:`rotbgr_core.pipeline.predict_items` through a
:class:`PriorityFeeder`, a thread-safe iterator that serves what the user is
looking at (visible or selected items) before the rest, and can be re-prioritised
while the model runs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.workers import Batcher, CancelFlag, GeneratorWorker, Pool
from rotbgr_core.imageio import InputItem
from rotbgr_core.pipeline import predict_items
from rotbgr_core.predictor import Predictor, load_predictor, set_classical_threads
from rotbgr_core.types import Failure, Prediction

PredictorFactory = Callable[[str], Predictor]


def default_factory(weights: str = "") -> PredictorFactory:
    """A factory that loads the shipped model (or ``weights``) on a device."""

    def factory(device: str) -> Predictor:
        predictor = load_predictor(weights or None, device)
        # The window's event loop needs its share of the GIL more than prediction needs a second classical thread.
        set_classical_threads(predictor, 1)
        return predictor

    return factory


def describe_device(device: str) -> str:
    """A short human name for a torch device, e.g. ``CUDA · NVIDIA H100`` or ``CPU``."""
    if device.startswith("cuda"):
        try:
            import torch

            return f"CUDA · {torch.cuda.get_device_name(torch.device(device))}"
        except Exception:  # noqa: BLE001 - only a label
            return "CUDA"
    return "CPU"


class PriorityFeeder:
    """The items still to predict, served priority-first; safe to use from two threads.

    The pipeline pulls from it in the worker thread; the main thread calls
    :meth:`prioritize` when the view scrolls or the selection changes.
    """

    def __init__(self, items: Iterable[tuple[str, InputItem]]) -> None:
        """Serve ``(key, item)`` pairs, by default in the given order."""
        self._lock = threading.Lock()
        self._pending: dict[str, InputItem] = dict(items)
        self._order: deque[str] = deque(self._pending)
        self._priority: deque[str] = deque()
        self.handed: deque[str] = deque()
        self.total = len(self._pending)

    def __iter__(self) -> Iterator[InputItem]:
        return self

    def __next__(self) -> InputItem:
        with self._lock:
            for queue in (self._priority, self._order):
                while queue:
                    key = queue.popleft()
                    item = self._pending.pop(key, None)
                    if item is not None:
                        self.handed.append(key)
                        return item
            raise StopIteration

    def prioritize(self, keys: Sequence[str]) -> None:
        """Serve these keys next (those still pending), in this order."""
        with self._lock:
            self._priority = deque(k for k in keys if k in self._pending)

    def remaining(self) -> int:
        """How many items have not been handed out."""
        with self._lock:
            return len(self._pending)


class InferenceService(QObject):
    """Runs predictions for a folder in the background, one worker on the chosen device."""

    results = Signal(list)
    """A list of ``(key, Prediction | Failure)`` for the current run."""
    device_ready = Signal(str, str)
    """The predictor's name and a human device label, once it is loaded."""
    progress = Signal(int, int)
    """Items done and total of the current run."""
    started = Signal()
    finished = Signal(bool)
    """The run ended; True when it was cancelled."""
    failed = Signal(str)
    """The predictor could not be loaded or crashed as a whole."""

    def __init__(self, factory: PredictorFactory, device: str = "auto", batch_size: int = 8, parent: Any = None):
        """Predict with ``factory(device)``, ``batch_size`` images at a time."""
        super().__init__(parent)
        self.factory = factory
        self.device = device
        self.batch_size = batch_size
        self._pool = Pool("inference", 1)
        self._predictors: dict[str, Predictor] = {}
        self._predictor_lock = threading.Lock()
        self._worker: GeneratorWorker | None = None
        self._feeder: PriorityFeeder | None = None
        self._run_id = 0
        self._done = 0
        self._total = 0
        self._batcher = Batcher(self._deliver, 20, self)
        self.predictor_name = ""
        self.device_label = ""

    # -- control (main thread) --------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._worker is not None

    def start(self, items: Sequence[tuple[str, InputItem]]) -> None:
        """Predict ``items`` (cancels a run in progress)."""
        self.cancel()
        self._run_id += 1
        run_id = self._run_id
        self._done = 0
        self._total = len(items)
        if not items:
            self.finished.emit(False)
            return
        feeder = PriorityFeeder(items)
        self._feeder = feeder
        device, batch_size = self.device, self.batch_size

        def work(cancel: CancelFlag) -> Iterator[tuple[int, Any]]:
            predictor = self._predictor(device)
            yield run_id, ("ready", predictor.name, describe_device(predictor.device))
            for result in predict_items(feeder, predictor, batch_size, cancel=cancel, total=feeder.total):
                yield run_id, (feeder.handed.popleft(), result)

        worker = GeneratorWorker(work, "inference")
        worker.signals.yielded.connect(self._on_value)
        worker.signals.failed.connect(lambda message, _tb, r=run_id: self._on_failed(r, message))
        worker.signals.finished.connect(lambda w=worker, r=run_id: self._on_finished(w, r))
        self._worker = worker
        self.started.emit()
        self.progress.emit(0, self._total)
        self._pool.start(worker)

    def prioritize(self, keys: Sequence[str]) -> None:
        """Predict these next (visible or selected items)."""
        if self._feeder is not None:
            self._feeder.prioritize(keys)

    def cancel(self) -> None:
        """Stop the current run between batches; its late results are dropped."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
            self._feeder = None
            self._run_id += 1
            self._batcher.clear()
            self.finished.emit(True)

    def shutdown(self, timeout_ms: int = 15_000) -> bool:
        """Cancel and wait for the worker thread to end."""
        self.cancel()
        return self._pool.drain(timeout_ms)

    def wait(self, timeout_ms: int = 15_000) -> bool:
        """Wait for the worker without cancelling it."""
        return bool(self._pool.pool.waitForDone(timeout_ms))

    # -- worker side ------------------------------------------------------------------

    def _predictor(self, device: str) -> Predictor:
        with self._predictor_lock:
            predictor = self._predictors.get(device)
            if predictor is None:
                predictor = self.factory(device)
                self._predictors[device] = predictor
            return predictor

    def reset_predictors(self) -> None:
        """Forget loaded predictors (after the device or the weights changed)."""
        with self._predictor_lock:
            self._predictors.clear()

    # -- results (main thread) -----------------------------------------------------------

    def _on_value(self, value: tuple[int, Any]) -> None:
        run_id, payload = value
        if run_id != self._run_id:
            return
        if payload[0] == "ready" and len(payload) == 3:
            _, name, label = payload
            self.predictor_name, self.device_label = name, label
            self.device_ready.emit(name, label)
            return
        self._batcher.add(payload)

    def _deliver(self, results: list[tuple[str, Prediction | Failure]]) -> None:
        self._done += len(results)
        self.results.emit(results)
        self.progress.emit(self._done, self._total)

    def _on_failed(self, run_id: int, message: str) -> None:
        if run_id == self._run_id:
            self.failed.emit(message)

    def _on_finished(self, worker: GeneratorWorker, run_id: int) -> None:
        if run_id != self._run_id or worker is not self._worker:
            return
        self._batcher.flush()
        self._worker = None
        self._feeder = None
        self.finished.emit(False)


def rate_text(done: int, total: int, elapsed: float) -> str:
    """``"640/1000 · 42/s · 9 s left"``: count, rate and time left."""
    rate = done / elapsed if elapsed > 0 else 0.0
    text = f"{done:,}/{total:,}"
    if rate > 0 and done:
        text += f" · {rate:.1f}/s" if rate < 10 else f" · {rate:.0f}/s"
        left = (total - done) / rate
        text += f" · {format_duration(left)} left"
    return text


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 5 s"``, ``"1 h 02 min"``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class RateMeter:
    """Measures a rate from progress counts (for progress labels)."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def restart(self) -> None:
        """Start timing now."""
        self.start = time.monotonic()

    def text(self, done: int, total: int) -> str:
        """The progress label for ``done`` of ``total``."""
        return rate_text(done, total, time.monotonic() - self.start)

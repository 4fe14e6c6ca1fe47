"""Batch prediction (:mod:`rotbgr_core.pipeline`): two batches in flight, in order, cancellable."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from rotbgr_core.imageio import InputItem
from rotbgr_core.pipeline import default_concurrent_batches, predict_items
from rotbgr_core.types import Estimate, Prediction
from tests.core.helpers import photo


class _CountingPredictor:
    """Answers each image's width as its angle, and records how many batches it was given at once."""

    name = "counting"
    device = "cpu"

    def __init__(self, meet: int = 1) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self.most_at_once = 0
        #: The first ``meet`` calls wait for each other: they pass only if that many batches run at once.
        self._meeting = threading.Barrier(meet) if meet > 1 else None

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        with self._lock:
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
        try:
            if self._meeting is not None:
                try:
                    self._meeting.wait(timeout=20)
                except threading.BrokenBarrierError:
                    pass
                self._meeting = None
            return [Estimate(float(image.width), False, 0.9, "photo") for image in images]
        finally:
            with self._lock:
                self._running -= 1


class _ConcurrentPredictor(_CountingPredictor):
    concurrent_safe = True


def _items(root: Path, count: int) -> list[InputItem]:
    items = []
    for index in range(count):
        path = root / f"{index:02d}.png"
        photo(20 + index, 16, seed=index).save(path)
        items.append(InputItem(str(path)))
    return items


def test_two_batches_run_at_once_and_results_keep_input_order(tmp_path: Path) -> None:
    items = _items(tmp_path, 9)
    predictor = _ConcurrentPredictor(meet=2)
    results = list(predict_items(items, predictor, batch_size=2, concurrent_batches=2))
    assert predictor.most_at_once == 2  # the first two batches met: both were in flight together
    assert all(isinstance(r, Prediction) for r in results)
    assert [r.path for r in results] == [item.file for item in items]
    assert [r.angle for r in results if isinstance(r, Prediction)] == [float(20 + i) for i in range(9)]


def test_a_predictor_that_does_not_say_it_is_concurrent_safe_gets_one_batch_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTBGR_CONCURRENT_BATCHES", "3")
    assert default_concurrent_batches() == 3
    items = _items(tmp_path, 7)
    predictor = _CountingPredictor()
    results = list(predict_items(items, predictor, batch_size=2))
    assert predictor.most_at_once == 1
    assert [r.angle for r in results if isinstance(r, Prediction)] == [float(20 + i) for i in range(7)]


class _CancelAfter:
    def __init__(self, seen: list[object], count: int) -> None:
        self.seen, self.count = seen, count

    def is_cancelled(self) -> bool:
        return len(self.seen) >= self.count


def test_cancel_with_batches_in_flight_stops_after_the_batch_being_yielded(tmp_path: Path) -> None:
    """Batches already in flight are finished and dropped; no thread is left (the conftest guard checks)."""
    items = _items(tmp_path, 12)
    seen: list[object] = []
    for result in predict_items(items, _ConcurrentPredictor(), batch_size=2, concurrent_batches=2,
                                cancel=_CancelAfter(seen, 1)):
        seen.append(result)
    assert len(seen) == 2  # the first batch, whole; the second was in flight and is dropped

"""Batch prediction with several batches at once: input order, cancellation, failures, the predictor's threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from rotbgr_core.imageio import InputItem
from rotbgr_core.pipeline import predict_items
from rotbgr_core.predictor import batch_streams, load_predictor, set_classical_threads, threads_per_stream
from rotbgr_core.types import Estimate, Failure, Prediction
from tests.core.helpers import FixedPredictor, photo


class WidthPredictor:
    """Answers each image's width as its angle; the first batch is slow; counts batches running at once."""

    name = "width"
    device = "cpu"

    def __init__(self, crash_width: int | None = None) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.batches = 0
        self.crash_width = crash_width

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        with self.lock:
            self.running += 1
            self.batches += 1
            first = self.batches == 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if first:
                time.sleep(0.3)  # the next batch finishes first: its results must still come second
            if any(image.width == self.crash_width for image in images):
                raise RuntimeError("this image breaks the model")
            return [Estimate(float(image.width), False, 0.9, "photo") for image in images]
        finally:
            with self.lock:
                self.running -= 1


class CancelAfter:
    """A cancel token set by the test."""

    def __init__(self) -> None:
        self.cancelled = False

    def is_cancelled(self) -> bool:
        return self.cancelled


def _images(folder: Path, count: int) -> list[InputItem]:
    """``count`` small PNGs whose widths (100, 101, ...) say which they are."""
    folder.mkdir()
    items = []
    for index in range(count):
        path = folder / f"{index:02d}.png"
        photo(100 + index, 60, seed=index).save(path)
        items.append(InputItem(str(path)))
    return items


def test_two_batches_at_once_keep_the_input_order(tmp_path: Path) -> None:
    items = _images(tmp_path / "in", 9)
    predictor = WidthPredictor()
    results = list(predict_items(items, predictor, batch_size=2, streams=2))
    assert [r.path for r in results] == [item.display_path for item in items]
    assert [r.angle for r in results if isinstance(r, Prediction)] == [float(100 + i) for i in range(9)]
    assert predictor.most_at_once == 2  # the second batch ran while the slow first one did


def test_one_stream_predicts_one_batch_at_a_time(tmp_path: Path) -> None:
    items = _images(tmp_path / "in", 6)
    predictor = WidthPredictor()
    results = list(predict_items(items, predictor, batch_size=2, streams=1))
    assert [r.angle for r in results if isinstance(r, Prediction)] == [float(100 + i) for i in range(6)]
    assert predictor.most_at_once == 1


def test_cancel_finishes_the_batches_in_hand_and_starts_no_other(tmp_path: Path) -> None:
    items = _images(tmp_path / "in", 20)
    predictor = WidthPredictor()
    cancel = CancelAfter()
    results = []
    for result in predict_items(items, predictor, batch_size=2, cancel=cancel, streams=2):
        results.append(result)
        cancel.cancelled = True
    # The first two batches were in hand when the first result came: both are whole, nothing else was predicted.
    assert [r.angle for r in results if isinstance(r, Prediction)] == [100.0, 101.0, 102.0, 103.0]
    assert predictor.batches == 2


def test_a_failing_image_fails_alone_while_other_batches_run(tmp_path: Path) -> None:
    items = _images(tmp_path / "in", 8)
    (tmp_path / "in" / "03.png").write_bytes(b"not an image")
    predictor = WidthPredictor(crash_width=105)
    results = list(predict_items(items, predictor, batch_size=3, streams=2))
    assert [r.path for r in results] == [item.display_path for item in items]
    failed = {Path(r.path).name: r.error for r in results if isinstance(r, Failure)}
    assert set(failed) == {"03.png", "05.png"}
    assert "prediction failed: this image breaks the model" in failed["05.png"]
    assert [r.angle for r in results if isinstance(r, Prediction)] == [100.0, 101.0, 102.0, 104.0, 106.0, 107.0]


def test_fakes_and_the_classical_predictor_take_one_stream() -> None:
    assert batch_streams(FixedPredictor()) == 1
    assert batch_streams(load_predictor("classical")) == 1


@pytest.mark.parametrize("threads", [1, 2])
def test_the_learned_predictor_runs_a_batch_on_one_thread_per_stream(tmp_path: Path, threads: int) -> None:
    predictor = load_predictor(None, "cpu")
    set_classical_threads(predictor, threads)
    assert batch_streams(predictor) == threads  # the app sets 1: one batch at a time, as before
    base = predictor.base  # type: ignore[attr-defined]
    seen: list[int | None] = []
    predict_images = predictor.predict_images

    def recording(images: Sequence[Image.Image]) -> list[Estimate]:
        seen.append(base.classical_threads)
        return predict_images(images)

    predictor.predict_images = recording  # type: ignore[method-assign]
    items = _images(tmp_path / "in", 3)
    results = list(predict_items(items, predictor, batch_size=1))
    assert all(isinstance(r, Prediction) for r in results)
    assert seen == [1, 1, 1]  # several streams: each batch on one thread; one stream: the setting was 1 already
    assert base.classical_threads == threads  # restored


def test_more_cores_give_each_batch_more_threads_not_more_batches_than_torch_leaves_room_for(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import torch

    predictor = load_predictor(None, "cpu")
    set_classical_threads(predictor, 4)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert batch_streams(predictor) == 4 and threads_per_stream(predictor, 4) == 1
        torch.set_num_threads(4)  # what learned.cpu_threads() gives on 8 cores
        assert batch_streams(predictor) == 2 and threads_per_stream(predictor, 2) == 2
    finally:
        torch.set_num_threads(previous)


def test_a_reader_that_leaves_early_stops_the_batches_and_their_threads(tmp_path: Path) -> None:
    """``rotbgr predict DIR | head``: closing the generator waits for the batches in hand and starts no other."""
    items = _images(tmp_path / "in", 20)
    predictor = WidthPredictor()
    results = predict_items(items, predictor, batch_size=2, streams=2)
    first = next(results)
    results.close()
    assert isinstance(first, Prediction) and first.angle == 100.0
    assert predictor.batches == 2
    assert predictor.running == 0  # both were finished before close() returned (the conftest guard checks threads)

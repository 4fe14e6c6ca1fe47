"""Fixtures for the app tests: a private app home, a qasync loop, fake predictors, generated image folders."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rotbgr_core.geometry import make_rotated
from rotbgr_core.types import Estimate


@pytest.fixture(autouse=True)
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own config/data/cache folders: nothing touches the real home."""
    home = tmp_path / "apphome"
    monkeypatch.setenv("ROTBGR_APP_HOME", str(home))
    return home


@pytest.fixture(scope="session", autouse=True)
def _qt_workarounds(qapp: object) -> None:
    """PySide6 6.12 on Python 3.11 leaks references to None; see app/qtcompat.py."""
    from app.qtcompat import protect_singletons

    protect_singletons()


@pytest.fixture(scope="session")
def _session_loop(qapp: object) -> Iterator[asyncio.AbstractEventLoop]:
    """One qasync loop for the whole run, marked as running while pytest-qt processes Qt events.

    It is never stopped between tests: ``loop.stop()`` calls ``QApplication.exit()``, after which
    pytest-qt's waits return at once.
    """
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.events._set_running_loop(None)  # noqa: SLF001 - undo already_running=True
    asyncio.set_event_loop(None)


@pytest.fixture
def aloop(_session_loop: asyncio.AbstractEventLoop) -> Iterator[asyncio.AbstractEventLoop]:
    """The qasync loop; tasks a test leaves behind are cancelled after it."""
    asyncio.events._set_running_loop(_session_loop)  # noqa: SLF001
    yield _session_loop
    for task in asyncio.all_tasks(_session_loop):
        task.cancel()
    asyncio.events._set_running_loop(None)  # noqa: SLF001 - other tests may run their own loops


class FixedPredictor:
    """Always the same answer (or per-image answers from ``answers``)."""

    def __init__(self, angle: float = 3.0, mirrored: bool = False, confidence: float = 0.9, kind: str = "document",
                 answers: Callable[[int], Estimate] | None = None) -> None:
        self.name = "fixed"
        self.device = "cpu"
        self.estimate = Estimate(angle, mirrored, confidence, kind)
        self.answers = answers
        self.calls = 0
        self.seen = 0

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        self.calls += 1
        out = []
        for _ in images:
            out.append(self.answers(self.seen) if self.answers else self.estimate)
            self.seen += 1
        return out


class CrashPredictor:
    """Fails on every image."""

    name = "crash"
    device = "cpu"

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        raise RuntimeError("model exploded")


class SlowPredictor(FixedPredictor):
    """Takes ``delay`` seconds per batch."""

    def __init__(self, delay: float = 0.3, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.delay = delay
        self.name = "slow"

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        time.sleep(self.delay)
        return super().predict_images(images)


def upright_pattern(seed: int, size: tuple[int, int] = (120, 90)) -> Image.Image:
    """A small asymmetric upright image (a marker in the top-left corner)."""
    rng = np.random.default_rng(seed)
    width, height = size
    array = np.full((height, width, 3), 235, np.uint8)
    array[height // 18:height // 4, width // 24:width // 3] = (200, 30, 30)
    for _ in range(6):
        y = int(rng.integers(height // 3, height - 4))
        array[y:y + 3, 10:width - 10] = rng.integers(0, 120, 3)
    return Image.fromarray(array, "RGB")


def make_folder(root: Path, count: int, angle_of: Callable[[int], float] = lambda i: 0.0,
                size: tuple[int, int] = (120, 90), fmt: str = "png") -> list[Path]:
    """``count`` small images named img_000.* … with known rotations."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        image = make_rotated(upright_pattern(i, size), angle_of(i), False, fill=(235, 235, 235))
        path = root / f"img_{i:03d}.{fmt}"
        image.save(path)
        paths.append(path)
    return paths


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A folder of 12 small PNGs."""
    folder = tmp_path / "photos"
    make_folder(folder, 12, lambda i: float(i % 4) * 1.5)
    return folder


@pytest.fixture
def make_window(qtbot: object, aloop: asyncio.AbstractEventLoop) -> Iterator[Callable[..., object]]:
    """Build main windows with a given predictor; closes them (joining every worker) after the test."""
    from app.mainwindow import MainWindow

    windows: list[MainWindow] = []

    def build(predictor: object | None = None, show: bool = True) -> MainWindow:
        factory = (lambda device: predictor) if predictor is not None else None
        window = MainWindow(predictor_factory=factory)
        qtbot.addWidget(window)  # type: ignore[attr-defined]
        window.resize(1200, 800)
        if show:
            window.show()
        windows.append(window)
        return window

    yield build
    for window in windows:
        window.close()
        window.shutdown()
    for _ in range(20):  # let queued signals from finished workers drain
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()
    assert not [t for t in threading.enumerate() if t.name.startswith("rotbgr-decode")]


def wait_idle(qtbot: object, window: object, timeout: int = 15_000) -> None:
    """Wait until the folder is listed and every prediction is in."""

    def idle() -> bool:
        w = window
        return (
            w.session is not None  # type: ignore[attr-defined]
            and w._scan_worker is None  # type: ignore[attr-defined]  # noqa: SLF001
            and (w._open_task is None or w._open_task.done())  # type: ignore[attr-defined]  # noqa: SLF001
            and not w.inference.running  # type: ignore[attr-defined]
            and all(i.predicted is not None or i.error is not None for i in w.session.items)  # type: ignore[attr-defined]
        )

    qtbot.waitUntil(idle, timeout=timeout)  # type: ignore[attr-defined]

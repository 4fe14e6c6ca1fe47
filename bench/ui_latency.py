"""Main-thread event-loop latency of the app while a 1,000-image folder is opened and predicted.

Runs the real main window offscreen (``QT_QPA_PLATFORM=offscreen``), opens a generated
folder of N mixed images, scrolls the grid like a user while thumbnails are made and
predictions stream in, and measures how late a 10 ms precise timer fires on the main
thread.  Prints max / p99 / p50 latency in ms; the target is under 50 ms.

    .venv/bin/python bench/ui_latency.py                 # fake model (2 ms per image)
    .venv/bin/python bench/ui_latency.py --real          # the shipped model, as the app loads it
    .venv/bin/python bench/ui_latency.py --count 300 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from rotbgr_core.geometry import make_rotated  # noqa: E402
from rotbgr_core.types import Estimate  # noqa: E402


class FakePredictor:
    """Answers instantly after ``delay`` seconds per image (a fast GPU's pace)."""

    name = "fake"
    device = "cpu"

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        time.sleep(self.delay * len(images))
        return [Estimate(1.5, False, 0.5 + (i % 10) / 20, "document") for i, _ in enumerate(images)]


def make_folder(folder: Path, count: int) -> Path:
    """``count`` mixed JPEG/PNG images (pages and photo-like), rotated, made once and reused."""
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.iterdir())) >= count:
        return folder
    rng = np.random.default_rng(0)
    for i in range(count):
        width, height = (850, 1100) if i % 2 else (1200, 800)
        page = Image.new("RGB", (width, height), (245, 245, 240))
        draw = ImageDraw.Draw(page)
        for y in range(80, height - 80, 28):
            draw.rectangle((70, y, width - 70 - int(rng.integers(0, 200)), y + 10), fill=(40, 40, 40))
        image = make_rotated(page, float(rng.uniform(-180, 180)), bool(i % 7 == 0), fill=(245, 245, 240))
        image.thumbnail((1000, 1000))
        image.save(folder / f"img_{i:04d}.{'jpg' if i % 3 else 'png'}", quality=80)
    return folder


def percentile(values: list[float], q: float) -> float:
    """The ``q`` percentile of ``values``."""
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def run(count: int, real: bool, delay: float, folder: Path) -> dict[str, float]:
    """Open the folder in the app, measure, and return the numbers."""
    import qasync
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from app import theme
    from app.mainwindow import MainWindow

    home = Path(tempfile.mkdtemp(prefix="rotbgr-bench-home-"))
    os.environ["ROTBGR_APP_HOME"] = str(home)
    app = QApplication.instance() or QApplication([])
    theme.apply_theme(app)  # type: ignore[arg-type]
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    if real:
        from app.inference import default_factory

        predictor = default_factory()("auto")  # what the app loads: load_predictor(), set up for a GUI
    else:
        predictor = FakePredictor(delay)
    window = MainWindow(predictor_factory=lambda device: predictor)
    window.resize(1400, 900)
    window.show()

    interval_ms = 10
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(max(0.0, (now - last[0]) * 1000.0 - interval_ms))
        stamps.append(now)
        last[0] = now

    stamps: list[float] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(interval_ms)
    probe.timeout.connect(tick)
    scroll = QTimer()
    scroll.setInterval(120)
    direction = [1]

    def scroll_grid() -> None:
        bar = window.grid.verticalScrollBar()
        if bar.value() >= bar.maximum():
            direction[0] = -1
        elif bar.value() <= bar.minimum():
            direction[0] = 1
        bar.setValue(bar.value() + direction[0] * 180)

    scroll.timeout.connect(scroll_grid)
    result: dict[str, float] = {}

    async def scenario() -> None:
        start = time.perf_counter()
        last[0] = time.perf_counter()
        probe.start()
        scroll.start()
        window.open_folder(str(folder))
        while True:
            await asyncio.sleep(0.25)
            session = window.session
            done = session is not None and len(session) >= count and not window.inference.running and all(
                i.predicted is not None or i.error is not None for i in session.items
            )
            if done:
                break
            if time.perf_counter() - start > 1800:
                raise TimeoutError("the folder was not processed in 30 minutes")
        elapsed = time.perf_counter() - start
        probe.stop()
        scroll.stop()
        result.update({
            "images": float(len(window.session or [])),
            "seconds": round(elapsed, 2),
            "images_per_s": round(len(window.session or []) / elapsed, 1),
            "max_ms": round(max(gaps), 1),
            "p99_ms": round(percentile(gaps, 99), 1),
            "p50_ms": round(percentile(gaps, 50), 2),
            "samples": float(len(gaps)),
            "worst_at_s": round(stamps[int(max(range(len(gaps)), key=gaps.__getitem__))] - start, 2),
        })
        window.close()

    with loop:
        loop.run_until_complete(scenario())
    window.shutdown()
    return result


def main() -> int:
    """Parse options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000, help="images in the folder (default 1000)")
    parser.add_argument("--real", action="store_true", help="use the real predictor (load_predictor())")
    parser.add_argument("--delay", type=float, default=0.002, help="fake model seconds per image (default 0.002)")
    parser.add_argument("--folder", type=Path, default=None, help="where to generate (reused between runs)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.gettempdir()) / f"rotbgr-bench-{args.count}"
    make_folder(folder, args.count)
    numbers = run(args.count, args.real, args.delay, folder)
    numbers["model"] = "real" if args.real else f"fake ({1000 * args.delay:g} ms/image)"  # type: ignore[assignment]
    if args.json:
        print(json.dumps(numbers))
    else:
        print(f"{int(numbers['images'])} images in {numbers['seconds']} s ({numbers['images_per_s']}/s), "
              f"model: {numbers['model']}")
        print(f"main-thread event-loop latency: max {numbers['max_ms']} ms, p99 {numbers['p99_ms']} ms, "
              f"median {numbers['p50_ms']} ms over {int(numbers['samples'])} samples (target < 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

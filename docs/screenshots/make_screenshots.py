"""Regenerate the screenshots in docs/screenshots/ (offscreen, with the real predictor on the sample folder).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_screenshots.py

Dialogs are separate windows offscreen, so they are composited over the dimmed main window,
as a window manager would show them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent
WORK = Path(tempfile.mkdtemp(prefix="rotbgr-shots-"))
os.environ["ROTBGR_APP_HOME"] = str(WORK / "home")

import qasync  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QPoint, QRect, Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from app import theme  # noqa: E402
from app.mainwindow import MainWindow  # noqa: E402
from app.model import ItemState, SortKey  # noqa: E402
from rotbgr_core.predictor import load_predictor  # noqa: E402

SIZE = (1440, 900)


def save(image: QImage, name: str) -> None:
    """Write a PNG in docs/screenshots/."""
    image.save(str(OUT / f"{name}.png"))
    print("wrote", OUT / f"{name}.png")


def composite(window: QWidget, dialog: QWidget) -> QImage:
    """The window, dimmed, with the dialog centred on it and a soft shadow."""
    base = window.grab().toImage().convertToFormat(QImage.Format.Format_ARGB32)
    front = dialog.grab().toImage()
    painter = QPainter(base)
    painter.fillRect(base.rect(), QColor(0, 0, 0, 110))
    x = (base.width() - front.width()) // 2
    y = max(40, (base.height() - front.height()) // 2 - 20)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for i in range(14, 0, -2):
        shadow = QPainterPath()
        shadow.addRoundedRect(x - i, y - i + 6, front.width() + 2 * i, front.height() + 2 * i, 12, 12)
        painter.fillPath(shadow, QColor(0, 0, 0, 12))
    painter.drawImage(QPoint(x, y), front)
    painter.setPen(QColor("#3a3f47"))
    painter.drawRect(QRect(x, y, front.width() - 1, front.height() - 1))
    painter.end()
    return base


async def wait_for(condition: object, timeout: float = 120.0) -> None:
    """Poll ``condition()`` on the event loop."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def idle(window: MainWindow) -> None:
    """Wait for listing, predictions and thumbnails."""
    await wait_for(lambda: window.session is not None and window._scan_worker is None  # noqa: SLF001
                   and not window.inference.running
                   and all(i.predicted is not None or i.error is not None for i in window.session.items))
    await asyncio.sleep(0.3)
    await wait_for(lambda: not window.thumbnails.busy)
    await asyncio.sleep(0.5)


async def scenario(window: MainWindow) -> None:
    """Walk through every screen."""
    recent_root = WORK / "Archive"
    for name in ("Parish records 1890–1899", "Harbour board minutes", "Family photos 2004"):
        (recent_root / name).mkdir(parents=True)
    for name in reversed(("Parish records 1890–1899", "Harbour board minutes", "Family photos 2004")):
        window._add_recent(str(recent_root / name))  # noqa: SLF001
    window._show_page(0)  # noqa: SLF001
    await asyncio.sleep(0.4)
    save(window.grab().toImage(), "welcome")

    sample = WORK / "Scans" / "sample"
    shutil.copytree(theme.SAMPLE_FOLDER, sample)
    await window.open_folder(str(sample))
    await idle(window)
    session = window.session
    assert session is not None
    window.actions.sort_confidence.trigger()
    keys = window.model.keys()
    by_name = {Path(k.split("#")[0]).name + ("#" + k.split("#")[1] if "#" in k else ""): k for k in keys}
    session.accept([by_name["01_minutes_skew.jpg"], by_name["08_invoice_skew.jpg"], by_name["04_bitonal_scan.tif"]])
    ledger = session.get(by_name["02_ledger_upside_down.png"])
    session.set_angle([ledger.key], -178.9)
    session.reject([by_name["11_screenshot.png"]])
    window.go_to_key(by_name["06_lake_tilted.jpg"])
    await asyncio.sleep(1.0)
    save(window.grab().toImage(), "grid")

    lake = session.get(by_name["06_lake_tilted.jpg"])
    session.set_angle([lake.key], 7.0)
    window.show_detail()
    window.actions.overlay.setChecked(True)
    await wait_for(lambda: window.previews.get(lake.key) is not None)
    await asyncio.sleep(1.0)
    save(window.grab().toImage(), "detail")

    window.help_overlay.toggle()
    await asyncio.sleep(0.3)
    save(window.grab().toImage(), "help")
    window.help_overlay.toggle()
    window._show_page(1)  # noqa: SLF001
    await asyncio.sleep(0.5)

    settings = window.show_settings()
    await asyncio.sleep(0.4)
    save(composite(window, settings), "settings")
    settings.reject()

    library = WORK / "Pictures" / "Holidays"
    library.mkdir(parents=True)
    upright = ROOT / "tests" / "resources" / "upright"
    for i in range(16):  # crops of the upright test pictures stand in for a photo library
        with Image.open(upright / ("astronaut.jpg", "chelsea.jpg", "rocket.jpg")[i % 3]) as picture:
            width, height = picture.size
            box = (i * width // 40, i * height // 50, width - i * width // 60, height - i * height // 70)
            picture.convert("RGB").crop(box).save(library / f"holiday_{i:02d}.jpg", quality=90)
    learn = window.show_learn()
    learn.folder_edit.setText(str(library))
    learn.steps.setValue(30)
    learn.start()
    await wait_for(lambda: not learn.running, timeout=600)
    await asyncio.sleep(0.3)
    save(composite(window, learn), "learn")
    learn.reject()

    batch = WORK / "Scans" / "batch"
    batch.mkdir()
    for i in range(12):
        for source in theme.SAMPLE_FOLDER.iterdir():
            shutil.copy(source, batch / f"{i:02d}_{source.name}")
    (batch / "00_damaged_scan.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 64)
    await window.open_folder(str(batch))
    await idle(window)
    window.session.accept([i.key for i in window.session.items if i.state == ItemState.PREDICTED])
    (batch / "07_09_receipt_tilted.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # damaged since
    window.model.set_view(sort=SortKey.NAME)
    dialog = window.show_export()
    assert dialog is not None
    dialog.output_edit.setText(str(WORK / "Corrected"))
    await asyncio.sleep(0.4)
    save(composite(window, dialog), "export")
    dialog.start()
    await wait_for(lambda: dialog.progress_bar.value() >= 0.45 * dialog.progress_bar.maximum())
    save(composite(window, dialog), "export_progress")
    await wait_for(lambda: dialog.summary is not None, timeout=600)
    await asyncio.sleep(0.3)
    save(composite(window, dialog), "export_done")
    dialog.accept()
    window.close()


def main() -> int:
    """Run the scenario."""
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    app.setApplicationName("RotBGR")
    theme.apply_theme(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(predictor_factory=lambda device: load_predictor(device="cpu"))
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, False)
    window.resize(*SIZE)
    window.show()
    with loop:
        loop.run_until_complete(scenario(window))
    window.shutdown()
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

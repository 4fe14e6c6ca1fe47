"""The main window with fake predictors: open, predict, review with the keyboard, undo, persist."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.model import ItemState, SortKey
from rotbgr_core.types import Estimate
from tests.app.conftest import CrashPredictor, FixedPredictor, SlowPredictor, make_folder, wait_idle


def _open(qtbot, window, folder: Path) -> None:
    window.open_folder(str(folder))
    wait_idle(qtbot, window)


def test_opening_a_folder_shows_every_thumbnail(qtbot, make_window, image_folder: Path) -> None:
    window = make_window(FixedPredictor())
    _open(qtbot, window, image_folder)
    assert window.model.rowCount() == 12
    assert window.page == 1
    keys = window.model.keys()
    assert keys == sorted(str(p) for p in image_folder.iterdir())
    qtbot.waitUntil(lambda: all(window.thumbnails.image(k) is not None for k in keys), timeout=10_000)
    thumb = window.thumbnails.image(keys[0])
    assert max(thumb.width(), thumb.height()) == 120  # small images are not enlarged
    cached = list((window.paths.thumbnails).rglob("*.jpg"))
    assert len(cached) == 12  # on disk, in the app's cache folder


def test_predictions_arrive_and_update_the_grid(qtbot, make_window, image_folder: Path) -> None:
    predictor = FixedPredictor(answers=lambda i: Estimate(float(i), False, 0.5 + i / 40, "photo"))
    window = make_window(predictor)
    changed: list[int] = []
    window.model.dataChanged.connect(lambda top, bottom, roles=(): changed.append(top.row()))
    _open(qtbot, window, image_folder)
    assert changed  # the grid heard about the predictions
    items = window.session.items
    assert all(i.state == ItemState.PREDICTED for i in items)
    assert sorted(i.predicted.angle for i in items) == [float(i) for i in range(12)]
    qtbot.waitUntil(lambda: "12 predicted" in window.counts_text(), timeout=2000)
    assert window.device_label.text() == "CPU · fixed"
    window.actions.sort_confidence.trigger()
    assert window.model.sort == SortKey.CONFIDENCE
    confidences = [window.model.item_at(r).confidence for r in range(window.model.rowCount())]
    assert confidences == sorted(confidences)


def test_visible_items_are_predicted_first(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    make_folder(folder, 40, size=(40, 30))
    predictor = SlowPredictor(delay=0.05)
    window = make_window(predictor)
    window.prefs.batch_size = 2
    window.open_folder(str(folder))
    qtbot.waitUntil(lambda: window.inference.running, timeout=5000)
    last = window.model.keys()[-1]
    window.go_to_key(last)
    qtbot.waitUntil(lambda: window.session.get(last).predicted is not None, timeout=5000)
    done = sum(1 for i in window.session.items if i.predicted is not None)
    assert done < 40  # the current item jumped the queue
    wait_idle(qtbot, window)


def test_review_with_the_keyboard_and_undo(qtbot, make_window, image_folder: Path) -> None:
    window = make_window(FixedPredictor(angle=3.0))
    _open(qtbot, window, image_folder)
    window.activateWindow()
    window.go_to_row(0)
    window.show_detail()
    assert window.page == 2
    first = window.current_item()
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert first.correction.angle == pytest.approx(3.1)
    assert window.detail.corrected.angle == pytest.approx(3.1)  # the preview follows
    assert window.detail.spin.value() == pytest.approx(3.1)
    window.actions.nudge_up_big.trigger()
    assert first.correction.angle == pytest.approx(4.1)
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert first.correction.mirrored and window.detail.corrected.mirrored
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not first.correction.mirrored
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert first.correction.angle == pytest.approx(3.0) and first.state == ItemState.PREDICTED
    assert window.detail.corrected.angle == pytest.approx(3.0)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert first.correction.angle == pytest.approx(4.1)  # both nudges were one step
    qtbot.keyClick(window, Qt.Key.Key_Return)  # accept and go to the next image
    assert first.state == ItemState.ACCEPTED
    second = window.current_item()
    assert second is not first
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert second.state == ItemState.REJECTED
    third = window.current_item()
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.current_item() is second
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.current_item() is third
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert third.correction.angle == pytest.approx(-87.0)
    qtbot.keyClick(window, Qt.Key.Key_Backspace)
    assert third.correction.angle == pytest.approx(3.0)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.page == 1
    qtbot.waitUntil(lambda: "1 accepted" in window.counts_text() and "1 rejected" in window.counts_text(), timeout=2000)


def test_spin_box_slider_and_level_line(qtbot, make_window, image_folder: Path) -> None:
    window = make_window(FixedPredictor(angle=0.0))
    _open(qtbot, window, image_folder)
    window.show_detail()
    item = window.current_item()
    window.detail.spin.setValue(12.34)
    assert item.correction.angle == pytest.approx(12.34)
    window.detail.slider.setValue(-250)  # -2.5 degrees within the current quarter turn
    assert item.correction.angle == pytest.approx(-2.5)
    window.detail.slider.setValue(-260)
    window.session.undo()  # the drag was one step
    assert item.correction.angle == pytest.approx(12.34)
    window.actions.line_h.trigger()
    assert window.detail.original.line_mode == "h"
    window.detail.original.draw_line_for_test(QPointF(10, 20), QPointF(110, 30))  # falls 10 px over 100
    assert item.correction.angle == pytest.approx(5.7106, abs=1e-3)
    assert not window.actions.line_h.isChecked()  # one line, then back to panning


def test_session_survives_closing_and_reopening(qtbot, make_window, image_folder: Path) -> None:
    predictor = FixedPredictor(angle=2.0)
    window = make_window(predictor)
    _open(qtbot, window, image_folder)
    keys = window.model.keys()
    window.session.nudge([keys[0]], 0.5)
    window.session.accept([keys[0]])
    window.session.reject([keys[1]])
    window.close()
    assert not list(image_folder.glob("*.json"))  # nothing beside the user's files

    again = FixedPredictor(angle=9.0)
    reopened = make_window(again)
    _open(qtbot, reopened, image_folder)
    first, second = reopened.session.get(keys[0]), reopened.session.get(keys[1])
    assert first.state == ItemState.ACCEPTED and first.correction.angle == pytest.approx(2.5)
    assert second.state == ItemState.REJECTED
    assert again.calls == 0  # predictions were restored too: no need to predict again


def test_decisions_are_saved_as_you_go(qtbot, make_window, image_folder: Path) -> None:
    window = make_window(FixedPredictor())
    _open(qtbot, window, image_folder)
    key = window.model.keys()[0]
    window.session.accept([key])
    path = window.store.path_for(str(image_folder))
    qtbot.waitUntil(lambda: path.exists() and '"accepted"' in path.read_text(), timeout=3000)


def test_a_crashing_model_marks_items_and_the_app_goes_on(qtbot, make_window, image_folder: Path) -> None:
    window = make_window(CrashPredictor())
    _open(qtbot, window, image_folder)
    assert all(i.state == ItemState.ERROR for i in window.session.items)
    assert "model exploded" in window.session.items[0].error
    window.go_to_row(0)
    window.show_detail()
    assert window.page == 2
    assert not window.detail.accept_button.isEnabled()


def test_closing_during_a_slow_run_stops_every_thread(qtbot, make_window, tmp_path: Path) -> None:
    import time

    folder = tmp_path / "slow"
    make_folder(folder, 30, size=(40, 30))
    window = make_window(SlowPredictor(delay=0.3))
    window.open_folder(str(folder))
    qtbot.waitUntil(lambda: window.inference.running, timeout=5000)
    start = time.monotonic()
    window.close()
    assert time.monotonic() - start < 3.0


def test_unreadable_files_and_pdf_pages_are_items(qtbot, make_window, tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "mixed"
    make_folder(folder, 2)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    pages = [Image.new("RGB", (80, 100), "white"), Image.new("RGB", (80, 100), "gray")]
    pages[0].save(folder / "doc.pdf", save_all=True, append_images=pages[1:])
    window = make_window(FixedPredictor())
    _open(qtbot, window, folder)
    keys = window.model.keys()
    assert f"{folder / 'doc.pdf'}#page=2" in keys and len(keys) == 5
    broken = window.session.get(str(folder / "broken.jpg"))
    assert broken.state == ItemState.ERROR and broken.error


def test_drop_a_file_opens_its_folder_and_selects_it(qtbot, make_window, image_folder: Path) -> None:
    window = make_window(FixedPredictor())
    mime = QMimeData()
    target = image_folder / "img_005.png"
    mime.setUrls([QUrl.fromLocalFile(str(target))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    wait_idle(qtbot, window)
    assert window.session.folder == str(image_folder)
    assert window.current_item().key == str(target)
    assert window.recent_folders()[0] == str(image_folder)


def test_help_overlay_lists_the_shortcuts(qtbot, make_window) -> None:
    window = make_window()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.help_overlay.isVisible()
    entries = window.help_overlay.entries()
    assert ("R", "Reject") in entries["Review"]
    assert any(keys.startswith("]") for keys, _ in entries["Adjust"])
    qtbot.keyClick(window.help_overlay, Qt.Key.Key_Escape)
    assert not window.help_overlay.isVisible()


def test_settings_apply_and_persist(qtbot, make_window, image_folder: Path) -> None:
    from app.settings import app_paths, load_preferences

    window = make_window(FixedPredictor(confidence=0.7))
    _open(qtbot, window, image_folder)
    dialog = window.show_settings()
    dialog.threshold.setValue(0.6)
    dialog.thumb.setValue(240)
    dialog.crop_photo.setCurrentIndex(dialog.crop_photo.findData("none"))
    dialog.accept()
    assert window.delegate.size == 240 and window.model.threshold == 0.6
    saved = load_preferences(app_paths())
    assert (saved.confidence_threshold, saved.thumbnail_size, saved.crop_photo) == (0.6, 240, "none")


def test_export_decisions_from_the_window(qtbot, make_window, image_folder: Path, tmp_path: Path) -> None:
    import json

    window = make_window(FixedPredictor())
    _open(qtbot, window, image_folder)
    window.session.accept(window.model.keys()[:3])
    path = window.export_decisions(str(tmp_path / "decisions.jsonl"))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 12
    assert sum(r["state"] == "accepted" for r in records) == 3
    assert set(records[0]) >= {"path", "angle", "mirrored", "confidence", "error", "state", "final_angle",
                               "final_mirrored"}


def test_detail_panes_zoom_and_pan_together(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    make_folder(folder, 2, lambda i: 20.0, size=(1600, 1200))
    window = make_window(FixedPredictor(angle=20.0, kind="photo"))
    _open(qtbot, window, folder)
    window.show_detail()
    qtbot.waitUntil(lambda: window.previews.get(window.current_item().key) is not None, timeout=10_000)
    detail = window.detail
    assert detail.original.zoom() == pytest.approx(detail.corrected.zoom())  # fit: same scale
    window.actions.zoom_100.trigger()
    assert detail.original.zoom() == pytest.approx(1.0) and detail.corrected.zoom() == pytest.approx(1.0)
    detail.original.centre_on_image_point(QPointF(700, 520))
    a, b = detail.original.image_point_at_centre(), detail.corrected.image_point_at_centre()
    assert abs(a.x() - b.x()) < 2 and abs(a.y() - b.y()) < 2  # the same image point under both centres
    window.actions.fit.trigger()
    assert detail.corrected.zoom() < 1.0


@pytest.mark.parametrize(("confidence", "shown"), [(0.9957, "99%"), (0.8499, "84%"), (1.0, "100%")])
def test_confidence_reads_rounded_down(qtbot, make_window, image_folder: Path, confidence: float, shown: str) -> None:
    """A calibrated 0.996 is not certainty, and a page below an 85% threshold must not read 85%."""
    from app.itemsmodel import tooltip

    window = make_window(FixedPredictor(confidence=confidence))
    _open(qtbot, window, image_folder)
    window.actions.view_detail.trigger()
    qtbot.waitUntil(lambda: window.detail.model_confidence.text() == shown, timeout=5_000)
    assert f"confidence {shown}" in tooltip(window.model.item_at(0))

"""Batch export: planning, writing (atomic, correct pixels), bad inputs, cancel, the dialog."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.export_adapter import ExportTask, export_tasks, make_layout
from app.exportplan import ExportSettings, PlanError, plan_tasks, select_items
from app.model import Item, ItemState, Session
from rotbgr_core.geometry import correct_image
from rotbgr_core.imageio import InputItem, load_full
from tests.app.conftest import FixedPredictor, make_folder, wait_idle


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _items(folder: Path, names: list[str]) -> list[Item]:
    return [Item(key=str(folder / name), file=str(folder / name)) for name in names]


def test_plan_keeps_session_order_and_crop_choices(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    items = _items(folder, ["a.jpg", "sub/a.jpg", "b.png"])
    items[1].kind = "photo"
    plan = plan_tasks(items, ExportSettings(tmp_path / "out", suffix="_fixed"), str(folder),
                      lambda kind: "inscribed" if kind == "photo" else "expand")
    assert [t.key for t in plan.tasks] == [i.key for i in items]
    assert [t.crop for t in plan.tasks] == ["expand", "inscribed", "expand"]
    assert plan.example("keep") == (tmp_path / "out" / "a_fixed.jpg").resolve()
    assert plan.example("png").name == "a_fixed.png"
    forced = plan_tasks(items, ExportSettings(tmp_path / "out", crop="none"), str(folder), lambda kind: "expand")
    assert {t.crop for t in forced.tasks} == {"none"}


def test_plan_tree_keeps_names_and_refuses_to_hit_inputs(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    items = _items(folder, ["a.jpg", "sub/b.tif"])
    plan = plan_tasks(items, ExportSettings(tmp_path / "out", naming="tree"), str(folder), lambda kind: "expand")
    assert plan.layout.folder_for(items[1].file) == (tmp_path / "out" / "sub").resolve()
    assert plan.layout.name_for(items[1].file, ".tif") == "b.tif"
    with pytest.raises(PlanError, match="would be the inputs"):
        plan_tasks(items, ExportSettings(folder, naming="tree"), str(folder), lambda kind: "expand")
    with pytest.raises(PlanError, match="add a suffix"):
        plan_tasks(items[:1], ExportSettings(folder, suffix=""), str(folder), lambda kind: "expand")
    with pytest.raises(PlanError, match="output folder"):
        plan_tasks(items, ExportSettings(Path()), str(folder), lambda kind: "expand")


def test_select_items_by_scope() -> None:
    session = Session("/f")
    session.add_items(Item(key=f"/f/{i}", file=f"/f/{i}") for i in range(5))
    from rotbgr_core.types import Failure, Prediction

    session.set_results([(f"/f/{i}", Prediction(f"/f/{i}", 1.0, False, c, "photo"))
                         for i, c in enumerate((0.9, 0.5, 0.95, 0.2))])
    session.set_results([("/f/4", Failure("/f/4", "bad"))])
    session.accept(["/f/1"])
    session.reject(["/f/2"])
    assert [i.key for i in select_items(session.items, "accepted")] == ["/f/1"]
    assert [i.key for i in select_items(session.items, "confidence", 0.8)] == ["/f/0", "/f/1"]  # reviewed counts
    assert [i.key for i in select_items(session.items, "selection", selection=["/f/3", "/f/4"])] == ["/f/3"]


def _task(source: Path, angle: float, mirrored: bool, crop: str = "inscribed") -> ExportTask:
    return ExportTask(str(source), InputItem(str(source)), angle, mirrored, crop)


def test_export_through_the_core_pixels_lossless_turns_and_no_replacing(tmp_path: Path) -> None:
    make_folder(tmp_path / "in", 1, size=(80, 60))
    source = tmp_path / "in" / "img_000.png"
    layout = make_layout(tmp_path / "out", "suffix", "_r", str(tmp_path / "in"))
    (result,) = export_tasks([_task(source, 90.0, True)], layout)
    assert result.ok and result.action == "lossless" and result.output == str(tmp_path / "out" / "img_000_r.png")
    expected = correct_image(load_full(str(source)), 90.0, True, "inscribed")
    assert np.array_equal(np.asarray(Image.open(result.output).convert("RGB")), np.asarray(expected.convert("RGB")))
    (again,) = export_tasks([_task(source, 7.5, False)], layout)
    assert again.action == "rotated" and again.output.endswith("img_000_r-1.png")  # never replaces a file
    expected = np.asarray(correct_image(load_full(str(source)), 7.5, False, "inscribed").convert("RGB"), float)
    written = np.asarray(Image.open(again.output).convert("RGB"), float)
    assert written.shape == expected.shape and np.abs(written - expected).mean() < 2.0
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary files left


def test_export_keeps_exif_and_resets_orientation(tmp_path: Path) -> None:
    image = Image.new("RGB", (64, 48), (120, 60, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    image.save(tmp_path / "cam.jpg", exif=exif.tobytes(), quality=95)
    layout = make_layout(tmp_path / "out", "suffix", "_r", str(tmp_path))
    (result,) = export_tasks([_task(tmp_path / "cam.jpg", 3.0, False)], layout, quality=90)
    assert result.ok
    written = Image.open(result.output).getexif()
    assert written[0x0112] == 1 and written[0x010F] == "TestCam"


def _export_dialog(qtbot, make_window, folder: Path, out: Path, predictor: object):
    window = make_window(predictor)
    window.open_folder(str(folder))
    wait_idle(qtbot, window)
    return window


def test_export_writes_correct_files_and_reports_bad_inputs(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    make_folder(folder, 6, size=(100, 80))
    window = _export_dialog(qtbot, make_window, folder, tmp_path / "out", FixedPredictor(angle=4.0, kind="photo"))
    keys = window.model.keys()
    window.session.accept(keys[:5])
    window.session.nudge([keys[0]], 1.0)  # adjusted after accepting: not accepted any more
    window.session.accept([keys[0]])
    (folder / "img_003.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage after a good signature")
    before = _digest(folder)
    dialog = window.show_export()
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.scope_accepted.setChecked(True)
    assert "5 images will be written" in dialog.plan_label.text()
    dialog.start()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=10_000)
    summary = dialog.summary
    assert summary.written == 4 and len(summary.failures) == 1
    assert summary.failures[0].key.endswith("img_003.png")
    assert dialog.pages.currentIndex() == 2 and dialog.failure_table.rowCount() == 1
    assert _digest(folder) == before  # inputs untouched
    out = tmp_path / "out"
    expected = correct_image(load_full(str(folder / "img_000.png")), 5.0, False, "inscribed")  # photo default crop
    assert np.array_equal(np.asarray(Image.open(out / "img_000_rotated.png")), np.asarray(expected))
    report = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    assert len(report) == 5
    failed = next(r for r in report if r["path"].endswith("img_003.png"))
    assert failed["action"] == "failed" and failed["output"] is None and failed["export_error"]
    ok = next(r for r in report if r["path"].endswith("img_000.png"))
    assert ok["final_angle"] == 5.0 and ok["angle"] == 4.0 and ok["state"] == "accepted"
    assert window.session.get(keys[0]).state == ItemState.EXPORTED
    dialog.save_failures(tmp_path / "problems.csv")
    assert "img_003.png" in (tmp_path / "problems.csv").read_text()
    dialog.accept()


def test_cancel_stops_within_a_second_and_leaves_no_partial_file(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    make_folder(folder, 40, size=(900, 700))
    window = _export_dialog(qtbot, make_window, folder, tmp_path / "out", FixedPredictor(angle=3.3))
    window.session.accept(window.model.keys())
    dialog = window.show_export()
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= 2, timeout=10_000)
    start = time.monotonic()
    dialog.cancel_export()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=2000)
    assert time.monotonic() - start < 1.0
    summary = dialog.summary
    assert summary.cancelled and 2 <= summary.written < 40
    out = tmp_path / "out"
    written = sorted(p for p in out.iterdir() if p.suffix == ".png")
    assert len(written) == summary.written
    assert not [p for p in out.iterdir() if p.name.startswith(".") or p.suffix == ".partial"]
    for path in written:
        Image.open(path).load()  # every file is complete
    assert "Cancelled" in dialog.summary_title.text()
    dialog.accept()

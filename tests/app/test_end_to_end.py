"""End to end with the real predictor (``load_predictor()``) on the bundled sample folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from app.model import ItemState
from app.theme import SAMPLE_FOLDER
from rotbgr_core.predictor import load_predictor
from tests.app.conftest import wait_idle


def test_sample_folder_is_small_and_mixed() -> None:
    files = sorted(SAMPLE_FOLDER.iterdir())
    assert 10 <= len(files) <= 16
    assert sum(p.stat().st_size for p in files) < 2_000_000
    assert {p.suffix for p in files} >= {".jpg", ".png", ".tif", ".pdf"}


def test_real_model_predicts_the_sample_and_exports(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "sample"
    shutil.copytree(SAMPLE_FOLDER, folder)
    predictor = load_predictor(device="cpu")
    window = make_window(predictor)
    window.open_folder(str(folder))
    wait_idle(qtbot, window, timeout=90_000)
    items = window.session.items
    assert len(items) == 13  # the PDF gives one item per page
    assert all(i.state == ItemState.PREDICTED for i in items), [(i.key, i.error) for i in items if i.error]
    assert all(0.0 <= i.confidence <= 1.0 for i in items)
    truth = {json.loads(line)["path"].split("/", 1)[1]: json.loads(line)
             for line in (SAMPLE_FOLDER.parent / "sample_truth.jsonl").read_text().splitlines()}
    skew = window.session.get(str(folder / "01_minutes_skew.jpg"))
    assert abs(skew.predicted.angle - truth["01_minutes_skew.jpg"]["angle"]) < 1.0  # a plain skewed page
    window.session.accept([skew.key])
    dialog = window.show_export()
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.scope_accepted.setChecked(True)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=30_000)
    assert dialog.summary.written == 1
    with Image.open(tmp_path / "out" / "01_minutes_skew_rotated.jpg") as written:
        assert written.size[0] > 500
    dialog.accept()


def test_main_entry_point_exists_and_parses() -> None:
    from app.__main__ import build_parser, main

    assert callable(main)
    args = build_parser().parse_args(["/some/folder"])
    assert args.folder == "/some/folder"
    result = subprocess.run([sys.executable, "-m", "app", "--help"], capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 0 and "FOLDER" in result.stdout.upper()

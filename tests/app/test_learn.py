"""Learn from Upright Pictures: the real trainer runs as a child process; its result is offered, used or refused."""

from __future__ import annotations

import json
from pathlib import Path

from app.learn import learn_command, read_summary
from app.model import ItemState
from app.settings import load_preferences
from tests.app.conftest import FixedPredictor, make_folder, wait_idle


def test_summary_is_the_last_json_object_with_a_verdict() -> None:
    out = 'noise\n{"kept": false, "base": 0.5, "tuned": 0.4}\n'
    assert read_summary(out) == {"kept": False, "base": 0.5, "tuned": 0.4}
    assert read_summary("no json here\n[1, 2]\n") is None
    args = learn_command("/pics", 7, Path("/m/x.pt"), Path("/w"), "", Path("/d.jsonl"))
    assert args[args.index("--steps") + 1] == "7" and args[args.index("--corrections") + 1] == "/d.jsonl"
    assert "--weights" not in args


def test_start_needs_a_folder_of_at_least_ten_pictures(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window(FixedPredictor())
    dialog = window.show_learn()  # no folder open: the review is simply empty
    assert not dialog.start_button.isEnabled() and not dialog.use_review.isEnabled()
    make_folder(tmp_path / "few", 4)
    dialog.folder_edit.setText(str(tmp_path / "few"))
    qtbot.waitUntil(lambda: "at least 10" in dialog.hint.text())
    assert not dialog.start_button.isEnabled()
    dialog.folder_edit.setText(str(tmp_path / "missing"))
    qtbot.waitUntil(lambda: "does not exist" in dialog.hint.text())
    assert not dialog.start_button.isEnabled()
    make_folder(tmp_path / "enough", 12)
    dialog.folder_edit.setText(str(tmp_path / "enough"))
    assert not dialog.start_button.isEnabled()  # not before the folder is checked
    qtbot.waitUntil(lambda: "rough" in dialog.hint.text())
    assert dialog.start_button.isEnabled()
    make_folder(tmp_path / "library", 60)
    dialog.folder_edit.setText(str(tmp_path / "library"))
    qtbot.waitUntil(lambda: dialog.hint.text() == "50 pictures or more.")
    dialog.reject()


def test_learning_runs_the_trainer_and_offers_only_a_better_model(qtbot, make_window, tmp_path: Path) -> None:
    review = tmp_path / "to_fix"
    make_folder(review, 6, lambda i: 90.0 * (i % 4))
    upright = tmp_path / "library"
    make_folder(upright, 12, size=(160, 120))
    window = make_window(FixedPredictor(angle=0.0, kind="photo"))
    window.open_folder(str(review))
    wait_idle(qtbot, window)
    keys = [item.key for item in window.session.items[:3]]
    window.session.accept(keys)
    dialog = window.show_learn()
    # The review went to a file beside the app's data (never into a folder of the user's), with absolute paths.
    assert dialog.use_review.isChecked()
    records = [json.loads(line) for line in dialog.decisions.read_text().splitlines()]
    assert sorted(Path(r["path"]) for r in records) == sorted(Path(k) for k in keys)
    assert all(Path(r["path"]).is_absolute() and r["state"] == "accepted" for r in records)
    dialog.folder_edit.setText(str(upright))
    qtbot.waitUntil(dialog.start_button.isEnabled)
    dialog.steps.setValue(2)
    dialog.start()
    assert dialog.running and not dialog.start_button.isEnabled()
    assert load_preferences(window.paths).learn_folder == str(upright)  # offered again next time
    qtbot.waitUntil(lambda: not dialog.running and dialog.summary is not None, timeout=300_000)
    summary = dialog.summary
    assert summary["held_out"] > 0 and summary["corrections"] >= 0
    assert 0.0 <= summary["base"] <= 1.0 and 0.0 <= summary["tuned"] <= 1.0
    written = sorted(dialog.models_dir.glob("*.pt"))
    if summary["kept"]:
        assert written == [Path(summary["out"])] and dialog.use_button.isVisible()
        dialog.use_button.click()
        assert window.prefs.weights == summary["out"]
    else:
        assert written == [] and not dialog.use_button.isVisible()
        assert "nothing was saved" in dialog.status.text()
        dialog.reject()
    assert window.session.get(keys[0]).state == ItemState.ACCEPTED  # the review is untouched
    assert sorted(p.name for p in upright.iterdir()) == [f"img_{i:03d}.png" for i in range(12)]


def test_stopping_a_run_writes_nothing(qtbot, make_window, tmp_path: Path) -> None:
    make_folder(tmp_path / "library", 12)
    window = make_window(FixedPredictor(angle=0.0, kind="photo"))
    dialog = window.show_learn()
    dialog.folder_edit.setText(str(tmp_path / "library"))
    qtbot.waitUntil(dialog.start_button.isEnabled)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.log.toPlainText() != "" or not dialog.running, timeout=60_000)
    dialog.stop()
    assert not dialog.running
    assert "Stopped" in dialog.status.text()
    assert list(dialog.models_dir.glob("*.pt")) == []
    assert dialog.start_button.isEnabled()
    dialog.reject()


def test_closing_the_window_stops_the_training(qtbot, make_window, tmp_path: Path) -> None:
    make_folder(tmp_path / "library", 12)
    window = make_window(FixedPredictor(angle=0.0, kind="photo"))
    dialog = window.show_learn()
    assert window.show_learn() is dialog  # one at a time
    dialog.folder_edit.setText(str(tmp_path / "library"))
    qtbot.waitUntil(dialog.start_button.isEnabled)
    dialog.start()
    process = dialog.process
    qtbot.waitUntil(lambda: dialog.log.toPlainText() != "", timeout=60_000)
    window.close()
    assert process.state() == process.ProcessState.NotRunning
    assert list(dialog.models_dir.glob("*.pt")) == []

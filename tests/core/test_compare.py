"""``rotbgr eval compare``: two prediction files of the same labelled sets, image by image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rotbgr_core.cli import main
from rotbgr_core.training.compare import compare, fully_correct, read_predictions

TRUTH = [
    {"path": "a.png", "angle": 90.0, "mirrored": False},
    {"path": "b.png", "angle": -179.0, "mirrored": True},
    {"path": "c.png", "angle": 3.0, "mirrored": False},
    {"path": "d.png", "angle": 0.0, "mirrored": False},
]


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    """A parent folder with one labelled set, ``scans``."""
    (tmp_path / "sets" / "scans").mkdir(parents=True)
    _write_jsonl(tmp_path / "sets" / "scans" / "truth.jsonl", TRUTH)
    return tmp_path / "sets"


def _run(tmp_path: Path, before: list[dict], after: list[dict]) -> tuple[Path, Path]:
    return (_write_jsonl(tmp_path / "before.jsonl", [dict(r, set="scans") for r in before]),
            _write_jsonl(tmp_path / "after.jsonl", [dict(r, set="scans") for r in after]))


def test_fully_correct_needs_the_angle_within_two_degrees_and_the_mirror_flag() -> None:
    truth = {"path": "x", "angle": 179.0, "mirrored": True}
    assert fully_correct({"angle": -179.5, "mirrored": True}, truth)  # 1.5 degrees across the wrap
    assert not fully_correct({"angle": -178.0, "mirrored": True}, truth)  # 3 degrees
    assert not fully_correct({"angle": 179.0, "mirrored": False}, truth)
    assert not fully_correct({"angle": None, "mirrored": None}, truth)  # a failed image
    assert not fully_correct(None, truth)


def test_names_the_fixed_and_the_broken_images_and_the_confident_answers(tmp_path: Path, labelled: Path) -> None:
    before, after = _run(tmp_path, [
        {"path": "a.png", "angle": -90.0, "mirrored": False, "confidence": 0.9},  # wrong, confident
        {"path": "b.png", "angle": 181.0, "mirrored": True, "confidence": 0.95},  # right, confident
        {"path": "c.png", "angle": 3.5, "mirrored": False, "confidence": 0.5},  # right
        {"path": "d.png", "angle": 0.0, "mirrored": True, "confidence": 0.3},  # wrong
    ], [
        {"path": "a.png", "angle": 90.5, "mirrored": False, "confidence": 0.85},  # fixed
        {"path": "b.png", "angle": 181.0, "mirrored": True, "confidence": 0.95},  # still right
        {"path": "c.png", "angle": 8.0, "mirrored": False, "confidence": 0.2},  # broken
        {"path": "d.png", "angle": 0.0, "mirrored": True, "confidence": 0.9},  # still wrong, now confident
    ])
    (result,) = compare(read_predictions(before), read_predictions(after), labelled)
    assert (result.name, result.n, result.correct_before, result.correct_after) == ("scans", 4, 2, 2)
    assert result.fixed == ["a.png"]
    assert result.broken == ["c.png"]
    assert (result.confident_before, result.confident_right_before) == (2, 1)
    assert (result.confident_after, result.confident_right_after) == (3, 2)
    assert result.missing == []


def test_an_image_missing_from_a_file_counts_as_wrong_and_is_named(tmp_path: Path, labelled: Path) -> None:
    records = [{"path": t["path"], "angle": t["angle"], "mirrored": t["mirrored"], "confidence": 1.0} for t in TRUTH]
    before, after = _run(tmp_path, records, records[:3])
    (result,) = compare(read_predictions(before), read_predictions(after), labelled)
    assert result.broken == ["d.png"]
    assert result.missing == ["d.png"]


def test_command_line_prints_the_changes(tmp_path: Path, labelled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    right = [{"path": t["path"], "angle": t["angle"], "mirrored": t["mirrored"], "confidence": 1.0} for t in TRUTH]
    wrong_c = [dict(r, angle=45.0) if r["path"] == "c.png" else r for r in right]
    before, after = _run(tmp_path, wrong_c, right)
    assert main(["eval", "compare", str(before), str(after), str(labelled)]) == 0
    out = capsys.readouterr().out
    assert "scans: n 4, fully correct 3 -> 4 (75.0% -> 100.0%), fixed 1, broken 0" in out
    assert "  fixed: c.png" in out


def test_command_line_reports_a_bad_file_clearly(tmp_path: Path, labelled: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    good = _write_jsonl(tmp_path / "good.jsonl", [{"set": "scans", "path": "a.png", "angle": 90.0, "mirrored": False}])
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"angle": 90.0}])
    assert main(["eval", "compare", str(good), str(bad), str(labelled)]) == 2
    assert "bad.jsonl:1: a prediction record needs 'set' and 'path'" in capsys.readouterr().err
    assert main(["eval", "compare", str(good), str(tmp_path / "none.jsonl"), str(labelled)]) == 2
    assert "none.jsonl" in capsys.readouterr().err

"""The session model without Qt: states, undo/redo, ordering, level lines, decisions and persistence."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from app.model import (
    Correction,
    Decision,
    Item,
    ItemFilter,
    ItemState,
    Session,
    SessionStore,
    SortKey,
    angle_from_line,
    view_order,
    write_decisions,
)
from app.settings import Preferences, app_paths, load_preferences, save_preferences
from rotbgr_core.types import Failure, Prediction


def _session(n: int = 4) -> Session:
    session = Session("/data/folder")
    session.add_items(Item(key=f"/data/folder/{i}.png", file=f"/data/folder/{i}.png", mtime_ns=i, size=10 + i)
                      for i in range(n))
    return session


def _predict(session: Session, *answers: tuple[float, bool, float]) -> None:
    session.set_results([
        (item.key, Prediction(item.key, a, m, c, "document"))
        for item, (a, m, c) in zip(session.items, answers, strict=False)
    ])


def test_states_follow_predictions_and_decisions() -> None:
    session = _session(3)
    assert [i.state for i in session.items] == [ItemState.PENDING] * 3
    _predict(session, (2.0, False, 0.9), (90.0, True, 0.4))
    session.set_results([(session.items[2].key, Failure(session.items[2].key, "corrupt image data"))])
    a, b, c = session.items
    assert (a.state, b.state, c.state) == (ItemState.PREDICTED, ItemState.PREDICTED, ItemState.ERROR)
    session.nudge([a.key], 0.1)
    assert a.state == ItemState.ADJUSTED and a.correction == Correction(2.1, False)
    session.accept([a.key])
    assert a.state == ItemState.ACCEPTED
    session.reject([b.key])
    assert b.state == ItemState.REJECTED
    session.mark_exported(a.key, a.correction, "/out/a.png")
    assert a.state == ItemState.EXPORTED
    session.nudge([a.key], 1.0)  # a new correction: the export no longer matches
    assert a.state == ItemState.ADJUSTED
    assert session.counts()[ItemState.ERROR] == 1


def test_user_edits_survive_a_late_prediction() -> None:
    session = _session(1)
    key = session.items[0].key
    session.set_angle([key], 10.0)
    _predict(session, (2.0, False, 0.9))
    assert session.get(key).correction.angle == 10.0
    session.reset([key])
    assert session.get(key).correction.angle == 2.0
    assert session.get(key).state == ItemState.PREDICTED


def test_undo_redo_and_merging_of_nudges() -> None:
    session = _session(2)
    _predict(session, (0.0, False, 0.9), (0.0, False, 0.9))
    key = session.items[0].key
    for _ in range(5):
        session.nudge([key], 0.1)
    assert session.get(key).correction.angle == pytest.approx(0.5)
    session.rotate_quarter([key], 1)
    session.toggle_mirror([key])
    assert session.get(key).correction == Correction(90.5, True)
    assert session.undo_text == "Toggle mirror"
    session.undo()
    assert session.get(key).correction == Correction(90.5, False)
    session.undo()
    session.undo()  # the five nudges were one step
    assert session.get(key).correction == Correction(0.0, False)
    assert session.get(key).state == ItemState.PREDICTED
    assert not session.can_undo
    session.redo()
    assert session.get(key).correction.angle == pytest.approx(0.5)
    session.nudge([key], 0.1)  # a new edit after redo clears the redo stack
    assert not session.can_redo


def test_nudges_on_other_items_do_not_merge() -> None:
    session = _session(2)
    a, b = (i.key for i in session.items)
    session.nudge([a], 0.1)
    session.nudge([b], 0.1)
    session.undo()
    assert session.get(a).correction.angle == pytest.approx(0.1)
    assert session.get(b).user is None


def test_angles_wrap_into_range() -> None:
    session = _session(1)
    key = session.items[0].key
    session.set_angle([key], 179.95)
    session.nudge([key], 0.1)
    assert session.get(key).correction.angle == pytest.approx(-179.95)
    session.rotate_quarter([key], -1)
    assert session.get(key).correction.angle == pytest.approx(90.05)


def test_listeners_hear_every_change() -> None:
    session = _session(2)
    heard: list[set[str]] = []
    session.subscribe(heard.append)
    session.accept([session.items[0].key])
    session.undo()
    assert heard == [{session.items[0].key}] * 2


def test_view_order_sorts_and_filters() -> None:
    session = _session(5)
    _predict(session, (1.0, False, 0.9), (-170.0, False, 0.2), (5.0, True, 0.5), (0.0, False, 0.99))
    items = session.items
    assert view_order(items, SortKey.CONFIDENCE) == [1, 2, 0, 3, 4]  # pending last
    assert view_order(items, SortKey.ANGLE)[:2] == [2, 1]  # the mirror counts as a big correction
    assert view_order(items, item_filter=ItemFilter.LOW_CONFIDENCE, threshold=0.85) == [1, 2]
    session.accept([items[1].key])
    assert view_order(items, item_filter=ItemFilter.TO_REVIEW) == [0, 2, 3, 4]
    assert view_order(items, item_filter=ItemFilter.ACCEPTED) == [1]
    assert view_order(items, text="3.PNG") == [3]
    assert view_order(items, SortKey.STATE)[0] == 4  # pending first


@pytest.mark.parametrize(
    ("start", "end", "vertical", "current", "expected"),
    [
        ((0, 0), (100, 0), False, 0.0, 0.0),
        ((0, 10), (100, 0), False, 0.0, -5.7106),  # rising to the right: turn clockwise
        ((0, 0), (100, 10), False, 0.0, 5.7106),
        ((0, 0), (100, 10), False, 178.0, -174.2894),  # upside down already: keep it upside down
        ((0, 0), (10, 100), True, 0.0, -5.7106),
        ((0, 0), (100, 0), True, 80.0, 90.0),
    ],
)
def test_angle_from_line(start: tuple[float, float], end: tuple[float, float], vertical: bool, current: float,
                         expected: float) -> None:
    assert angle_from_line(start, end, vertical, current) == pytest.approx(expected, abs=1e-3)


def test_angle_from_line_levels_the_line_in_the_core_convention() -> None:
    """Rotating the line's direction by the answer (ccw, y up) makes it horizontal."""
    import math

    start, end = (10.0, 80.0), (200.0, 20.0)
    angle = angle_from_line(start, end, False, 0.0)
    assert angle is not None
    theta = math.degrees(math.atan2(-(end[1] - start[1]), end[0] - start[0]))
    assert (theta + angle) % 180 == pytest.approx(0, abs=1e-6)
    assert angle_from_line((0, 0), (1, 1), False, 0.0) is None  # too short


def test_decisions_csv_and_jsonl(tmp_path: Path) -> None:
    session = _session(3)
    _predict(session, (2.0, False, 0.9), (90.0, True, 0.4))
    session.set_results([(session.items[2].key, Failure(session.items[2].key, "truncated image data"))])
    session.nudge([session.items[0].key], 0.5)
    session.accept([session.items[0].key])
    count = write_decisions(session.items, tmp_path / "d.jsonl", "jsonl")
    lines = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert count == 3
    assert lines[0] == {
        "path": session.items[0].key, "angle": 2.0, "mirrored": False, "confidence": 0.9, "error": None,
        "state": "accepted", "final_angle": 2.5, "final_mirrored": False, "kind": "document", "output": None,
    }
    assert lines[2]["error"] == "truncated image data" and lines[2]["angle"] is None and lines[2]["state"] == "error"
    write_decisions(session.items, tmp_path / "d.csv", "csv")
    rows = list(csv.DictReader((tmp_path / "d.csv").open()))
    assert rows[1]["state"] == "predicted" and rows[1]["final_mirrored"] == "True"
    with pytest.raises(ValueError, match="unknown format"):
        write_decisions(session.items, tmp_path / "d.txt", "txt")


def test_decisions_files_are_what_the_trainer_reads_as_corrections(tmp_path: Path) -> None:
    from rotbgr_core.training.train import read_corrections

    session = _session(4)
    _predict(session, (2.0, False, 0.9), (90.0, True, 0.4), (-90.0, False, 0.3), (0.0, False, 0.2))
    first, second, third, _ = session.items
    session.nudge([first.key], 0.5)
    session.accept([first.key])  # accepted after a nudge: 2.5
    session.accept([second.key])  # accepted as predicted: 90, mirrored
    session.reject([third.key])  # rejected: a person said no, so it teaches nothing
    for fmt in ("jsonl", "csv"):
        write_decisions(session.items, tmp_path / f"d.{fmt}", fmt)
        assert read_corrections(tmp_path / f"d.{fmt}") == [
            (Path(first.key), 2.5, False), (Path(second.key), 90.0, True),
        ]


def test_session_store_round_trip(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions")
    session = _session(3)
    _predict(session, (2.0, False, 0.9), (90.0, True, 0.4), (1.0, False, 0.5))
    a, b, c = session.items
    session.nudge([a.key], 0.3)
    session.accept([a.key])
    session.reject([b.key])
    path = store.save(session)
    assert path.parent == tmp_path / "sessions" and "folder" not in path.name
    assert not list(path.parent.glob("*.tmp"))
    saved = store.load("/data/folder")
    fresh = Session("/data/folder")
    changed = Item(key=c.key, file=c.file, mtime_ns=999, size=c.size)  # the file changed since
    fresh.add_items([Item(key=a.key, file=a.file, mtime_ns=a.mtime_ns, size=a.size),
                     Item(key=b.key, file=b.file, mtime_ns=b.mtime_ns, size=b.size), changed], saved)
    ra, rb, rc = fresh.items
    assert ra.state == ItemState.ACCEPTED and ra.correction.angle == pytest.approx(2.3)
    assert rb.decision == Decision.REJECTED and rb.predicted == Correction(90.0, True)
    assert rc.predicted is None  # stale prediction dropped, to be predicted again


def test_session_store_sets_aside_a_corrupt_file(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    path = store.path_for("/x")
    path.write_text("{not json")
    assert store.load("/x") == {}
    assert path.with_suffix(".corrupt.json").exists()


def test_preferences_validate_and_persist(app_home: Path) -> None:
    paths = app_paths()
    assert str(paths.config).startswith(str(app_home))
    prefs = Preferences.from_json({"schema_version": 1, "batch_size": 0, "device": "tpu", "thumbnail_size": 200,
                                   "confidence_threshold": 1, "unknown": 3})
    assert (prefs.batch_size, prefs.device, prefs.thumbnail_size, prefs.confidence_threshold) == (8, "auto", 200, 1.0)
    assert Preferences.from_json({"schema_version": 99, "batch_size": 4}).batch_size == 8  # from a newer app
    prefs.crop_photo = "none"
    save_preferences(prefs, paths)
    data = json.loads(paths.settings_file.read_text())
    assert data["schema_version"] == 1
    assert load_preferences(paths).crop_photo == "none"
    assert load_preferences(paths).crop_for("photo") == "none"
    assert load_preferences(paths).crop_for("document") == "expand"

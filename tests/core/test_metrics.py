"""The dev-set scorer, the source split rule and the dev-set image makers (no cache, no network)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rotbgr_core.training.devset import inscribed_size, make_document, make_photo, make_scan, sample_pose
from rotbgr_core.training.metrics import angular_error, format_report, score
from rotbgr_core.training.sources import group_of, split_of


def _t(path: str, angle: float, mirrored: bool = False) -> dict:
    return {"path": path, "angle": angle, "mirrored": mirrored}


def _p(path: str, angle: float | None, mirrored: bool = False, confidence: float | None = 1.0) -> dict:
    return {"path": path, "angle": angle, "mirrored": mirrored, "confidence": confidence}


def test_angular_error_wraps_at_180() -> None:
    assert angular_error(-179.0, 179.0) == pytest.approx(2.0)
    assert angular_error(179.5, -180.0) == pytest.approx(0.5)
    assert angular_error(0.0, 180.0) == pytest.approx(180.0)
    assert angular_error(90.0, -270.0) == pytest.approx(0.0)
    assert angular_error(-90.0, 90.0) == pytest.approx(180.0)


def test_score_errors_and_shares() -> None:
    truths = [_t("a", 179.0), _t("b", 90.0), _t("c", 0.5), _t("d", -45.0)]
    preds = [_p("a", -179.5), _p("b", 93.0), _p("c", 0.55), _p("d", 135.0)]
    s = score(preds, truths)
    assert s["n"] == 4
    assert s["mae"] == pytest.approx((1.5 + 3.0 + 0.05 + 180.0) / 4)
    assert s["median"] == pytest.approx((1.5 + 3.0) / 2)
    assert s["worst"] == pytest.approx(180.0)
    assert s["within_1"] == pytest.approx(0.25)
    assert s["within_2"] == pytest.approx(0.5)
    assert s["within_5"] == pytest.approx(0.75)
    assert s["coarse"] == pytest.approx(0.75)
    assert s["fully_correct"] == pytest.approx(0.5)
    # Skew-only subset: truths within 15 deg of 0 -> only "c".
    assert s["skew_n"] == 1
    assert s["skew_aed"] == pytest.approx(0.05)
    assert s["skew_under_0_1"] == pytest.approx(1.0)


def test_mirror_recall_and_false_alarms() -> None:
    truths = [_t("m1", 0, True), _t("m2", 0, True), _t("m3", 0, True), _t("m4", 0, True)]
    truths += [_t(f"n{i}", 0, False) for i in range(10)]
    preds = [_p("m1", 0, True), _p("m2", 0, True), _p("m3", 0, True), _p("m4", 0, False)]
    preds += [_p(f"n{i}", 0, i < 2) for i in range(10)]
    s = score(preds, truths)
    assert s["mirror_n"] == 4
    assert s["mirror_recall"] == pytest.approx(0.75)
    assert s["mirror_false_alarm"] == pytest.approx(0.2)
    # The angle is right everywhere, so the angle error counts as computed even where the flag is wrong.
    assert s["mae"] == 0.0
    assert s["fully_correct"] == pytest.approx(11 / 14)


def test_failed_and_missing_predictions_count_as_wrong() -> None:
    truths = [_t("a", 10.0), _t("b", 20.0), _t("c", 30.0)]
    s = score([_p("a", 10.0), _p("b", None, confidence=None)], truths)
    assert s["failed"] == 2
    assert s["worst"] == pytest.approx(180.0)
    assert s["fully_correct"] == pytest.approx(1 / 3)


def test_calibration_shares_and_bins() -> None:
    truths = [_t(str(i), 0.0) for i in range(10)]
    # 4 confident images, 3 of them right; 6 unsure, 1 of them right.
    preds = [_p(str(i), 0.0 if i < 3 else 90.0, confidence=0.9) for i in range(4)]
    preds += [_p(str(i), 0.0 if i == 4 else 90.0, confidence=0.3) for i in range(4, 10)]
    cal = score(preds, truths)["calibration"]
    assert cal["at_0_8_share"] == pytest.approx(0.4)
    assert cal["at_0_8_correct"] == pytest.approx(0.75)
    used = {(b["lo"], b["n"]) for b in cal["bins"] if b["n"]}
    assert used == {(0.9, 4), (0.3, 6)}
    assert cal["ece"] == pytest.approx(0.4 * abs(0.9 - 0.75) + 0.6 * abs(0.3 - 1 / 6))
    assert "| 0.90-0.95 | 4 |" in format_report({"x": score(preds, truths)})


def test_no_confidence_gives_no_calibration() -> None:
    s = score([_p("a", 0.0, confidence=None)], [_t("a", 0.0)])
    assert s["calibration"] is None
    assert "| x | 1 |" in format_report({"x": s})


def test_split_rule_is_deterministic_sha1() -> None:
    ids = [f"pkg:path/{i}.jpg" for i in range(2000)]
    splits = [split_of(g) for g in ids]
    assert splits == [split_of(g) for g in ids]
    for g, s in zip(ids[:50], splits[:50], strict=True):
        assert s == ("dev" if int(hashlib.sha1(g.encode()).hexdigest(), 16) % 5 == 0 else "train")
    assert 0.15 < splits.count("dev") / len(ids) < 0.25


def test_groups_keep_documents_and_near_duplicates_together() -> None:
    assert group_of("texlive-lang-other:a/b.pdf#3") == "texlive-lang-other:a/b.pdf"
    assert split_of(group_of("t:x.pdf#1")) == split_of(group_of("t:x.pdf#7"))
    bg = "scratch:usr/share/scratch/Media/Backgrounds/Sports/"
    assert group_of(bg + "basketball-court1-a.jpg") == group_of(bg + "basketball-court1-b.jpg")
    assert group_of("opencv-doc:x/left01.jpg") == "opencv-doc:x/left01.jpg"


def test_pose_mixture() -> None:
    rng = np.random.default_rng(0)
    poses = [sample_pose(rng) for _ in range(4000)]
    angles = np.array([a for a, _ in poses])
    assert ((angles >= -180) & (angles < 180)).all()
    exact = np.isclose(np.mod(angles, 90.0), 0.0)
    assert 0.22 < exact.mean() < 0.30
    near = (np.abs((angles + 45.0) % 90.0 - 45.0) <= 15.0) & ~exact
    assert 0.50 < near.mean() < 0.61  # 45% near-90 plus the uniform draws (30% x 1/3) that land there
    assert 0.12 < np.mean([m for _, m in poses]) < 0.18


def test_inscribed_size() -> None:
    assert inscribed_size(400, 300, 0) == (400, 300)
    w, h = inscribed_size(400, 300, 90)
    assert (round(w), round(h)) == (300, 400)
    w, h = inscribed_size(100, 100, 45)
    assert w == pytest.approx(100 / np.sqrt(2), rel=1e-6)


@pytest.mark.parametrize("angle", [30.0, -100.0, 44.9, 90.0, 173.0])
def test_photo_crop_shows_no_corners(tmp_path: Path, angle: float) -> None:
    src = tmp_path / "up.png"
    Image.new("RGB", (640, 400), (230, 220, 210)).save(src)
    out = make_photo(str(src), angle, False, np.random.default_rng(1))
    assert 600 <= max(out.size) <= 1600
    assert np.asarray(out).min() > 200  # no fill colour (black) anywhere


def test_document_and_scan_makers(tmp_path: Path) -> None:
    src = tmp_path / "page.png"
    page = Image.new("L", (300, 400), 255)
    page.paste(0, (40, 40, 260, 60))
    page.save(src)
    doc = make_document(str(src), 33.0, True, np.random.default_rng(2))
    arr = np.asarray(doc.convert("L"))
    assert arr[0, 0] > 200 and arr[-1, -1] > 200  # page-coloured margin, no black corners
    for seed in range(6):
        im, fmt = make_scan(str(src), 181.0 - 180.0, False, np.random.default_rng(seed))
        assert fmt in ("jpeg", "png", "png1", "tiff-g4")
        assert im.mode in (("1",) if fmt in ("png1", "tiff-g4") else ("RGB", "L"))


@pytest.mark.parametrize(("angle", "mirrored"), [(90.0, True), (-90.0, False), (-180.0, True), (0.0, True)])
def test_dev_inputs_are_undone_by_the_products_correction(angle: float, mirrored: bool) -> None:
    from rotbgr_core.geometry import correct_image
    from rotbgr_core.training.devset import make_input

    rng = np.random.default_rng(3)
    up = Image.fromarray(rng.integers(0, 255, size=(30, 50, 3), dtype=np.uint8), "RGB")
    back = correct_image(make_input(up, angle, mirrored), angle, mirrored)
    assert np.array_equal(np.asarray(back), np.asarray(up))

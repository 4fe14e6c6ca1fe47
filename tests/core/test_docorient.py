"""Document orientation windows: the class convention, scale normalisation, window choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from rotbgr_core.docorient import (
    LINE_PITCH,
    PATCH,
    DocOrientNet,
    class_of,
    correction_of,
    line_pitch,
    normalise_patches,
    orient_patch,
    page_patches,
)
from rotbgr_core.geometry import correct_image
from rotbgr_core.skew import ink_mask


def _page(pitch: int, width: int = 900, height: int = 1100) -> np.ndarray:
    page = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=int(pitch * 0.6))
    rng = np.random.default_rng(0)
    words = "the quick brown fox jumps over a lazy dog while archivists scan pages".split()
    for y in range(60, height - 60, pitch):
        draw.text((50, y), " ".join(rng.choice(words, 12)), fill=15, font=font)
    return np.asarray(page)


@pytest.mark.parametrize("turns", range(4))
@pytest.mark.parametrize("mirrored", [False, True])
def test_classes_follow_the_geometry_convention(turns: int, mirrored: bool) -> None:
    upright = np.random.default_rng(1).integers(0, 256, (PATCH, PATCH), dtype=np.uint8)
    made = orient_patch(upright, turns, mirrored)
    angle, flip = correction_of(class_of(turns, mirrored))
    assert np.array_equal(np.asarray(correct_image(Image.fromarray(made), angle, flip)), upright)


@pytest.mark.parametrize("pitch", [14, 24, 40])
def test_line_pitch_is_measured_across_rows_and_columns(pitch: int) -> None:
    page = _page(pitch)
    mask, _ = ink_mask(page)
    assert abs(line_pitch(mask) - pitch) <= 1.5
    assert abs(line_pitch(np.ascontiguousarray(mask.T), lines_vertical=True) - pitch) <= 1.5


def test_windows_are_scale_normalised_text() -> None:
    small, large = page_patches(_page(14)), page_patches(_page(40))
    sideways = page_patches(np.ascontiguousarray(_page(14).T), lines_vertical=True)
    assert abs(float((sideways < 128).mean()) - float((small < 128).mean())) < 0.05
    assert small.shape[1:] == large.shape[1:] == (PATCH, PATCH)
    assert len(small) >= 8 and len(large) >= 4
    # The same amount of text per window whatever the page's type size.
    density = [float((windows < 128).mean()) for windows in (small, large)]
    assert 0.05 < min(density) and max(density) / min(density) < 1.6
    # Rescaled to LINE_PITCH: a window holds about PATCH / LINE_PITCH lines.
    mask, _ = ink_mask(np.concatenate(list(small[:4]), axis=1))
    assert abs(line_pitch(mask) - LINE_PITCH) <= 3


def test_blank_page_gives_no_windows() -> None:
    assert page_patches(np.full((500, 400), 240, np.uint8)).shape == (0, PATCH, PATCH)


def test_network_shapes() -> None:
    net = DocOrientNet().eval()
    with torch.inference_mode():
        logits = net(normalise_patches(np.zeros((3, PATCH, PATCH), np.uint8)))
    assert logits.shape == (3, 8)


def test_upright_window_undoes_every_class() -> None:
    from rotbgr_core.training.docorient_pool import upright_window

    upright = np.random.default_rng(2).integers(0, 256, (PATCH, PATCH), dtype=np.uint8)
    for turns in range(4):
        for mirrored in (False, True):
            assert np.array_equal(upright_window(orient_patch(upright, turns, mirrored), turns, mirrored), upright)


def test_true_class_is_relative_to_the_measured_skew() -> None:
    from rotbgr_core.training.calibrate_fusion import true_class

    assert true_class(93.0, False, 3.2) == class_of(1, False)
    assert true_class(-178.0, True, 1.5) == class_of(2, True)
    assert true_class(-90.0, False, 0.0) == class_of(3, False)
    assert true_class(40.0, False, 0.0) is None  # the skew itself is wrong: no class is right


def test_fusion_adds_both_verdicts_round_trips_and_changes_for_smeared_and_thumbnail_pages() -> None:
    from rotbgr_core.docorient import SMALL_WINDOW_WEIGHT, SMEARED_WINDOW_WEIGHT, Fusion, fused_decision, fused_scores

    base = np.log(np.full(8, 0.02))
    base[class_of(0, False)] = np.log(0.86)
    windows = np.log(np.full((12, 8), 0.05))
    windows[:, class_of(2, True)] = np.log(0.65)
    fused = fused_scores(base, windows, 0.5)
    assert abs(float(np.exp(fused).sum()) - 1.0) < 1e-9
    assert int(np.argmax(fused)) == class_of(2, True)  # twelve agreeing windows outweigh one view
    assert int(np.argmax(fused_scores(base, windows[:0], 0.5))) == class_of(0, False)  # no windows: the base
    fusion = Fusion(doc_weight=0.5, windows=32, coef=(0.1, 2.0, 1.0, 0.5, 0.2, 0.3, 0.4))
    assert Fusion.from_dict(fusion.to_dict()) == fusion
    index, confidence = fused_decision(base, windows, fusion, skew_strength=0.8)
    assert index == class_of(2, True) and 0.0 < confidence < 1.0
    # A smeared page: the windows count for less and the main model's text patches not at all.
    smeared = fusion.for_smeared()
    assert smeared.doc_weight == SMEARED_WINDOW_WEIGHT < fusion.doc_weight
    assert smeared.base_overrides() == {"patch_weight": 0.0}
    assert (smeared.windows, smeared.coef, smeared.turn_quorum) == (fusion.windows, fusion.coef, fusion.turn_quorum)
    assert int(np.argmax(smeared.scores(base, windows[:3]))) == class_of(0, False)
    assert int(np.argmax(fusion.scores(base, windows[:3]))) == class_of(2, True)  # three windows outvote it unsmeared
    # A thumbnail page: no ascender cue, and the windows count for more.
    small = fusion.for_small()
    assert small.doc_weight == SMALL_WINDOW_WEIGHT > fusion.doc_weight
    assert small.base_overrides() == {"updown_weight": 0.0}
    assert int(np.argmax(small.scores(base, windows[:2]))) == class_of(2, True)
    assert int(np.argmax(fusion.scores(base, windows[:2]))) == class_of(0, False)  # two windows do not, at 0.5


def test_sparse_pages_are_scaled_by_their_glyphs() -> None:
    from rotbgr_core.docorient import text_pitch

    # A form: single lines of 24 px text, 260 px apart.  The profile's period is the gap, not the text's size.
    page = Image.new("L", (900, 1100), 250)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=15)
    for y in range(60, 1000, 260):
        draw.text((50, y), "Name of the applicant and the date of the request", fill=15, font=font)
    mask, _ = ink_mask(np.asarray(page))
    assert line_pitch(mask) > 150
    assert 12 <= text_pitch(mask) <= 40
    # Ordinary running text keeps its measured pitch.
    dense, _ = ink_mask(_page(24))
    assert abs(text_pitch(dense) - 24) <= 1.5


def _harvest_records(count: int, seed: int, wrong_every: int = 0, set_name: str = "documents") -> list[dict]:
    """Harvest records whose main model is right on every page (or wrong on every ``wrong_every``-th one)."""
    rng = np.random.default_rng(seed)
    records = []
    for index in range(count):
        base = np.log(np.full(8, 0.05))
        wrong = wrong_every and index % wrong_every == 0
        base[(index + 2 * int(wrong)) % 8] = np.log(0.65)
        records.append({"kind": "document", "angle": 90.0 * ((index % 8) // 2) + 1.0, "mirrored": bool(index % 2),
                        "skew_angle": 1.0, "skew_strength": 0.8, "base_scores": base, "set": set_name,
                        "windows": rng.integers(0, 256, (6, PATCH, PATCH), dtype=np.uint8)})
    return records


def test_fusion_fit_learns_the_window_weight_and_a_confidence() -> None:
    from rotbgr_core.docorient import DocOrienter, score_windows
    from rotbgr_core.training.calibrate_fusion import evaluate, fit

    torch.manual_seed(0)
    orienter = DocOrienter(net=DocOrientNet().eval())
    records = _harvest_records(40, seed=3)
    fusion = fit(records, orienter, windows=4)
    assert fusion.windows == 4 and len(fusion.coef) == 7
    result = evaluate(records, [score_windows(orienter, r["windows"][:4]) for r in records], fusion)
    # An untrained window network must not override a right main model: the smallest weight wins.
    assert fusion.doc_weight == 0.25
    assert result["fully_correct"] >= 0.9 and result["pages"] == 40
    # A weight held fixed is kept even where another would score more; only the confidence is fitted.
    held = fit(records, orienter, windows=4, fixed_weight=0.5)
    assert held.doc_weight == 0.5 and len(held.coef) == 7


def test_fusion_fit_command_pools_several_harvests_into_the_weights_file(tmp_path) -> None:
    """Real pages and rendered pages of other scripts are harvested apart and fitted together."""
    import pickle

    from rotbgr_core.docorient import FORMAT, DocOrienter
    from rotbgr_core.training.calibrate_fusion import fit, main

    torch.manual_seed(0)
    net = DocOrientNet().eval()
    weights = tmp_path / "docorient.pt"
    torch.save({"format": FORMAT, "width": 24, "patches": 16,
                "state_dict": {k: v.half() for k, v in net.state_dict().items()}}, weights)
    real, rendered = _harvest_records(24, seed=4), _harvest_records(24, seed=5, wrong_every=3, set_name="he/scans")
    paths = [tmp_path / "real.pkl", tmp_path / "rendered.pkl"]
    for path, records in zip(paths, (real, rendered), strict=True):
        path.write_bytes(pickle.dumps(records))
    assert main(["fit", "--harvest", *map(str, paths), "--weights", str(weights), "--windows", "4",
                 "--window-weight", "0.5"]) == 0
    stored = DocOrienter.load(weights).fusion
    expected = fit(real + rendered, DocOrienter.load(weights), windows=4, fixed_weight=0.5)
    alone = fit(real, DocOrienter.load(weights), windows=4, fixed_weight=0.5)
    assert stored is not None and stored.doc_weight == 0.5
    assert np.allclose(stored.coef, expected.coef, atol=1e-6)
    # The rendered pages' errors change the confidence: fitted on the real pages alone it would differ.
    assert not np.allclose(stored.coef, alone.coef, atol=1e-3)


def test_fusion_fit_can_reweigh_the_main_models_text_patches() -> None:
    """Its patches read a right-to-left page as turned (2026-12-06): the fit may weigh them less, the file keeps it."""
    from rotbgr_core.docorient import DocOrienter, Fusion
    from rotbgr_core.learned import Calibration, RawResult, combine_log_probs
    from rotbgr_core.training.calibrate_fusion import base_scores, evaluate, fit

    torch.manual_seed(0)
    orienter = DocOrienter(net=DocOrientNet().eval())
    calibration = Calibration(patch_weight=1.0, patches=4, updown_weight=2.0)
    records = _harvest_records(40, seed=6)
    for index, record in enumerate(records):
        truth = int(np.argmax(record["base_scores"]))
        view = np.log(np.full(8, 0.05))
        view[truth] = np.log(0.65)
        patches = np.log(np.full((4, 8), 0.05))
        patches[:, (truth + 4) % 8 if index % 2 else truth] = np.log(0.65)  # half the pages: a half turn
        raw = RawResult(0.0, 1.0, 0.9, view.astype(np.float32), 0.0, skew_angle=1.0, skew_strength=0.8,
                        lines_vertical=bool((truth // 2) % 2), updown=0.0, direction=0.2,
                        patch_log_probs=patches.astype(np.float32))
        record["raw"], record["base_scores"] = raw, combine_log_probs(raw, calibration).astype(np.float64)
    scores = [np.zeros((0, 8)) for _ in records]
    as_harvested = fit(records, orienter, windows=4, fixed_weight=0.5)
    reweighed = fit(records, orienter, windows=4, fixed_weight=0.5, calibration=calibration,
                    patch_weights=(1.0, 0.25, 0.0))
    assert as_harvested.patch_weight is None and reweighed.patch_weight == 0.0
    assert reweighed.updown_weight == 2.0  # no candidates given: the main model's own
    assert evaluate(records, scores, as_harvested)["fully_correct"] == 0.5
    assert evaluate(records, scores, reweighed, calibration)["fully_correct"] == 1.0
    assert Fusion.from_dict(reweighed.to_dict()) == reweighed
    # Weights files from before have no overrides, and the main model's calibration is then used unchanged.
    old = {"doc_weight": 0.5, "windows": 16, "coef": [0.0] * 7}
    assert Fusion.from_dict(old).patch_weight is None and Fusion.from_dict(old).base_overrides() == {}
    assert calibration.with_text_weights(None, None) == calibration
    assert np.allclose(base_scores(records[1], calibration), records[1]["base_scores"])
    with pytest.raises(ValueError, match="harvest it again"):
        base_scores(_harvest_records(1, seed=7)[0], calibration)


def test_windows_that_agree_on_the_turn_settle_it_and_leave_the_mirror_flag_to_both() -> None:
    """A right-to-left page: the main model's text cues read it upside down, its windows read it upright."""
    from rotbgr_core.docorient import QUORUM_MIN_WINDOWS, Fusion, fused_class, fused_decision, fused_scores

    base = np.log(np.full(8, 1e-6))
    base[class_of(2, False)], base[class_of(2, True)] = np.log(0.9), np.log(0.1)  # sure of a half turn
    windows = np.log(np.full((10, 8), 0.02))
    windows[:, class_of(0, False)] = windows[:, class_of(0, True)] = np.log(0.4)  # 8 of 10 windows: upright
    windows[8:, class_of(0, False)] = windows[8:, class_of(0, True)] = np.log(0.02)
    windows[8:, class_of(2, False)] = np.log(0.6)
    assert fused_class(fused_scores(base, windows, 0.5)) == class_of(2, False)  # outvoted without a quorum
    assert fused_class(fused_scores(base, windows, 0.5, turn_quorum=0.75)) // 2 == 0
    assert fused_class(fused_scores(base, windows, 0.5, turn_quorum=0.9)) == class_of(2, False)  # 80% < 90%
    few = windows[: QUORUM_MIN_WINDOWS - 1]
    assert fused_class(fused_scores(base, few, 0.5, turn_quorum=0.5)) == class_of(2, False)  # too few to count
    # The quorum settles the turn only: a main model sure of the mirror flag still sets it.
    base[class_of(0, True)], base[class_of(0, False)] = np.log(0.5), np.log(1e-4)
    assert fused_class(fused_scores(base, windows, 0.5, turn_quorum=0.75)) == class_of(0, True)
    # Windows that agree on the main model's answer turned by a half and mirrored (a vertical flip, their own
    # confusion in headline scripts such as Devanagari) do not overrule it.
    upright = np.log(np.full(8, 1e-6))
    upright[class_of(0, False)] = np.log(0.99)
    flipped = np.log(np.full((10, 8), 0.02))
    flipped[:, class_of(2, True)] = np.log(0.86)
    assert np.allclose(fused_scores(upright, flipped, 0.5, turn_quorum=0.75), fused_scores(upright, flipped, 0.5))
    turned = upright.copy()
    turned[class_of(0, False)], turned[class_of(0, True)] = np.log(1e-6), np.log(0.99)  # a half turn apart: it does
    assert not np.allclose(fused_scores(turned, flipped, 0.5, turn_quorum=0.75), fused_scores(turned, flipped, 0.5))
    fusion = Fusion(doc_weight=0.5, windows=16, coef=(0.1, 2.0, 1.0, 0.5, 0.2, 0.3, 0.4), turn_quorum=0.75)
    assert Fusion.from_dict(fusion.to_dict()) == fusion
    assert fused_decision(base, windows, fusion, skew_strength=0.8)[0] == class_of(0, True)
    assert Fusion.from_dict({"doc_weight": 0.5, "windows": 16, "coef": [0.0] * 7}).turn_quorum is None


def test_a_page_is_answered_mirrored_only_when_clearly_so() -> None:
    from rotbgr_core.docorient import PAGE_MIRROR_MARGIN, fused_class

    scores = np.full(8, -20.0)
    scores[4], scores[5] = -1.0, -1.0 + PAGE_MIRROR_MARGIN / 2  # turn 2; mirrored likelier, but not by the margin
    assert fused_class(scores) == 4
    scores[5] = -1.0 + PAGE_MIRROR_MARGIN + 0.5
    assert fused_class(scores) == 5
    # The turn is chosen on both readings together: turn 1 wins with two middling readings over one better one.
    scores = np.log(np.array([0.30, 0.0001, 0.25, 0.25, 0.1, 0.0001, 0.1, 0.0001]))
    assert fused_class(scores) == 2

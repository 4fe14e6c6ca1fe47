"""Single-glyph orientation: which components are read, how they are cut, and the shipped network on real glyphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rotbgr_core.docorient import class_of, orient_patch, vertical_flip_of
from rotbgr_core.geometry import angle_difference, normalize_angle
from rotbgr_core.glyphs import (
    FIGURE_PAPER_SHARE,
    GLYPH,
    MAX_GLYPHS,
    NUM_CLASSES,
    SCREEN_FLAT_SHARE,
    SMEAR_ANISOTROPY,
    GlyphNet,
    GlyphReader,
    GlyphVerdict,
    agrees_with,
    checks_vertical_flip,
    dark_on_light,
    flat_share,
    glyph_boxes,
    glyph_crops,
    glyph_verdict,
    is_smeared,
    overrules_page,
    paper_share,
    prefers_vertical_flip,
    reads_figure,
    reads_screen,
    smear_anisotropy,
)
from rotbgr_core.predictor import GLYPH_WEIGHTS, DocumentAwarePredictor, load_predictor
from rotbgr_core.skew import ink_components
from rotbgr_core.types import Estimate

UPRIGHT = Path(__file__).resolve().parents[1] / "resources" / "upright"


def _stats(*boxes: tuple[int, int, int, int]) -> np.ndarray:
    return np.array([(x, y, w, h, w * h) for x, y, w, h in boxes], dtype=np.int32)


def test_thin_strokes_dots_and_long_rules_are_not_glyphs() -> None:
    stats = _stats((10, 10, 12, 20), (40, 10, 2, 30), (60, 10, 3, 3), (80, 10, 200, 12), (90, 40, 9, 14))
    kept = glyph_boxes(stats)
    assert kept[:, 0].tolist() == [10, 90]  # a letter and a digit; not a tick, a dot or a rule


def test_at_most_the_limit_spread_over_the_page() -> None:
    stats = _stats(*[(10 * i, 0, 8, 12) for i in range(500)])
    kept = glyph_boxes(stats)
    assert len(kept) == MAX_GLYPHS
    assert kept[0, 0] == 0 and kept[-1, 0] == 4990  # first and last kept, the rest evenly between


def test_a_crop_keeps_the_glyphs_shape_on_the_paper_tone() -> None:
    page = np.full((100, 100), 240, dtype=np.uint8)
    page[:, 45:] = 30  # a dark scanner bed over half the image: not the paper around the glyph
    page[20:60, 30:40] = 10  # a tall bar, 4 times as high as wide
    crops = glyph_crops(page, _stats((30, 20, 10, 40)))
    assert crops.shape == (1, GLYPH, GLYPH)
    ink = crops[0] < 128
    rows, cols = np.nonzero(ink)
    assert (rows.max() - rows.min()) > 3 * (cols.max() - cols.min())  # still tall, not stretched square
    assert crops[0, 0, 0] == 240
    assert glyph_crops(page, np.zeros((0, 5), np.int32)).shape == (0, GLYPH, GLYPH)


def test_verdict_sums_the_glyphs_and_measures_the_turn_margin() -> None:
    scores = np.log(np.full((3, NUM_CLASSES), 0.05))
    scores[:, class_of(1, True)] = np.log(0.65)
    verdict = glyph_verdict(scores)
    margin = np.log((0.65**3 + 0.05**3) / (2 * 0.05**3))  # turn 1, either mirror state, over any other turn
    assert verdict == GlyphVerdict(glyphs=3, index=class_of(1, True), turn_margin=pytest.approx(margin))
    assert verdict.quarter_turns == 1 and verdict.mirrored
    assert glyph_verdict(np.zeros((0, NUM_CLASSES))) is None


def test_the_glyphs_overrule_only_an_unsure_page_and_only_when_sure() -> None:
    sure = GlyphVerdict(glyphs=40, index=2, turn_margin=40.0)  # 1 a glyph
    faint = GlyphVerdict(glyphs=40, index=2, turn_margin=25.0)  # 0.6 a glyph: below the mean margin
    assert overrules_page(sure, 0.6)
    assert not overrules_page(sure, 0.95)
    surer = GlyphVerdict(glyphs=20, index=2, turn_margin=40.0)  # 2 a glyph: may overrule a surer page verdict
    assert overrules_page(surer, 0.95)
    assert not overrules_page(surer, 0.995)
    assert not overrules_page(faint, 0.6)
    assert not overrules_page(None, 0.1)
    assert reads_figure(GlyphVerdict(glyphs=18, index=4, turn_margin=40.0))
    assert not reads_figure(GlyphVerdict(glyphs=5, index=4, turn_margin=40.0))  # too few glyphs
    assert not reads_figure(GlyphVerdict(glyphs=64, index=0, turn_margin=30.0))  # a photo's texture: faint each


def test_a_vertical_flip_is_a_half_turn_and_the_other_mirror_flag() -> None:
    upright = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for index in range(NUM_CLASSES):
        flip = vertical_flip_of(index)
        assert vertical_flip_of(flip) == index and flip % 2 != index % 2
        # The input that answers ``index`` for a page answers ``flip`` for the same page upside down in a mirror.
        assert np.array_equal(orient_patch(upright, *divmod(index, 2)), orient_patch(upright[::-1], *divmod(flip, 2)))


def test_the_glyphs_overrule_an_answer_only_for_its_vertical_flip_and_only_when_sure() -> None:
    mirrored, flip = 3, vertical_flip_of(3)
    scores = np.full((20, NUM_CLASSES), -5.0)
    scores[:, flip], scores[:, mirrored] = -0.1, -0.6  # 20 glyphs, 0.5 each for the flip: 10 in all
    fused = np.full(NUM_CLASSES, -30.0)
    fused[mirrored], fused[flip] = -0.02, -4.0  # the page verdict prefers its answer by 4: 10 - 0.5 * 4 > 4
    assert prefers_vertical_flip(scores, fused, mirrored)
    fused[flip] = -14.0  # ... by 14: 10 - 7 < 4
    assert not prefers_vertical_flip(scores, fused, mirrored)
    assert not prefers_vertical_flip(scores[:0], fused, mirrored)
    # A plain answer gives way to a mirrored flip only on far stronger glyph evidence (mirrored pages are rare) ...
    plain, flip = flip, mirrored
    scores = np.full((20, NUM_CLASSES), -5.0)
    scores[:, flip], scores[:, plain] = -0.1, -0.6
    fused = np.full(NUM_CLASSES, -30.0)
    fused[plain], fused[flip] = -0.02, -4.0
    assert checks_vertical_flip(fused, plain) and not prefers_vertical_flip(scores, fused, plain)  # 10 - 2 < 20
    scores[:, plain] = -1.6  # 30 in all: 30 - 2 > 20
    assert prefers_vertical_flip(scores, fused, plain)
    # ... and is not even checked when the page verdict is far surer of it than of the flip.
    fused[flip] = -30.0
    assert not checks_vertical_flip(fused, plain) and not prefers_vertical_flip(scores, fused, plain)


@pytest.mark.parametrize("mirrored", [False, True])
def test_a_page_read_as_its_vertical_flip_is_put_right_by_its_glyphs(mirrored: bool) -> None:
    """The window network's confusion in some scripts, simulated on a real page: its glyphs read it right."""
    from rotbgr_core.glyphs import GLYPH_AGREED_CONFIDENCE, GLYPH_CONFIDENCE

    predictor = load_predictor(None, "cpu")
    assert isinstance(predictor, DocumentAwarePredictor)
    upright = np.asarray(Image.open(UPRIGHT / "text_page.png").convert("L"))
    posed = Image.fromarray(orient_patch(upright, 1, mirrored)).convert("RGB")  # the answer is (90, mirrored)
    raw = predictor.base.measure([posed])[0]
    assert raw.skew_angle is not None
    truth = class_of(round((90.0 - raw.skew_angle) / 90.0) % 4, mirrored)

    def answered(index: int, confidence: float = 0.995) -> Estimate:
        """The page verdict's answer ``index`` at ``confidence``, preferring it to its flip by 3."""
        fused = np.full(NUM_CLASSES, -20.0)
        fused[index], fused[vertical_flip_of(index)] = -0.05, -3.0
        estimate = Estimate(angle=normalize_angle(raw.skew_angle + 90.0 * (index // 2)), mirrored=bool(index % 2),
                            confidence=confidence, kind="document")
        return predictor._glyph_page(raw, estimate, fused, smeared=False)

    wrong = answered(vertical_flip_of(truth))
    assert angle_difference(wrong.angle, 90.0) < 2.0 and wrong.mirrored == mirrored
    assert wrong.confidence == GLYPH_CONFIDENCE
    right = answered(truth)
    assert angle_difference(right.angle, 90.0) < 2.0 and right.mirrored == mirrored and right.confidence == 0.995
    # An unsure verdict that the glyphs agree with, surely, is raised; a sure one is left as it is.
    doubted = answered(truth, 0.6)
    assert (doubted.angle, doubted.mirrored, doubted.confidence) == (right.angle, mirrored, GLYPH_AGREED_CONFIDENCE)


def test_the_glyphs_agree_with_an_answer_only_when_they_prefer_it_to_every_other_class_surely() -> None:
    scores = np.full((20, NUM_CLASSES), -3.0)
    scores[:, 2], scores[:, 5] = -0.1, -1.0  # 20 glyphs, 0.9 each over the next class: 18 in all
    assert not agrees_with(scores, 2) and not agrees_with(scores, 5)
    scores[:, 5] = -2.0  # 38 in all
    assert agrees_with(scores, 2) and not agrees_with(scores, 5)
    assert not agrees_with(scores[:0], 2)


def test_paper_share_tells_a_figure_from_a_photo() -> None:
    figure = np.full((400, 600), 250, dtype=np.uint8)
    figure[100:102, 50:550] = 0
    assert paper_share(figure) > 0.95
    for name in ("astronaut.jpg", "chelsea.jpg", "rocket.jpg"):
        photo = np.asarray(Image.open(UPRIGHT / name).convert("L"))
        assert paper_share(photo) < FIGURE_PAPER_SHARE, name
    chart = np.asarray(Image.open(UPRIGHT / "chart_figure.png").convert("L"))
    assert paper_share(chart) >= FIGURE_PAPER_SHARE


def test_flat_share_tells_a_screenshot_from_a_photo() -> None:
    screen = np.asarray(Image.open(UPRIGHT / "app_help_screen.png").convert("L"))
    assert flat_share(screen) >= SCREEN_FLAT_SHARE
    for name in ("astronaut.jpg", "chelsea.jpg", "rocket.jpg"):
        photo = np.asarray(Image.open(UPRIGHT / name).convert("L"))
        assert flat_share(photo) < 0.2, name
    noisy = np.random.default_rng(0).normal(128, 2, (200, 300)).clip(0, 255).astype(np.uint8)
    assert flat_share(noisy) < 0.01


def test_a_screens_light_labels_on_dark_are_made_dark_on_light() -> None:
    """A dark title bar above a light window: only the bar is inverted, so every label is dark ink on light."""
    screen = np.full((400, 600), 235, dtype=np.uint8)
    screen[:60] = 40  # the dark bar
    screen[20:40, 100:300:8] = 220  # its light label strokes
    screen[200:220, 100:300:8] = 30  # the window's dark label strokes
    out = dark_on_light(screen)
    assert out[10, 50] == 215 and out[30, 100] == 35  # the bar: light, its label dark
    assert out[300, 50] == 235 and out[210, 100] == 30  # the window: as it was
    light = np.full((300, 300), 200, dtype=np.uint8)
    np.testing.assert_array_equal(dark_on_light(light), light)


def test_a_screenshot_is_answered_by_its_glyphs_only_when_they_are_sure() -> None:
    sure = GlyphVerdict(glyphs=40, index=2, turn_margin=25.0)
    assert reads_screen(sure)
    assert not reads_screen(GlyphVerdict(glyphs=40, index=2, turn_margin=15.0))
    assert not reads_screen(GlyphVerdict(glyphs=4, index=2, turn_margin=25.0))  # too few glyphs to trust
    assert not reads_screen(None)
    assert not reads_figure(sure)  # a figure, mostly paper, needs a mean margin of 1 a glyph


@pytest.mark.parametrize("name", ["text_page.png", "armenian_page.png", "hangul_page.png", "odia_page.png",
                                  "tibetan_page.png", "hebrew_page.png", "greek_page.png"])
def test_a_page_smeared_by_a_shaking_hand_is_told_from_a_sharp_one(name: str) -> None:
    """A sharp page in any of seven scripts is not smeared; smeared over 17 px, across, down or aslant, it is.

    A page under ``SMEAR_MIN_SIDE`` is not measured (its strokes are a pixel or two wide).
    """
    from rotbgr_core.training.devset import motion_blurred

    upright = Image.open(UPRIGHT / name).convert("RGB")
    assert not is_smeared(np.asarray(upright.convert("L")))
    for direction in (0.0, 45.0, 90.0, 135.0):
        smeared = np.asarray(motion_blurred(upright, 17, direction).convert("L"))
        assert smear_anisotropy(smeared) >= SMEAR_ANISOTROPY + 0.3, (name, direction)
        assert is_smeared(smeared) and not is_smeared(smeared[::3, ::3])  # a thumbnail is not measured
    assert smear_anisotropy(np.full((6, 6), 200, np.uint8)) == 0.0  # too small to tell


def test_network_shapes_and_weights_format(tmp_path: Path) -> None:
    net = GlyphNet(8)
    assert net(torch.zeros(2, 1, GLYPH, GLYPH)).shape == (2, NUM_CLASSES)
    bad = tmp_path / "bad.pt"
    torch.save({"format": "something-else"}, bad)
    with pytest.raises(ValueError, match="not a RotBGR glyph"):
        GlyphReader.load(bad)


@pytest.mark.parametrize("name", ["chart_figure.png", "text_page.png", "greek_page.png"])
def test_shipped_network_reads_every_pose_of_real_glyphs(name: str) -> None:
    """The shipped glyph network alone, on the glyphs of a chart and of two pages, in all eight classes."""
    reader = GlyphReader.load(GLYPH_WEIGHTS)
    upright = np.asarray(Image.open(UPRIGHT / name).convert("L"))
    for turns in range(4):
        for mirrored in (False, True):
            posed = orient_patch(upright, turns, mirrored)
            _, _, components = ink_components(posed)
            verdict = glyph_verdict(reader.read_page(posed, components))
            assert verdict is not None and verdict.glyphs >= 8
            assert verdict.index == class_of(turns, mirrored), (name, turns, mirrored, verdict)

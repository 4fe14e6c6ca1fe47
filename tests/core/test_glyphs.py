"""Single-glyph orientation: which components are read, how they are cut, and the shipped network on real glyphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rotbgr_core.docorient import class_of, orient_patch
from rotbgr_core.glyphs import (
    FIGURE_PAPER_SHARE,
    GLYPH,
    MAX_GLYPHS,
    NUM_CLASSES,
    GlyphNet,
    GlyphReader,
    GlyphVerdict,
    glyph_boxes,
    glyph_crops,
    glyph_verdict,
    overrules_page,
    paper_share,
    reads_figure,
)
from rotbgr_core.predictor import GLYPH_WEIGHTS
from rotbgr_core.skew import ink_components

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


def test_paper_share_tells_a_figure_from_a_photo() -> None:
    figure = np.full((400, 600), 250, dtype=np.uint8)
    figure[100:102, 50:550] = 0
    assert paper_share(figure) > 0.95
    for name in ("astronaut.jpg", "chelsea.jpg", "rocket.jpg"):
        photo = np.asarray(Image.open(UPRIGHT / name).convert("L"))
        assert paper_share(photo) < FIGURE_PAPER_SHARE, name
    chart = np.asarray(Image.open(UPRIGHT / "chart_figure.png").convert("L"))
    assert paper_share(chart) >= FIGURE_PAPER_SHARE


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

"""The classical text-skew estimator reaches sub-tenth-degree precision on a rendered page."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rotbgr_core.geometry import make_rotated
from rotbgr_core.skew import edge_orientation, estimate_skew


def _page() -> Image.Image:
    page = Image.new("L", (1000, 1300), 245)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=20)
    rng = np.random.default_rng(3)
    words = "archive scanned page skew deskew upright rotate mirror paper text line".split()
    for y in range(90, 1200, 34):
        draw.text((80, y), " ".join(rng.choice(words, 9)), fill=25, font=font)
    return page


def test_projection_skew_is_precise_over_plus_minus_45() -> None:
    page = _page()
    errors = []
    for angle in np.random.default_rng(0).uniform(-44, 44, 12):
        made = make_rotated(page, float(angle), False, fill=245)
        made.thumbnail((1024, 1024))
        errors.append(abs(estimate_skew(np.asarray(made)).angle - angle))
    assert np.mean(errors) < 0.1
    assert max(errors) < 0.3


def test_blank_page_has_no_strength() -> None:
    blank = np.full((400, 300), 240, dtype=np.uint8)
    assert estimate_skew(blank).strength < 0.2


def test_edge_orientation_sees_lines() -> None:
    image = Image.new("L", (400, 400), 255)
    draw = ImageDraw.Draw(image)
    for y in range(20, 400, 25):
        draw.line((0, y, 400, y), fill=0, width=3)
    made = make_rotated(image, 6.0, False, fill=255).crop((100, 100, 400, 400))
    angle, strength = edge_orientation(np.asarray(made))
    assert abs(angle - 6.0) < 0.5
    assert strength > 0.5

"""Round trips of the angle convention and the exactness of right angles."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rotbgr_core.geometry import (
    CropMode,
    angle_difference,
    correct_image,
    decompose,
    exact_transpose_ops,
    inscribed_size,
    make_rotated,
    normalize_angle,
)


def _pattern(width: int = 64, height: int = 40) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


@pytest.mark.parametrize(
    ("angle", "expected"),
    [(0, 0), (180, -180), (-180, -180), (190, -170), (-190, 170), (360, 0), (539.5, 179.5), (-0.0, 0)],
)
def test_normalize_angle(angle: float, expected: float) -> None:
    assert normalize_angle(angle) == pytest.approx(expected)


def test_angle_difference_wraps() -> None:
    assert angle_difference(179, -179) == pytest.approx(2)
    assert angle_difference(-90, 90) == pytest.approx(180)


@pytest.mark.parametrize("angle", [-180, -90, 0, 90, 44.9, -45, 135.5, 179.99])
def test_decompose_recomposes(angle: float) -> None:
    parts = decompose(angle)
    assert -45 <= parts.residual < 45
    assert normalize_angle(parts.quarter_turns * 90 + parts.residual) == pytest.approx(normalize_angle(angle))


@pytest.mark.parametrize("angle", [-180, -90, 0, 90])
@pytest.mark.parametrize("mirrored", [False, True])
def test_right_angles_round_trip_exactly(angle: float, mirrored: bool) -> None:
    upright = _pattern()
    made = make_rotated(upright, angle, mirrored)
    fixed = correct_image(made, angle, mirrored)
    assert fixed.size == upright.size
    assert np.array_equal(np.asarray(fixed), np.asarray(upright))


def test_convention_matches_pillow_direction() -> None:
    # A red dot at the top edge; the input is the upright image turned 90 degrees clockwise,
    # so the answer is +90 (turn it counter-clockwise by 90 to straighten it).
    upright = Image.new("RGB", (30, 20), "white")
    upright.putpixel((15, 0), (255, 0, 0))
    clockwise = upright.rotate(-90, expand=True)
    assert clockwise.getpixel((19, 15)) == (255, 0, 0)  # dot now on the right edge
    assert np.array_equal(np.asarray(correct_image(clockwise, 90, False)), np.asarray(upright))


def test_mirror_is_applied_after_rotation() -> None:
    upright = _pattern()
    made = upright.transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(-90, expand=True)
    assert np.array_equal(np.asarray(correct_image(made, 90, True)), np.asarray(upright))
    assert exact_transpose_ops(90, True) == [Image.Transpose.ROTATE_90, Image.Transpose.FLIP_LEFT_RIGHT]


def test_exact_ops_refuse_fractional_angles() -> None:
    with pytest.raises(ValueError):
        exact_transpose_ops(12.5, False)


@pytest.mark.parametrize("angle", [3.0, -7.5, 30.0, 101.0])
def test_fractional_round_trip_restores_content(angle: float) -> None:
    upright = Image.new("L", (200, 120), 255)
    for x in range(40, 160, 20):
        upright.paste(0, (x, 30, x + 6, 90))
    made = make_rotated(upright, angle, False, fill=255)
    fixed = correct_image(made, angle, False, CropMode.EXPAND)
    # The content sits centred in the expanded canvas: compare the central region.
    left = (fixed.width - upright.width) // 2
    top = (fixed.height - upright.height) // 2
    centre = np.asarray(fixed.crop((left, top, left + upright.width, top + upright.height)), dtype=float)
    assert np.abs(centre - np.asarray(upright, dtype=float)).mean() < 12


def test_inscribed_crop_has_no_empty_corners() -> None:
    photo = Image.new("RGB", (300, 200), (200, 30, 30))  # content fills the whole frame
    fixed = correct_image(photo, 10, False, CropMode.INSCRIBED)
    array = np.asarray(fixed).astype(int)
    assert (np.abs(array - np.array([200, 30, 30])).max(axis=2) < 3).all(), "a corner leaked"
    width, height = inscribed_size(photo.width, photo.height, 10)
    assert abs(fixed.width / fixed.height - 1.5) < 0.02
    assert (fixed.width, fixed.height) == (width, height)


def test_expand_fills_with_page_colour() -> None:
    page = Image.new("L", (200, 300), 230)
    fixed = correct_image(page, 5, False, CropMode.EXPAND)
    assert fixed.getpixel((0, 0)) == 230
    assert fixed.width > 200


def test_none_crop_keeps_size_and_modes() -> None:
    for mode in ("1", "L", "RGB", "RGBA", "I;16", "P"):
        image = Image.new(mode, (50, 30))
        fixed = correct_image(image, 4, False, CropMode.NONE)
        assert fixed.size == (50, 30)
        assert fixed.mode == (mode if mode != "P" else "RGB")

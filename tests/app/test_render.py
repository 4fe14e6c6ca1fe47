"""What the app draws upright matches what the core writes (the SPEC's angle convention)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from app.detail import crop_rect
from app.render import corrected_bounds, draw_upright
from app.thumbnails import pil_to_qimage
from rotbgr_core.geometry import correct_image, inscribed_size
from tests.app.conftest import upright_pattern


def _render(image: Image.Image, angle: float, mirrored: bool) -> np.ndarray:
    bounds = corrected_bounds(image.width, image.height, angle, mirrored)
    out = QImage(round(bounds.width()), round(bounds.height()), QImage.Format.Format_RGB888)
    out.fill(QColor(0, 0, 0))
    painter = QPainter(out)
    draw_upright(painter, pil_to_qimage(image), QRectF(0, 0, out.width(), out.height()), angle, mirrored)
    painter.end()
    ptr = out.constBits()
    array = np.frombuffer(ptr, np.uint8).reshape(out.height(), out.bytesPerLine())[:, : out.width() * 3]
    return array.reshape(out.height(), out.width(), 3).copy()


@pytest.mark.parametrize("angle", [0.0, 90.0, -90.0, -180.0])
@pytest.mark.parametrize("mirrored", [False, True])
def test_display_matches_core_for_exact_turns(qapp: object, angle: float, mirrored: bool) -> None:
    image = upright_pattern(3, (60, 40))
    core = np.asarray(correct_image(image, angle, mirrored))
    drawn = _render(image, angle, mirrored)
    assert drawn.shape == core.shape
    assert np.mean(np.abs(drawn.astype(int) - core.astype(int))) < 2.0


def test_display_matches_core_for_a_small_angle(qapp: object) -> None:
    image = upright_pattern(4, (90, 60))
    core = np.asarray(correct_image(image, 12.0, False, "expand"))
    drawn = _render(image, 12.0, False)
    assert abs(drawn.shape[0] - core.shape[0]) <= 1 and abs(drawn.shape[1] - core.shape[1]) <= 1
    h, w = min(drawn.shape[0], core.shape[0]), min(drawn.shape[1], core.shape[1])
    # the red marker lands in the same place
    red_drawn = np.argwhere((drawn[:h, :w, 0] > 150) & (drawn[:h, :w, 1] < 90)).mean(axis=0)
    red_core = np.argwhere((core[:h, :w, 0] > 150) & (core[:h, :w, 1] < 90)).mean(axis=0)
    assert np.allclose(red_drawn, red_core, atol=1.5)


def test_crop_frame_matches_core_sizes() -> None:
    width, height = 400, 300
    for angle, crop in ((7.0, "inscribed"), (97.0, "inscribed"), (7.0, "none"), (90.0, "expand")):
        rect = crop_rect(width, height, angle, crop)
        core = correct_image(Image.new("RGB", (width, height)), angle, False, crop)
        assert abs(rect.width() - core.width) <= 1.0 and abs(rect.height() - core.height) <= 1.0, (angle, crop)
    assert crop_rect(width, height, 7.0, "inscribed").width() == inscribed_size(width, height, 7.0)[0]

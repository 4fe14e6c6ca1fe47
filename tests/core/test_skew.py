"""The classical text-skew estimator reaches sub-tenth-degree precision on a rendered page."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from rotbgr_core import skew
from rotbgr_core.geometry import make_rotated
from rotbgr_core.imageio import load_for_prediction
from rotbgr_core.skew import (
    edge_orientation,
    estimate_skew,
    is_featureless,
    keystone_correction,
    line_tilts,
    shrunk_gray,
    slant_correction,
    square_lines,
    stroke_tilt,
    tilt_line_support,
)
from tests.core.helpers import blank_scan
from tests.core.helpers import lines_page as _page


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


def test_straight_lines_tell_a_real_tilt_from_texture() -> None:
    """A horizon and a post along a tilt outweigh the level; blurred noise alone favours neither side."""
    texture = Image.fromarray((np.random.default_rng(1).random((400, 400)) * 255).astype(np.uint8))
    texture = texture.filter(ImageFilter.GaussianBlur(2))
    scene = texture.copy()
    draw = ImageDraw.Draw(scene)
    draw.rectangle((0, 250, 400, 400), fill=70)  # the ground below a horizon
    draw.line((120, 40, 120, 250), fill=20, width=4)  # a post
    tilted = make_rotated(scene, 20.0, False, fill=128)
    left, top = (tilted.width - 280) // 2, (tilted.height - 280) // 2
    inside = np.asarray(tilted.crop((left, top, left + 280, top + 280)))  # no canvas edge in view
    assert tilt_line_support(inside, 20.0) > 1.0
    assert tilt_line_support(np.asarray(scene), 20.0) < -1.0
    assert abs(tilt_line_support(np.asarray(texture), 20.0)) < 0.5


def test_a_sliver_is_shrunk_to_at_least_a_pixel_across_and_measured() -> None:
    """A 3 x 5000 px strip keeps a pixel across when shrunk, so the measures built on it answer instead of failing."""
    sliver = (np.random.default_rng(0).random((3, 5000)) * 255).astype(np.uint8)
    assert shrunk_gray(sliver, 512).shape == (1, 512)
    assert np.isfinite(tilt_line_support(sliver, 20.0))
    from rotbgr_core.glyphs import paper_share

    assert 0.0 <= paper_share(sliver) <= 1.0


def _bitonal_scan_on_a_dithered_bed(path: Path, angle: float) -> np.ndarray:
    """The page turned by ``angle`` on a noisy gradient bed, thresholded to 1 bit, saved and read back as grey."""
    rng = np.random.default_rng(0)
    turned = _page().rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    shape = Image.new("L", (1000, 1300), 255).rotate(angle, expand=True, fillcolor=0)
    side = int(max(turned.size) * 1.1)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    bed = Image.fromarray(np.clip(255 * (x + y) / (2 * side) + rng.normal(0, 90, (side, side)), 0, 255)
                          .astype(np.uint8))
    bed.paste(turned, ((side - turned.width) // 2, (side - turned.height) // 2), shape)
    bed.point(lambda v: 255 if v >= 128 else 0).convert("1").save(path, compression="group4")
    return np.asarray(load_for_prediction(str(path)).convert("L"))


def test_the_edge_orientation_rescues_a_skew_that_the_profiles_miss(tmp_path: Path) -> None:
    """A dithered bed's speckle pulls the projection profiles to a false tilt; the edges' start finds the lines."""
    gray = _bitonal_scan_on_a_dithered_bed(tmp_path / "scan.tif", -24.9)
    assert abs(estimate_skew(gray).angle - 24.9) > 5  # the failure this guards against (profiles alone)
    assert abs(estimate_skew(gray, edge_orientation(gray)).angle - 24.9) < 0.2


def test_an_edge_hint_changes_nothing_where_the_profiles_are_right() -> None:
    page = _page()
    for angle in (-31.0, -3.0, 8.5, 40.0):
        made = make_rotated(page, angle, False, fill=245)
        made.thumbnail((1024, 1024))
        gray = np.asarray(made)
        plain = estimate_skew(gray)
        for hint in (angle + 6.0, angle - 30.0, 0.0):
            assert estimate_skew(gray, (hint, 0.5)) == plain


def test_blank_sheets_and_flat_images_are_featureless_and_a_line_of_text_is_not() -> None:
    for noise in (2.0, 4.0, 6.0):
        assert is_featureless(np.asarray(blank_scan(noise)))
    assert is_featureless(np.full((1, 1), 90, dtype=np.uint8))
    page = Image.new("L", (1275, 1650), 240)
    ImageDraw.Draw(page).text((200, 300), "Minutes of the meeting", fill=30, font=ImageFont.load_default(size=28))
    assert not is_featureless(np.asarray(page))
    assert not is_featureless(np.asarray(_page()))


def test_the_ink_mask_and_its_components_are_opencvs_default_labelling() -> None:
    """``ink_components`` labels with Grana's algorithm for speed: the same components, stats and mask as usual."""
    import cv2

    from rotbgr_core.skew import ink_components

    gray = np.asarray(make_rotated(_page(), 7.5, False).convert("L"))
    mask, fraction, components = ink_components(gray)
    binary = cv2.adaptiveThreshold(cv2.GaussianBlur(gray, (3, 3), 0), 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                   cv2.THRESH_BINARY_INV, max(15, (min(gray.shape) // 30) | 1), 12)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    height, width = gray.shape
    small = ((stats[:, cv2.CC_STAT_HEIGHT] < max(4, height // 6)) & (stats[:, cv2.CC_STAT_WIDTH] < max(4, width // 3))
             & (stats[:, cv2.CC_STAT_AREA] >= 2))
    small[0] = False
    assert len(components) > 300
    assert np.array_equal(components, stats[small])
    assert np.array_equal(mask, small[labels])
    assert fraction == np.count_nonzero(small[labels]) / mask.size


def test_the_noise_level_is_the_pixel_noise_and_ignores_text() -> None:
    from rotbgr_core.skew import noise_level

    rng = np.random.default_rng(0)
    for deviation in (2.0, 5.0, 10.0):
        noisy = np.clip(160 + rng.normal(0.0, deviation, (700, 600)), 0, 255).round().astype(np.uint8)
        assert abs(noise_level(noisy) - deviation) < 0.15 * deviation
    assert noise_level(np.asarray(_page())) < 1.0  # the text's edges are not noise
    assert noise_level(np.full((2, 2), 90, dtype=np.uint8)) == 0.0


def test_a_sparse_jpeg_scan_read_flattened_out_of_a_dim_room_keeps_its_skew(tmp_path: Path) -> None:
    """Flattening a dim scan triples its noise: at a fixed ink contrast the noise and the JPEG blocks pass for ink and
    the skew locks onto 0 (seeds 11 and 12 here, before the contrast followed the noise)."""
    from rotbgr_core.flatfield import flattened
    from rotbgr_core.training.devset import dimmed, make_scan

    _page(font_size=14, first=120, end=120 + 34 * 12).save(tmp_path / "sparse.png")  # twelve lines of small text
    errors = []
    for seed in range(8, 16):
        rng = np.random.default_rng(seed)
        angle = float(rng.uniform(-40, 40))
        scan, _ = make_scan(str(tmp_path / "sparse.png"), angle, False, rng)
        dimmed(scan, 0.35, 6.0, seed).save(tmp_path / "dim.png")
        gray = np.asarray(flattened(load_for_prediction(str(tmp_path / "dim.png"))).convert("L"))
        found = estimate_skew(gray, edge_orientation(gray)).angle
        errors.append(abs((found - angle + 45) % 90 - 45))  # modulo 90: the skew does not know the quarter turn
    assert max(errors) < 0.5, errors


def _lines_mask(tilts: list[float], height: int = 900, width: int = 700,
                span: tuple[float, float] = (60 / 900, 840 / 900)) -> np.ndarray:
    """A deskewed ink mask of text lines (rows of dashes), line ``i`` tilted by ``tilts[i]`` degrees ccw.

    The lines are spread evenly over ``span`` (fractions of the height).
    """
    mask = np.zeros((height, width), np.uint8)
    for index, tilt in enumerate(tilts):
        centre = height * (span[0] + index * (span[1] - span[0]) / (len(tilts) - 1))
        for left in range(60, width - 60, 7):
            top = round(centre - (left - width / 2) * math.tan(math.radians(tilt)))
            cv2.rectangle(mask, (left, top - 4), (left + 5, top + 4), 1, -1)
    return mask.astype(bool)


def test_each_text_lines_tilt_is_measured() -> None:
    tilts = line_tilts(_lines_mask([0.0] * 5 + [3.0] * 5))
    assert len(tilts) == 10
    np.testing.assert_allclose(np.sort(tilts[:, 0]), [0.0] * 5 + [3.0] * 5, atol=0.15)


def test_a_page_whose_lines_converge_is_answered_by_its_lines_at_its_centre() -> None:
    """Lines fanned from -1 to 5 degrees (a page at a slant) turn the answer by their tilt at the page's centre."""
    fanned = _lines_mask(list(np.linspace(-1.0, 5.0, 20)))
    correction = slant_correction(fanned, vertical=False)
    assert abs(correction + 2.0) < 0.3
    # Lines that run down the deskewed page are measured across them.
    assert abs(slant_correction(np.ascontiguousarray(np.rot90(fanned, -1)), vertical=True) - correction) < 0.05
    assert slant_correction(_lines_mask([0.0] * 20), vertical=False) == 0.0
    assert slant_correction(_lines_mask([1.0] * 20), vertical=False) == 0.0  # within the skew search's reach
    # Text on the upper half only, at a slant whose lines would be level at the page's centre: left alone, although
    # the text's own middle line is tilted by 1.9 degrees.
    positions = np.linspace(0.1, 0.55, 16)
    assert slant_correction(_lines_mask(list(10.0 * (positions - 0.5)), span=(0.1, 0.55)), vertical=False) == 0.0
    # Twelve level lines and eight tilted ones: the middle line is level.
    assert slant_correction(_lines_mask([0.0] * 12 + list(np.linspace(1.5, 4.0, 8))), vertical=False) == 0.0
    # "Lines" scattered over more than 2 degrees (a figure's rules, columns), or too few to have a middle.
    assert slant_correction(_lines_mask([0.0] * 9 + list(np.linspace(1.5, 8.0, 11))), vertical=False) == 0.0
    assert slant_correction(_lines_mask(list(np.linspace(-1.0, 5.0, 8))), vertical=False) == 0.0


def _sheared(page: Image.Image, lean: float) -> np.ndarray:
    """``page`` with every column slid sideways in proportion to its height: its strokes lean ``lean`` degrees ccw."""
    pixels = np.asarray(page)
    height = pixels.shape[0]
    shift = math.tan(math.radians(lean))
    matrix = np.float32([[1.0, shift, -shift * height / 2.0], [0.0, 1.0, 0.0]])
    return cv2.warpAffine(pixels, matrix, (pixels.shape[1], height), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=245)


def test_the_strokes_lean_across_the_lines_is_read() -> None:
    """Level lines whose letters lean (a page seen sheared) read as that lean; a page turned a little, as its turn."""
    page = _page()
    for lean in (-6.0, 0.0, 4.0):
        sheared = _sheared(page, lean)
        assert abs(stroke_tilt(sheared, False, 1.0) - lean) < 0.6, lean
        # Lines that run down the deskewed page: the strokes are read across them.
        assert abs(stroke_tilt(np.ascontiguousarray(np.rot90(sheared, -1)), True, 1.0) - lean) < 0.6
    turned = np.asarray(page.rotate(3.0, resample=Image.Resampling.BICUBIC, fillcolor=245))
    assert abs(stroke_tilt(turned, False, 1.0) - 3.0) < 0.6
    # Small-kernel gradients read a thin stroke's lean short, the reason the blurred reading is the one used.
    assert 1.5 < stroke_tilt(turned, False, 0.0) < 3.0


def test_a_page_at_a_slant_and_turned_is_answered_between_its_lines_and_its_strokes() -> None:
    """Converging lines whose strokes are not square to them: the answer splits the difference."""
    fanned = _lines_mask(list(np.linspace(-2.0, 4.0, 20)))  # level at the middle, converging by 6 degrees
    tilts = line_tilts(fanned)
    sheared = _sheared(_page(), 5.0)
    assert abs(keystone_correction(sheared, False, tilts, 0.0) + 2.5) < 0.4
    # The lines' own turn at the centre (the slant correction's) counts too.
    assert abs(keystone_correction(sheared, False, tilts, -1.0) + 3.0) < 0.4
    # Parallel lines (a page seen square-on, italics): the slant correction's answer stands.
    assert keystone_correction(sheared, False, line_tilts(_lines_mask([0.0] * 20)), 0.0) == 0.0
    # Strokes square to the lines, or leaning more than any slant makes them (a page's own slanted shapes).
    assert keystone_correction(np.asarray(_page()), False, tilts, 0.0) == 0.0
    assert keystone_correction(_sheared(_page(), 16.0), False, tilts, 0.0) == 0.0
    # Too few lines to judge.
    assert keystone_correction(sheared, False, line_tilts(_lines_mask(list(np.linspace(-2.0, 4.0, 6)))), 0.0) == 0.0


def test_the_strokes_sharp_reading_may_fall_short_of_a_steep_lean(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unblurred gradients read a thin stroke's lean about a quarter short: within 30% of it, the readings agree."""
    tilts = line_tilts(_lines_mask(list(np.linspace(-2.0, 4.0, 20))))
    page = np.asarray(_page())
    for blurred, sharp, agree in ((9.0, 6.9, True), (9.0, 6.0, False), (4.0, 2.2, True), (4.0, 1.8, False)):
        monkeypatch.setattr(skew, "stroke_tilt",
                            lambda gray, vertical, sigma, blurred=blurred, sharp=sharp: blurred if sigma else sharp)
        assert keystone_correction(page, False, tilts, 0.0) == (-blurred / 2.0 if agree else 0.0), (blurred, sharp)


def test_a_screens_long_lines_run_square_and_a_photos_do_not() -> None:
    """Windows and bars: nearly all their line length along two square directions; a photo's edges: far less."""
    screen = Image.new("L", (1024, 640), 90)
    draw = ImageDraw.Draw(screen)
    for left, top, right, bottom in ((60, 40, 560, 400), (420, 220, 980, 590), (0, 600, 1023, 639)):
        draw.rectangle((left, top, right, bottom), fill=230, outline=40)
        draw.line((left, top + 30, right, top + 30), fill=40)  # a title bar
    share, length = square_lines(np.asarray(make_rotated(screen, 27.0, False, fill=0)))
    assert share > 0.9 and length > 4.0
    upright = Path(__file__).resolve().parents[1] / "resources" / "upright"
    photo = np.asarray(Image.open(upright / "chelsea.jpg").convert("L"))
    assert square_lines(photo)[0] < 0.6
    assert square_lines(np.full((64, 64), 128, np.uint8)) == (0.0, 0.0)

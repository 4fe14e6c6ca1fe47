"""Pages under uneven light: which images are read flattened too, and what flattening does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from rotbgr_core.flatfield import _smooth_share, flattened, looks_badly_lit
from rotbgr_core.imageio import BITONAL_KEY
from rotbgr_core.training.devset import dimmed, edge_shadow, light_ramp, vignette

UPRIGHT = Path(__file__).resolve().parents[1] / "resources" / "upright"


def test_a_page_under_a_light_ramp_is_found_and_flattened_back_to_even_paper() -> None:
    page = Image.open(UPRIGHT / "greek_page.png").convert("RGB")
    assert not looks_badly_lit(page)
    shaded = light_ramp(page, 0.35)
    assert looks_badly_lit(shaded)
    even = np.asarray(flattened(shaded).convert("L"), dtype=np.float32)
    corners = [even[20:60, 20:60], even[-60:-20, -60:-20]]  # paper in the dark and in the bright corner
    assert all(abs(float(np.median(corner)) - 250.0) < 12.0 for corner in corners)


def test_a_shadow_along_one_side_is_found_on_every_side_and_flattened() -> None:
    """A spine's shadow lies mostly outside the page's middle: the whole image is looked at too.

    Flattening halves the shadow's depth at the very edge, not more: there the dilated background takes its light
    from paper 20-30 px further in. The pages are read right all the same (see ``test_model.py``).
    """
    page = Image.open(UPRIGHT / "greek_page.png").convert("RGB")
    for side in range(4):
        assert looks_badly_lit(edge_shadow(page, 0.3, 0.12, side)), side
    shadowed = edge_shadow(page, 0.3, 0.12, 0)

    def paper_at(image: Image.Image) -> list[float]:
        grey = np.asarray(image.convert("L"), dtype=np.float32)
        rows = slice(grey.shape[0] // 3, 2 * grey.shape[0] // 3)
        return [float(np.median(grey[rows, columns])) for columns in (slice(4, 24), slice(60, 120), slice(-24, -4))]

    edge, near, far = paper_at(shadowed)
    assert edge < 110 and near < 200 and far == 255
    edge, near, far = paper_at(flattened(shadowed))
    assert edge > 170 and near > 225 and far == 255


def test_a_dense_page_under_a_vignette_is_found() -> None:
    """Half of ``text_page.png`` is bare paper at a quarter of its size: enough where the light is as smooth as a
    lens makes it (before, 60% was asked of every page)."""
    page = Image.open(UPRIGHT / "text_page.png").convert("RGB")
    assert not looks_badly_lit(page)
    assert looks_badly_lit(vignette(page, 0.55))


def test_a_page_in_a_dim_room_is_found_and_flattened_back_to_white_paper() -> None:
    """Evenly lit, but at 35% brightness with a warm cast and noise: its paper is grey, not uneven."""
    page = Image.open(UPRIGHT / "greek_page.png").convert("RGB")
    dim = dimmed(page, 0.35, 6.0, seed=0)
    assert looks_badly_lit(dim)
    assert not looks_badly_lit(dimmed(page, 0.6, 6.0, seed=0))  # grey enough paper at 60%: read as it is
    even = np.asarray(flattened(dim).convert("L"), dtype=np.float32)
    assert abs(float(np.median(even[20:60, 20:60])) - 250.0) < 12.0


def test_photos_and_flat_images_are_not_read_flattened() -> None:
    for name in ("chelsea.jpg", "astronaut.jpg"):
        assert not looks_badly_lit(Image.open(UPRIGHT / name).convert("RGB"))
    assert not looks_badly_lit(Image.new("RGB", (300, 200), (0, 0, 0)))
    assert not looks_badly_lit(Image.new("RGB", (1, 1), (255, 255, 255)))


def test_the_flattened_image_is_rgb_and_stays_bitonal() -> None:
    image = Image.new("RGB", (64, 48), (200, 200, 200))
    image.info[BITONAL_KEY] = True
    out = flattened(image)
    assert out.mode == "RGB" and out.size == (64, 48) and out.info.get(BITONAL_KEY)


def test_the_smooth_surfaces_share_is_a_least_squares_fit() -> None:
    """The projection on the cached basis explains the same share of the background as a least squares fit would."""
    rng = np.random.default_rng(0)
    for height, width in ((48, 64), (4, 4), (3, 40), (1, 30)):
        rows, columns = np.mgrid[0:height, 0:width]
        background = (120 + 40 * np.sin(columns / 9.0) + 0.05 * rows ** 2 + rng.normal(0, 4, (height, width)))
        background = background.astype(np.float32)
        values = background.ravel().astype(np.float64)
        x, y = columns.ravel() / width, rows.ravel() / height
        terms = np.stack([x ** i * y ** j for i in range(4) for j in range(4 - i)], axis=1)
        fitted = terms @ np.linalg.lstsq(terms, values, rcond=None)[0]
        expected = 1.0 - float((values - fitted).var()) / float(values.var())
        assert abs(_smooth_share(background) - expected) < 1e-9, (height, width)
    assert _smooth_share(np.full((8, 8), 100.0, np.float32)) == 0.0

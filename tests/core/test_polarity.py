"""Pages printed light on dark: which images are read as their negatives too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from rotbgr_core.imageio import BITONAL_KEY, DETAIL_KEY
from rotbgr_core.polarity import looks_negative, negative

UPRIGHT = Path(__file__).resolve().parents[1] / "resources" / "upright"


def test_a_page_is_positive_and_its_negative_is_not() -> None:
    page = Image.open(UPRIGHT / "text_page.png").convert("RGB")
    assert not looks_negative(page)
    assert looks_negative(ImageOps.invert(page))


def test_a_negative_page_on_a_light_scanner_bed_is_found() -> None:
    """The page fills the middle of the scan: the bed around it does not hide it."""
    page = ImageOps.invert(Image.open(UPRIGHT / "text_page.png").convert("RGB"))
    scan = ImageOps.expand(page, border=(page.width // 4, page.height // 5), fill=(225, 225, 220))
    assert looks_negative(scan)


def test_images_without_bright_ink_or_with_busy_backgrounds_are_not_negative_pages() -> None:
    assert not looks_negative(Image.new("RGB", (800, 600), (10, 10, 10)))  # black: nothing printed
    assert not looks_negative(Image.new("RGB", (1, 1), (0, 0, 0)))
    assert not looks_negative(Image.open(UPRIGHT / "chelsea.jpg").convert("RGB"))  # a cat on a varied background
    noise = Image.effect_noise((400, 300), 90).convert("RGB")  # dark on average, nowhere flat
    assert not looks_negative(Image.eval(noise, lambda value: value // 3))


def test_the_negative_is_rgb_and_stays_bitonal() -> None:
    bitonal = Image.new("RGB", (40, 30), (0, 0, 0))
    bitonal.putpixel((3, 4), (255, 255, 255))
    bitonal.info[BITONAL_KEY] = True
    inverted = negative(bitonal)
    assert inverted.mode == "RGB" and inverted.info.get(BITONAL_KEY)
    assert inverted.getpixel((0, 0)) == (255, 255, 255) and inverted.getpixel((3, 4)) == (0, 0, 0)
    assert not negative(Image.new("L", (4, 4), 0)).info.get(BITONAL_KEY)


def test_the_negative_turns_a_screenshots_finer_copy_too() -> None:
    """A dark-themed screenshot's labels are read in its negative's finer grey copy (imageio.DETAIL_KEY)."""
    dark = Image.new("RGB", (40, 30), (20, 20, 20))
    dark.putpixel((3, 4), (230, 230, 230))
    detail = np.full((60, 80), 20, dtype=np.uint8)
    detail[6:20, 6:40] = 230  # a label: ink on a tenth of the copy
    dark.info[DETAIL_KEY] = detail
    inverted = negative(dark).info[DETAIL_KEY]
    assert inverted.shape == detail.shape and inverted[0, 0] >= 250 and inverted[6, 6] <= 5  # dark ink on white

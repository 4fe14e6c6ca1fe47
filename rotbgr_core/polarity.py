"""Pages printed light on dark: dark-mode screenshots, negative scans and microfilm, dark slides.

The networks learned pages as dark ink on light paper. Shown negative pages (100 calibration pages inverted), the
shipped model called 62 of them photos and got 51 wrong, 9 of those at confidence >= 0.8. So an image that
:func:`looks_negative` is read a second time as its :func:`negative`, and that reading is kept when it is a page
and surer than the first (:class:`rotbgr_core.predictor.DocumentAwarePredictor`). The test is loose on purpose:
about 6% of photos pass it (night scenes, dark studio backgrounds), and their negatives are mostly read as photos,
so they keep their first answer.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from rotbgr_core.imageio import BITONAL_KEY, DETAIL_KEY

#: The background (the median grey level, measured at about 256 px) is darker than this. Dark themes use 13-63.
NEGATIVE_BACKGROUND = 96
#: At least this share of the pixels lie within :data:`FLAT_BAND` grey levels of the background: a page is mostly
#: background, where a dark photo's shadows vary.
NEGATIVE_FLAT = 0.6
FLAT_BAND = 24
#: Ink: pixels brighter than the background by at least this, at about 256 px (where small text is averaged with
#: its background: grey text on a dark theme's grey, 130 levels apart, is about 30-50 above it); between these
#: shares of the image.
INK_STEP = 30
INK_SHARE = (0.001, 0.4)
_SIDE = 256
_MARGIN = 0.15


def looks_negative(image: Image.Image) -> bool:
    """Whether ``image`` may be a page printed light on dark: a flat dark background with some bright ink.

    Measured on the middle 70% of the image, where the page is: a negative scanned on a light bed is still found
    (222 -> 296 of 300 negative calibration scans).
    """
    factor = max(1, max(image.size) // _SIDE)
    small = image.reduce(factor) if factor > 1 and image.mode not in ("1", "P") else image
    grey = np.asarray(small.convert("L"), dtype=np.int16)
    height, width = grey.shape
    top, left = round(height * _MARGIN), round(width * _MARGIN)
    grey = grey[top:height - top, left:width - left]
    if grey.size == 0:
        return False
    background = float(np.median(grey))
    if background >= NEGATIVE_BACKGROUND:
        return False
    flat = float(np.mean(np.abs(grey - background) <= FLAT_BAND))
    ink = float(np.mean(grey > background + INK_STEP))
    return flat >= NEGATIVE_FLAT and INK_SHARE[0] <= ink <= INK_SHARE[1]


def negative(image: Image.Image) -> Image.Image:
    """The grey negative of ``image`` (in RGB), stretched to dark ink on white; still marked bitonal if it was.

    Grey and stretched rather than the colours inverted: a dark theme's coloured or dim ink (Solarized's grey-blue,
    a terminal's green) would otherwise come out as pale ink on a tinted page.
    """
    inverted = ImageOps.autocontrast(ImageOps.invert(image.convert("L")), cutoff=(0.1, 1)).convert("RGB")
    if image.info.get(BITONAL_KEY):
        inverted.info[BITONAL_KEY] = True
    detail = image.info.get(DETAIL_KEY)
    if detail is not None:
        # A dark-themed screenshot's finer copy, turned the same way.
        inverted.info[DETAIL_KEY] = np.asarray(ImageOps.autocontrast(ImageOps.invert(Image.fromarray(detail)),
                                                                     cutoff=(0.1, 1)))
    return inverted

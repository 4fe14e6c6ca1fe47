"""Pages under uneven light: phone photos of pages, scans near a book's spine, a lamp's fall-off.

The networks learned evenly lit paper. Lit by a ramp from one corner (35% brightness) to the other, 100 calibration
pages were 51 fully correct, 86 of them called photos; divided by their large-scale background first, 97. So an image
whose first answer is unsure and that :func:`looks_badly_lit` (its paper's brightness varies, and once that is
divided out most of it is paper) is read a second time as :func:`flattened`, and that reading is kept when it is a
page and surer than the first (:class:`rotbgr_core.predictor.DocumentAwarePredictor`). The test asks for light
that falls off smoothly, so that a scanner bed's edge in the middle of a scan does not pass it: about 3% of photos
and no calibration scan do. It looks at two regions: the middle 70% (a ramp, or a vignette whose corners are too
dark to show paper) and the whole image (a shadow along one edge, such as a book's spine, lies outside the middle).
A page lit evenly but dimly (a room's poor light: its paper grey) is read flattened the same way.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from rotbgr_core.imageio import BITONAL_KEY

#: The background is the grey image at a quarter of its size, dilated (ink removed) and blurred: about 50 px.
_SCALE = 4
_INK_KERNEL = 13
_BLUR = 4.0
#: The regions looked at: the middle 70% (15% off each side), then the whole image.
_MARGINS = (0.15, 0.0)
#: Uneven: the darkest 5% of the region's background under this share of its brightest 5%.
UNEVEN_RATIO = 0.8
#: ... and, divided by its background, at least this share of the region is paper (>= 92% of its background) ...
PAPER_SHARE = 0.6
PAPER_LEVEL = 0.92
#: ... and a smooth (cubic) surface explains this share of the background's variance: light falls off smoothly
#: (a ramp, a vignette, an edge's shadow), where a scanner bed's edge or a photo's scene is a step. Chosen on the
#: calibration pages under a ramp, a vignette and two edge shadows (96-99% pass), and the calibration photos and
#: scans (3% and none pass).
SMOOTH_FIT = 0.85
#: A dense page shows less paper: half of the region is enough where the surface explains almost all of the
#: background (a lens vignette: 15 more of 300 vignetted calibration pages pass, and no photo or scan more).
DENSE_PAPER_SHARE = 0.5
DENSE_SMOOTH_FIT = 0.97
#: The surface's degree in x and y together.
_SURFACE_DEGREE = 3
#: Dim: the brightest 5% of the middle's background (the paper) under this grey level (and not black), with at
#: least :data:`PAPER_SHARE` of the middle paper: a page photographed in a dim room. On calibration pages at 35%
#: brightness, 287 of 300 documents and 278 of 300 scans pass; no calibration photo, document or scan does.
DIM_LEVEL = 120
DIM_FLOOR = 20


def _background(grey: NDArray[np.float32]) -> NDArray[np.float32]:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_INK_KERNEL, _INK_KERNEL))
    return np.asarray(cv2.GaussianBlur(cv2.dilate(grey, kernel), (0, 0), _BLUR), dtype=np.float32)


def _small_grey(image: Image.Image) -> NDArray[np.float32]:
    """The image in grey at a quarter of its size (reduced before the grey conversion: a third of the time)."""
    small = image.reduce(_SCALE) if image.mode not in ("1", "P") and min(image.size) >= _SCALE else image
    return np.asarray(small.convert("L"), dtype=np.float32)


def looks_badly_lit(image: Image.Image) -> bool:
    """Whether ``image`` may be a page whose paper is lit unevenly (in its middle 70% or as a whole) or dimly."""
    small = _small_grey(image)
    background = _background(small)
    return _dim(small, background) or any(_uneven_region(small, background, margin) for margin in _MARGINS)


def _region(shape: tuple[int, ...], margin: float) -> tuple[slice, slice]:
    """The part of an image of ``shape`` that lies ``margin`` of its height and width in from each side."""
    top, left = round(shape[0] * margin), round(shape[1] * margin)
    return slice(top, shape[0] - top), slice(left, shape[1] - left)


def _dim(small: NDArray[np.float32], background: NDArray[np.float32]) -> bool:
    """Whether the middle 70% is mostly paper, and that paper is dim."""
    middle = _region(small.shape, _MARGINS[0])
    if small[middle].size == 0:
        return False
    paper_level = float(np.percentile(background[middle][::4, ::4], 95))
    if not DIM_FLOOR <= paper_level < DIM_LEVEL:
        return False
    return float(np.mean(small[middle] / np.maximum(background[middle], 8.0) >= PAPER_LEVEL)) >= PAPER_SHARE


def _uneven_region(small: NDArray[np.float32], background: NDArray[np.float32], margin: float) -> bool:
    """The three tests of :func:`looks_badly_lit` on the region ``margin`` in from each side."""
    region = _region(small.shape, margin)
    if small[region].size == 0:
        return False
    low, high = np.percentile(background[region][::4, ::4], [5, 95])  # smooth: a sixteenth of it will do
    if high < 1.0 or low / high >= UNEVEN_RATIO:
        return False
    paper = float(np.mean(small[region] / np.maximum(background[region], 8.0) >= PAPER_LEVEL))
    if paper < DENSE_PAPER_SHARE:
        return False
    fit = _smooth_share(background[region][::4, ::4])
    return fit >= (SMOOTH_FIT if paper >= PAPER_SHARE else DENSE_SMOOTH_FIT)


def _surface_terms(height: int, width: int) -> NDArray[np.float64]:
    """The cubic surface's terms (one column each) over a grid of ``height`` x ``width``."""
    rows, columns = np.mgrid[0:height, 0:width]
    x = columns.ravel() / max(1, width)
    y = rows.ravel() / max(1, height)
    return np.stack([x ** i * y ** j for i in range(_SURFACE_DEGREE + 1)
                     for j in range(_SURFACE_DEGREE + 1 - i)], axis=1)


@functools.lru_cache(maxsize=8)
def _surface_basis(height: int, width: int) -> NDArray[np.float64]:
    """An orthonormal basis of the cubic surfaces over a grid (of full rank: at least 4 x 4), for its projection.

    Cached: the images of a batch mostly share a size. Projecting on it costs two small products, where a least
    squares solve cost about 1 ms, and 2.5 with both cores busy; the residual is the same.
    """
    basis, _ = np.linalg.qr(_surface_terms(height, width))
    return np.asarray(basis, dtype=np.float64)


def _smooth_share(background: NDArray[np.float32]) -> float:
    """The share of ``background``'s variance that a smooth surface (a cubic in x and y) explains."""
    values = background.ravel().astype(np.float64)
    variance = float(values.var())
    if variance <= 0:
        return 0.0
    height, width = background.shape
    if min(height, width) > _SURFACE_DEGREE:
        basis = _surface_basis(height, width)
        residual = values - basis @ (basis.T @ values)
    else:  # too few rows or columns for every term: least squares copes with the lost rank
        terms = _surface_terms(height, width)
        coefficients, *_ = np.linalg.lstsq(terms, values, rcond=None)
        residual = values - terms @ coefficients
    return 1.0 - float(residual.var()) / variance


def flattened(image: Image.Image) -> Image.Image:
    """``image`` in grey (as RGB) divided by its large-scale background: evenly lit paper; still bitonal if it was."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    background = cv2.resize(_background(_small_grey(image)), (grey.shape[1], grey.shape[0]),
                            interpolation=cv2.INTER_LINEAR)
    even = np.clip(grey * 255.0 / np.maximum(background, 8.0), 0, 255).astype(np.uint8)
    result = Image.fromarray(even).convert("RGB")
    if image.info.get(BITONAL_KEY):
        result.info[BITONAL_KEY] = True
    return result

"""Classical skew estimation: the dominant line orientation, modulo 90 degrees.

Two measurements, both returned as a *correction* in the geometry module's
convention (rotate the input counter-clockwise by the angle to straighten it):

* :func:`edge_orientation` - a magnitude-weighted histogram of gradient
  directions folded modulo 90 degrees.  Cheap, works for text and for man-made
  structure in photos (horizons, walls, window frames).
* :func:`refine_text_skew` - projection profiles of ink pixels find the text
  lines; the ink's power spectrum (a radial projection, as jdeskew does) pins
  their angle to about a hundredth of a degree.

:func:`estimate_skew` chains them for text pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

Gray = NDArray[np.uint8]


@dataclass(frozen=True)
class SkewEstimate:
    """A skew correction in ``[-45, 45)`` degrees and how much to trust it.

    ``strength`` is in ``[0, 1]``: how clearly one orientation dominates.
    ``text_fraction`` is the share of pixels that look like ink.
    ``lines_vertical`` says whether the refined text lines run vertically, i.e.
    the page is sideways (only meaningful when ``method`` is ``"fourier"``).
    """

    angle: float
    strength: float
    text_fraction: float
    method: str
    lines_vertical: bool = False


def _fold45(angle: float) -> float:
    """Fold an angle modulo 90 into ``[-45, 45)``."""
    return ((angle + 45.0) % 90.0) - 45.0


def shrunk_gray(gray: Gray, side: int) -> Gray:
    """``gray`` scaled by ``side / long side`` when that is under 1 (area interpolation), else as it is.

    The scale is exact rather than derived from a rounded size (unlike :func:`rotbgr_core.learned.shrink`): the
    thresholds on the measures that use this were chosen on images shrunk this way. A sliver (3 x 5000 px), whose
    short side would round to nothing, keeps at least one pixel across.
    """
    scale = side / max(gray.shape)
    if scale >= 1:
        return gray
    if min(gray.shape) * scale >= 1:
        return np.asarray(cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    return np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def edge_orientation(gray: Gray, max_side: int = 512) -> tuple[float, float]:
    """Dominant edge orientation modulo 90, as a correction, with a strength.

    Returns ``(angle, strength)``; strength is the share of the gradient energy
    that lies within a degree of the peak, rescaled so that a random texture
    gives about 0 and a clean page about 1.
    """
    image = np.asarray(shrunk_gray(gray, max_side), dtype=np.float32)
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    threshold = np.percentile(magnitude, 90)
    keep = magnitude > max(threshold, 1e-3)
    if keep.sum() < 50:
        return 0.0, 0.0
    alpha = np.degrees(np.arctan2(gy[keep], gx[keep]))
    weights = magnitude[keep]
    # Correction phi satisfies phi = alpha (mod 90); see the module docstring.
    folded = np.mod(alpha, 90.0)
    bins = 360  # 0.25 degree bins over [0, 90)
    hist, _ = np.histogram(folded, bins=bins, range=(0.0, 90.0), weights=weights)
    kernel = np.exp(-0.5 * (np.arange(-8, 9) / 2.0) ** 2)
    padded = np.concatenate([hist[-8:], hist, hist[:8]])
    smooth = np.convolve(padded, kernel, mode="same")[8:-8]
    peak = int(np.argmax(smooth))
    left, right = smooth[(peak - 1) % bins], smooth[(peak + 1) % bins]
    denom = left - 2 * smooth[peak] + right
    offset = 0.5 * (left - right) / denom if denom != 0 else 0.0
    angle = (peak + 0.5 + offset) * (90.0 / bins)
    window = np.take(hist, range(peak - 4, peak + 5), mode="wrap").sum()
    share = window / max(hist.sum(), 1e-9)
    baseline = 9.0 / bins
    strength = float(np.clip((share - baseline) / (0.5 - baseline), 0.0, 1.0))
    return _fold45(angle), strength


#: Long side (px) of the copy in which :func:`tilt_line_support` finds straight segments.
LINE_SIDE = 512
#: Segment length (in image diagonals) added to both sides of :func:`tilt_line_support`'s ratio, so that a few
#: short segments on an otherwise empty side do not make it extreme.
LINE_PRIOR = 0.05


def line_segments(gray: Gray) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Straight segments of a grey image, from OpenCV's line segment detector.

    Returns their lengths, in image diagonals, and their directions, in degrees (``arctan2`` of rows over columns).
    """
    found = cv2.createLineSegmentDetector().detect(np.ascontiguousarray(gray))[0]
    if found is None:
        return np.zeros(0), np.zeros(0)
    segments = np.asarray(found, dtype=np.float64).reshape(-1, 4)
    dx, dy = segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1]
    return np.hypot(dx, dy) / math.hypot(*gray.shape), np.degrees(np.arctan2(dy, dx))


def tilt_line_support(gray: Gray, angle: float, tolerance: float = 1.0) -> float:
    """How much more straight-line length runs along a tilt than along the level, as a log ratio.

    Straight segments come from OpenCV's line segment detector on a copy with a long side of
    :data:`LINE_SIDE` px. Their lengths (in image diagonals) are summed where the segment lies within
    ``tolerance`` degrees of ``angle`` modulo 90, and where it lies within ``tolerance`` of 0 modulo 90 (level
    or plumb); the result is ``log((along + p) / (level + p))`` with ``p`` = :data:`LINE_PRIOR`. A gradient
    histogram (:func:`edge_orientation`) also counts texture; a horizon, a wall or a mast is a long straight
    segment, which foliage and fur rarely make. Positive: the tilt has the straighter lines.
    """
    lengths, direction = line_segments(shrunk_gray(gray, LINE_SIDE))
    # A segment along direction theta straightens by a correction of theta modulo 90 (see the module docstring).

    def along(target: float) -> float:
        off = np.mod(direction - target + 45.0, 90.0) - 45.0
        return float(lengths[np.abs(off) <= tolerance].sum())

    return math.log((along(angle) + LINE_PRIOR) / (along(0.0) + LINE_PRIOR))


#: :func:`square_lines` counts segments at least this long (in image diagonals) ...
SQUARE_MIN_SEGMENT = 0.02
#: ... within this many degrees of their dominant direction modulo 90.
SQUARE_TOLERANCE = 1.0


def square_lines(gray: Gray) -> tuple[float, float]:
    """How a picture's long straight lines run: the share of their length square to one direction, and that length.

    Segments from OpenCV's line segment detector (on the image as it is: at most 1,024 px at prediction) of at least
    :data:`SQUARE_MIN_SEGMENT` image diagonals. Their directions modulo 90 are binned by half a degree, weighted by
    length; those within :data:`SQUARE_TOLERANCE` of the heaviest bin are square to it. A screen's windows, bars and
    rules all run along its two axes (80-100% of its line length, 5-16 diagonals in all); a photo's edges run every
    way, or are few. About 40-140 ms at 1,024 px.
    """
    lengths, directions = line_segments(gray)
    folded = np.mod(directions, 90.0)
    keep = lengths >= SQUARE_MIN_SEGMENT
    lengths, folded = lengths[keep], folded[keep]
    total = float(lengths.sum())
    if total <= 0.0:
        return 0.0, 0.0
    histogram, _ = np.histogram(folded, bins=180, range=(0.0, 90.0), weights=lengths)
    peak = (int(np.argmax(histogram)) + 0.5) * 0.5
    square = float(lengths[np.abs(np.mod(folded - peak + 45.0, 90.0) - 45.0) <= SQUARE_TOLERANCE].sum())
    return square / total, square


#: Grey levels between the darkest and lightest 0.1% of an image shrunk to 256 px, under which it shows nothing.
FEATURELESS_SPREAD = 12.0


def is_featureless(gray: Gray) -> bool:
    """Whether an image shows nothing to orient: a blank page, a flat colour, a single pixel.

    Shrunk to 256 px by area (which averages sensor and paper noise away), a blank page scanned with noise and
    shading spans 5-6 grey levels; every one of the 600 calibration pages spans 63 or more (the faintest photo
    crop: 3). Such an image has no orientation, and the least surprising answer is to leave it as it is.
    """
    scale = 256 / max(gray.shape)
    small = gray
    if scale < 1:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        small = np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    low, high = np.percentile(small, [0.1, 99.9])
    return bool(high - low < FEATURELESS_SPREAD)


#: Ink is darker than its neighbourhood's mean by this many grey levels (the local threshold's offset) ...
INK_CONTRAST = 12.0
#: ... or by this many times the image's noise deviation (:func:`noise_level`), where that is more. A page read
#: flattened out of a dim room (:mod:`rotbgr_core.flatfield`) has its noise tripled (a deviation of 4-6 at the
#: prediction size, against under 1.5 for nine in ten scans): at 12 grey levels the noise passes for ink, and the
#: skew search locks onto its pixel lattice (0 degrees). Chosen on the 300 calibration scans in a dim room, flattened:
#: within 2 degrees 95.0% at 12, 98.9% at 5 and 6 times, 99.6% at 7; 100% of the dim documents at every factor.
NOISE_CONTRAST = 7.0
#: The kernel whose response to flat grey (and to any plane) is zero, and to white noise of deviation ``s`` has
#: deviation ``6 s`` (Immerkaer's estimator).
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
#: The centred window the noise is measured in (px): half a millisecond on any image.
_NOISE_WINDOW = 512


def noise_level(gray: Gray) -> float:
    """The deviation of ``gray``'s pixel noise: the median absolute :data:`_NOISE_KERNEL` response, robustly scaled.

    The median ignores the text's edges, which are a minority of the pixels on any page.
    """
    height, width = gray.shape
    top, left = max(0, (height - _NOISE_WINDOW) // 2), max(0, (width - _NOISE_WINDOW) // 2)
    window = np.ascontiguousarray(gray[top:top + _NOISE_WINDOW, left:left + _NOISE_WINDOW])
    if min(window.shape) < 3:
        return 0.0
    response = np.abs(cv2.filter2D(window, cv2.CV_16S, _NOISE_KERNEL)[1:-1, 1:-1].astype(np.int32))
    counts = np.cumsum(np.bincount(response.ravel()))
    median = int(np.searchsorted(counts, counts[-1] / 2.0))
    # For Gaussian noise the median absolute value is 0.6745 deviations (1 / 0.6745 = 1.4826).
    return median * 1.4826 / 6.0


def ink_mask(gray: Gray, contrast: float = INK_CONTRAST) -> tuple[NDArray[np.bool_], float]:
    """Pixels that look like text ink, without large blobs (borders, photos).

    Returns the mask and the share of ink pixels in the image.
    """
    mask, fraction, _ = ink_components(gray, contrast)
    return mask, fraction


def ink_components(gray: Gray, contrast: float = INK_CONTRAST) -> tuple[NDArray[np.bool_], float, NDArray[np.int32]]:
    """:func:`ink_mask`, and the OpenCV statistics rows (left, top, width, height, area) of its components.

    The mask's own connected components are exactly these (kept components never touch each other), so callers
    that need their sizes need not label the mask again.
    """
    # A local threshold: ink is darker than its neighbourhood, so a dark scanner bed,
    # shading or a tinted page do not swamp it the way a global (Otsu) threshold does.
    blurred = cv2.GaussianBlur(gray, (3, 3), 0)
    block = max(15, (min(gray.shape) // 30) | 1)
    binary = cv2.adaptiveThreshold(blurred, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, contrast)
    # Grana's labelling gives OpenCV's default labels and statistics exactly, in about half the time on one thread.
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(binary, 8, cv2.CV_32S, cv2.CCL_GRANA)
    height, width = gray.shape
    small = (
        (stats[:, cv2.CC_STAT_HEIGHT] < max(4, height // 6))
        & (stats[:, cv2.CC_STAT_WIDTH] < max(4, width // 3))
        & (stats[:, cv2.CC_STAT_AREA] >= 2)
    )
    small[0] = False
    # A byte lookup table, viewed as booleans: the same mask as ``small[labels]``, twice as fast.
    mask = np.take(small.view(np.uint8), np.asarray(labels, dtype=np.int32)).view(np.bool_)
    return mask, np.count_nonzero(mask) / mask.size, np.asarray(stats[small], dtype=np.int32)


def _profile_scores(
    ys: NDArray[np.float32], xs: NDArray[np.float32], tilts: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Sharpness (sum of squared bin counts) of the ink's projection across lines of each tilt."""
    scores = np.empty(len(tilts))
    for index, tilt in enumerate(tilts):
        theta = math.radians(tilt)
        projection = xs * math.sin(theta) + ys * math.cos(theta)
        bins = np.floor(projection - projection.min()).astype(np.int64)
        counts = np.bincount(bins)
        scores[index] = float(np.dot(counts, counts))
    return scores


def _parabolic_peak(candidates: NDArray[np.float64], scores: NDArray[np.float64]) -> float:
    """The best candidate, refined by a parabola through its neighbours."""
    top = int(np.argmax(scores))
    if 0 < top < len(scores) - 1:
        left, mid, right = scores[top - 1], scores[top], scores[top + 1]
        denom = left - 2 * mid + right
        shift = 0.5 * (left - right) / denom if denom != 0 else 0.0
        step = float(candidates[1] - candidates[0])
        return float(candidates[top] + float(np.clip(shift, -1, 1)) * step)
    return float(candidates[top])


def _half_spectrum(mask: NDArray[np.bool_]) -> tuple[NDArray[np.float32], int]:
    """Log-magnitude spectrum of the ink, zero-padded to a square power of two.

    Only the half plane of non-negative vertical frequencies is kept (the
    spectrum of a real image is symmetric); returns it and the padded size.
    """
    size = 1 << math.ceil(math.log2(max(mask.shape)))
    padded = np.zeros((size, size), dtype=np.float32)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    # OpenCV's DFT is about twice as fast as numpy's here; rows 0..size/2 are ky >= 0, columns kx.
    spectrum = cv2.dft(padded, flags=cv2.DFT_COMPLEX_OUTPUT)[: size // 2 + 1]
    magnitude = cv2.magnitude(spectrum[:, :, 0], spectrum[:, :, 1])
    # OpenCV's log: about 2 ms at 2048 px, where numpy's float32 log1p took 35 (the same within 5e-7).
    return np.asarray(cv2.log(magnitude + np.float32(1.0)), dtype=np.float32), size


def _ray_scores(magnitude: NDArray[np.float32], size: int, tilts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Spectral energy along the ray normal to lines of each tilt (bilinear samples), all tilts at once."""
    radii = np.arange(4.0, size // 2 - 2, 0.5, dtype=np.float32)
    theta = np.radians(tilts)
    flip = np.where(np.cos(theta) < 0, -1.0, 1.0)
    sines = (np.sin(theta) * flip).astype(np.float32)[:, None]
    cosines = (np.cos(theta) * flip).astype(np.float32)[:, None]
    ky, kx = radii * cosines, np.mod(radii * sines, np.float32(size))
    y0, x0 = np.floor(ky).astype(np.int64), np.floor(kx).astype(np.int64)
    fy, fx = ky - y0, kx - x0
    x0 %= size
    x1 = (x0 + 1) % size
    values = (
        magnitude[y0, x0] * (1 - fx) * (1 - fy)
        + magnitude[y0, x1] * fx * (1 - fy)
        + magnitude[y0 + 1, x0] * (1 - fx) * fy
        + magnitude[y0 + 1, x1] * fx * fy
    )
    return np.asarray(values.sum(axis=1), dtype=np.float64)


def _spectral_peak(magnitude: NDArray[np.float32], size: int, tilt: float) -> tuple[float, float]:
    """The tilt near ``tilt`` (within about 1.5 degrees) with the most spectral energy, and that energy."""
    for step, span in ((0.05, 1.5), (0.005, 0.06)):
        candidates = tilt + np.arange(-span, span + 1e-9, step)
        tilt = _parabolic_peak(candidates, _ray_scores(magnitude, size, candidates))
    return tilt, float(_ray_scores(magnitude, size, np.array([tilt]))[0])


def _near(tilt: float, window: float) -> NDArray[np.float64]:
    """Tilts within ``window`` of ``tilt`` in half-degree steps, for lines across and down the page."""
    steps = np.arange(-window, window + 1e-9, 0.5)
    across = ((tilt + 90.0) % 180.0) - 90.0
    down = ((tilt + 180.0) % 180.0) - 90.0
    return np.concatenate([across + steps, down + steps])


def refine_text_skew(gray: Gray, guess: float | None = None, window: float = 2.0,
                     hint: float | None = None, contrast: float = INK_CONTRAST) -> SkewEstimate:
    """Skew of text lines: projection profiles find them, the Fourier spectrum pins them.

    Without a ``guess`` the lines' tilt is searched over the whole half circle
    (lines running across or down the page) by projection profiles of the ink
    in 1-degree steps; with one, only ``guess +- window``.  The tilt is then
    refined to about a hundredth of a degree on the ink's power spectrum, whose
    peak along the lines' normal does not depend on where each column's lines
    start (projections of multi-column pages do).

    A ``hint`` (a correction, e.g. the image's dominant edge orientation) is a
    second start for the whole-circle search, tried when it is more than a
    degree away from the first: if it ends on another peak (more than a degree
    away) with more spectral energy, that peak wins.  Profiles can peak at a
    false tilt (the pixel lattice of a dithered scanner bed, a table's rules,
    large glyphs) while the page edges or the text's strokes point at the true
    one; on the calibration pages the spectrum chose right every time the two
    starts disagreed.
    """
    mask, fraction = ink_mask(gray, contrast)
    # The ink's coordinates in row-major order, as ``np.nonzero`` gives them (OpenCV: 2-3 times faster).
    found = cv2.findNonZero(np.ascontiguousarray(mask).view(np.uint8))
    points = np.zeros((0, 2), dtype=np.int32) if found is None else np.asarray(found).reshape(-1, 2)
    ys, xs = points[:, 1], points[:, 0]
    if len(ys) < 200:
        fallback = 0.0 if guess is None else guess
        return SkewEstimate(_fold45(fallback), 0.0, fraction, "none")
    rng = np.random.default_rng(0)
    if len(ys) > 15_000:
        pick = rng.choice(len(ys), 15_000, replace=False)
        ys, xs = ys[pick], xs[pick]
    # Sub-pixel jitter stops the pixel lattice from favouring 0 and 45 degrees.
    ys_f = (ys - ys.mean() + rng.uniform(-0.5, 0.5, len(ys))).astype(np.float32)
    xs_f = (xs - xs.mean() + rng.uniform(-0.5, 0.5, len(xs))).astype(np.float32)
    # Tilts are the lines' own ccw tilt, the correction's negative.
    coarse = np.arange(-90.0, 90.0, 1.0) if guess is None else -guess + np.arange(-window, window + 1e-9, 0.5)
    coarse_scores = _profile_scores(ys_f, xs_f, coarse)
    tilt = float(coarse[int(np.argmax(coarse_scores))])
    magnitude, size = _half_spectrum(mask)
    tilt, energy = _spectral_peak(magnitude, size, tilt)
    if guess is None and hint is not None and abs(_fold45(-tilt - hint)) > 1.0:
        starts = _near(-hint, window)
        start = float(starts[int(np.argmax(_profile_scores(ys_f, xs_f, starts)))])
        other, other_energy = _spectral_peak(magnitude, size, start)
        if other_energy > energy and abs(_fold45(other - tilt)) > 1.0:  # another peak, not the same one again
            tilt = other
    floor = float(np.median(coarse_scores))
    peak = float(coarse_scores.max())
    strength = float(np.clip((peak - floor) / max(peak, 1e-9) * 1.5, 0.0, 1.0))
    vertical = abs(_fold45(tilt) - tilt) > 45.0 - 1e-9
    return SkewEstimate(_fold45(-tilt), strength, fraction, "fourier", vertical)


def estimate_skew(gray: Gray, edge: tuple[float, float] | None = None) -> SkewEstimate:
    """Skew of a text page in ``[-45, 45)``: projections and spectrum, else the edge orientation.

    ``edge``, the page's :func:`edge_orientation` when the caller has it, is the search's second start (see
    :func:`refine_text_skew`) and the answer where there is too little ink; it is measured here otherwise.
    """
    refined = refine_text_skew(gray, hint=None if edge is None else edge[0],
                               contrast=max(INK_CONTRAST, NOISE_CONTRAST * noise_level(gray)))
    if refined.method == "none":
        guess, edge_strength = edge_orientation(gray) if edge is None else edge
        return SkewEstimate(guess, edge_strength * 0.5, refined.text_fraction, "edges")
    return refined


#: A deskewed page's text lines, found as its ink smeared along them: blobs at least this share of the page's width
#: and this many times longer than high.
LINE_MIN_WIDTH = 0.1
LINE_MIN_ELONGATION = 6.0
#: A page whose lines, fitted at its centre, are tilted by at least this much (degrees) against its deskewed lines ...
SLANT_MIN_TILT = 1.5
#: ... and whose ink's projection across the lines is nearly as sharp at that tilt (this share of its sharpness at the
#: deskewed one) has lines that are not parallel: a page photographed at a slant or bent near the spine. Only pages
#: with at least :data:`SLANT_MIN_LINES` lines whose tilts the fit explains within :data:`SLANT_MAX_SPREAD` degrees
#: (width-weighted root mean square) are judged: with fewer, or more scattered, "lines" (columns, figures, a
#: thumbnail's merged rows), the fit is not the page's. Chosen on the calibration stress sets (session 33).
SLANT_PROFILE_SHARE = 0.8
SLANT_MIN_LINES = 12
SLANT_MAX_SPREAD = 2.0


def line_tilts(mask: NDArray[np.bool_], vertical: bool = False) -> NDArray[np.float64]:
    """Rows ``(tilt, width, position)`` of a deskewed ink mask's text lines, tilt in degrees counter-clockwise.

    Each line is its ink smeared along the lines (a dilation about 1/60 of the page long) into one blob, measured at
    half size; its tilt is the blob's principal axis (second moments), its weight its width, its position its
    centre across the lines (0 to 1, from the top). ``vertical``: the lines run down the page; they are measured as
    the page turned a quarter counter-clockwise shows them.
    """
    height, width = mask.shape
    smear = max(9, (height if vertical else width) // 60)
    kernel = np.ones((smear, 3) if vertical else (3, smear), np.uint8)
    # Every other row and column of the smeared blobs: a quarter of the labelling, the tilts within a tenth of a degree.
    blobs = cv2.dilate(mask.view(np.uint8), kernel)[::2, ::2]
    blobs = np.ascontiguousarray(np.rot90(blobs, 1) if vertical else blobs)
    across_width = blobs.shape[1]
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(blobs, 8, cv2.CV_32S, cv2.CCL_GRANA)
    rows = []
    for index in range(1, count):
        left, top, blob_width, blob_height = (int(value) for value in stats[index, :4])
        if blob_width < LINE_MIN_WIDTH * across_width or blob_width < LINE_MIN_ELONGATION * blob_height:
            continue
        blob = (labels[top:top + blob_height, left:left + blob_width] == index).view(np.uint8)
        moments = cv2.moments(blob, True)
        # Image rows grow downwards: a line rising to the right has a negative mu11, a counter-clockwise tilt.
        tilt = -0.5 * math.degrees(math.atan2(2.0 * moments["mu11"], moments["mu20"] - moments["mu02"]))
        rows.append((tilt, float(blob_width), (top + moments["m01"] / max(moments["m00"], 1.0)) / blobs.shape[0]))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def line_fit(tilts: NDArray[np.float64]) -> tuple[float, float, float]:
    """A page's line tilts (rows of :func:`line_tilts`) fitted as a straight function of their position.

    Returns the fit at the page's centre, its slope (degrees from the top of the page to its bottom) and the
    residual's width-weighted root mean square. Each line weighs the square root of its width.
    """
    weights = np.sqrt(tilts[:, 1])
    design = np.stack([np.ones(len(tilts)), tilts[:, 2] - 0.5], axis=1)
    fit, *_ = np.linalg.lstsq(design * weights[:, None], tilts[:, 0] * weights, rcond=None)
    residuals = tilts[:, 0] - design @ fit
    return float(fit[0]), float(fit[1]), float(math.sqrt(np.average(residuals ** 2, weights=tilts[:, 1])))


def slant_correction(mask: NDArray[np.bool_], vertical: bool, tilts: NDArray[np.float64] | None = None) -> float:
    """Degrees counter-clockwise that turn a deskewed page's lines level at its centre, where they are not parallel.

    The skew search pins the ink's sharpest projection, which follows one group of lines. On a page photographed
    at a slant, the lines fan out: each is tilted in proportion to its distance from the page's centre, where
    a line would be level. Bent near the spine, they bow. The answer then follows the lines at one side, a few
    degrees off. The lines' tilts are fitted as a straight function of their position across the page (weighted by
    their widths), and the fit is read at the centre. That value is used only:
    - where it is at least :data:`SLANT_MIN_TILT` off;
    - where the projection at that tilt is nearly as sharp (:data:`SLANT_PROFILE_SHARE`): on a flat page the
      deskewed projection is far sharper than one a degree off;
    - on pages of enough lines (:data:`SLANT_MIN_LINES`) that the fit explains well enough
      (:data:`SLANT_MAX_SPREAD`).

    ``vertical``: the page's lines run down the deskewed page; ``tilts``: its :func:`line_tilts`, where the caller
    has them. 0 where no correction applies.
    """
    if tilts is None:
        tilts = line_tilts(mask, vertical)
    if len(tilts) < SLANT_MIN_LINES:
        return 0.0
    middle, _, spread = line_fit(tilts)
    if spread > SLANT_MAX_SPREAD:
        return 0.0
    if abs(middle) < SLANT_MIN_TILT:
        return 0.0
    across = np.ascontiguousarray(np.rot90(mask, 1)) if vertical else mask
    found = cv2.findNonZero(across.view(np.uint8))
    points = np.asarray(found, dtype=np.float32).reshape(-1, 2)
    if len(points) > 15_000:
        points = points[np.random.default_rng(0).choice(len(points), 15_000, replace=False)]
    xs, ys = points[:, 0] - points[:, 0].mean(), points[:, 1] - points[:, 1].mean()
    level, tilted = _profile_scores(ys, xs, np.array([0.0, middle]))
    if tilted < SLANT_PROFILE_SHARE * level:
        return 0.0
    return -middle


#: The strokes across a deskewed page's lines (a letter's stems) are measured in its middle half, each way, on the
#: edges among the strongest tenth of its gradients that run within 45 degrees of across the lines.
STROKE_REGION = 0.5
STROKE_EDGE_PERCENTILE = 90.0
#: Their tilt is the peak of the edges' directions (a histogram in half-degree steps, smoothed over 4.5 degrees),
#: moved to the weighted mean of the directions within this many degrees of it, a few times.
STROKE_WINDOW = 8.0


def stroke_tilt(gray: Gray, vertical: bool, sigma: float) -> float:
    """Counter-clockwise tilt, in degrees, of the strokes that cross a deskewed page's lines, in its middle.

    ``gray``: the deskewed page; ``vertical``: its lines run down it; ``sigma``: a Gaussian blur (pixels) first, or
    0. On a level page they stand upright (0); sheared, they lean. Small-kernel gradients read a thin stroke's lean
    short (a three-degree lean as about 2.3), a blur of a pixel does not; the blur's reading, in turn, can be pulled
    by a page's own slanted shapes. Both are used (:func:`keystone_correction`).
    """
    page = np.ascontiguousarray(np.rot90(gray, 1)) if vertical else gray
    height, width = page.shape
    margin_y, margin_x = (int(side * (1.0 - STROKE_REGION) / 2.0) for side in (height, width))
    region = page[margin_y:height - margin_y, margin_x:width - margin_x].astype(np.float32)
    if region.size < 400:
        return 0.0
    if sigma > 0:
        region = np.asarray(cv2.GaussianBlur(region, (0, 0), sigma), dtype=np.float32)
    gx = cv2.Sobel(region, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(region, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    edges = (magnitude > np.percentile(magnitude, STROKE_EDGE_PERCENTILE)) & (np.abs(gy) < np.abs(gx))
    if np.count_nonzero(edges) < 50:
        return 0.0
    # A stroke leaning counter-clockwise has its gradient turned clockwise: image rows grow downwards.
    lean = np.degrees(np.arctan(gy[edges] / gx[edges]))
    weights = magnitude[edges]
    histogram, bounds = np.histogram(lean, bins=180, range=(-45.0, 45.0), weights=weights)
    histogram = np.convolve(histogram, np.ones(9) / 9.0, mode="same")
    peak = float(bounds[int(np.argmax(histogram))]) + 0.25
    for _ in range(4):
        near = np.abs(lean - peak) < STROKE_WINDOW
        if not near.any():
            break
        peak = float(np.average(lean[near], weights=weights[near]))
    return -peak


#: A page photographed at a slant is answered by its lines and its strokes together only where at least this many
#: lines are found, ...
KEYSTONE_MIN_LINES = 8
#: ... their tilts change by at least this many degrees from its top to its bottom (they converge), ...
KEYSTONE_MIN_CONVERGENCE = 4.0
#: ... the strokes' two readings (sharp and blurred) agree within this many degrees or this share of the lean (the
#: sharp reading falls about a quarter short on thin strokes: at a lean of 8-10 degrees, 2 degrees short), ...
KEYSTONE_MAX_DISAGREEMENT = 2.0
KEYSTONE_MAX_SHORTFALL = 0.3
#: ... lean at most this much (a steeper lean is a page's own slanted shapes, as italics' 12 degrees) ...
KEYSTONE_MAX_LEAN = 12.0
#: ... and are not square to the lines by at least this much. Chosen on the calibration stress sets (session 34).
KEYSTONE_MIN_SHEAR = 2.0


def keystone_correction(gray: Gray, vertical: bool, tilts: NDArray[np.float64], slant: float) -> float:
    """Degrees counter-clockwise that turn a deskewed page upright at its centre, seen at a slant.

    A page photographed at a slant (its far edge shorter) and turned in the photo by some angle is not only
    rotated but sheared: in its middle, its lines and the strokes that cross them are no longer square to each
    other. Lines at 45 degrees under a quarter-shorter top edge show at about 49, its strokes at about 131. No
    turn makes both level and upright. The one nearest the distortion (the rotation of its polar decomposition)
    splits the difference: the mean of the lines' tilt and the strokes' lean. Turning by the lines alone leaves the
    answer off by half the shear: up to 4-5 degrees.

    ``gray``: the deskewed page; ``vertical``: its lines run down it; ``tilts``: its :func:`line_tilts`;
    ``slant``: :func:`slant_correction`'s answer (the lines' tilt at the centre, negated, where it applies; 0 where
    the deskewed lines are taken as level). Returns ``slant`` unless every test of :data:`KEYSTONE_MIN_LINES` to
    :data:`KEYSTONE_MIN_SHEAR` passes.
    """
    if len(tilts) < KEYSTONE_MIN_LINES or abs(line_fit(tilts)[1]) < KEYSTONE_MIN_CONVERGENCE:
        return slant
    lean, lines = stroke_tilt(gray, vertical, 1.0), -slant
    if abs(lean) > KEYSTONE_MAX_LEAN or abs(lean - lines) < KEYSTONE_MIN_SHEAR:
        return slant
    agreement = max(KEYSTONE_MAX_DISAGREEMENT, KEYSTONE_MAX_SHORTFALL * abs(lean))
    if abs(lean - stroke_tilt(gray, vertical, 0.0)) > agreement:
        return slant
    return -(lines + lean) / 2.0

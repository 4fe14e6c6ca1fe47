"""The learned predictor: classical fine angle, a CNN for the quarter turn and mirror.

How one image is predicted (every image is RGB, long side <= 1024 px):

1. The dominant edge orientation (:func:`rotbgr_core.skew.edge_orientation`)
   gives a correction ``e`` modulo 90 degrees.
2. The image, turned by ``e`` and cropped inside its content, is shrunk to a
   small square "global view".  The network (:class:`RotNet`) says which of the
   eight remaining corrections (quarter turn ``k`` times mirror ``m``) makes it
   upright, whether it is a document, and a small remaining angle for photos.
3. Documents: projection profiles and the ink's spectrum
   (:func:`rotbgr_core.skew.estimate_skew`, with ``e`` as a second start) give
   the precise skew ``r``; the page turned by ``r`` gives text-dense patches at
   full resolution whose class log-probabilities are added to the global view's.
   Photos: ``r = e``, plus the network's remaining angle where the line evidence
   is weak.
4. The answer is ``(r + 90 k, m)``; the confidence is a logistic calibration of
   the network's margins and the skew evidence, fitted on held-out
   training-split samples and stored in the weights file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image

from rotbgr_core.geometry import inscribed_size, normalize_angle, rotate_array_expanded
from rotbgr_core.imageio import BITONAL_KEY, use_torch_reduction
from rotbgr_core.learned_net import CPU_PIECE, NUM_CLASSES, RotNet, fold_batchnorm, run_in_chunks
from rotbgr_core.skew import edge_orientation, estimate_skew, ink_components, is_featureless, tilt_line_support
from rotbgr_core.types import Estimate

#: Side of the square network input, in pixels.
VIEW_SIZE = 128
#: Long side of the downscaled copy the global view is cut from.
WORK_SIDE = 256
#: ImageNet normalisation.
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
FORMAT = "rotbgr-1"
#: The least document probability of an image decoded from a 1-bit file.
BITONAL_DOC_PROB = 0.9
#: Gamma that darkens the grey a bitonal page's strokes become once shrunk (chosen on the calibration scans).
BITONAL_GAMMA = 3.0
_BITONAL_LUT = np.round(255.0 * (np.arange(256) / 255.0) ** BITONAL_GAMMA).astype(np.uint8)

FloatArray = NDArray[np.float32]
U8Array = NDArray[np.uint8]


def to_view(image: U8Array, size: int = VIEW_SIZE) -> FloatArray:
    """Shrink an image to ``size`` on its long side, normalise, centre-pad to a square.

    Args:
        image: ``HxWx3`` (RGB) or ``HxW`` (grey) uint8 pixels.
        size: side of the square output.

    Returns:
        A ``3 x size x size`` float32 array; the padding is zero (the mean).
    """
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(image, (new_w, new_h), interpolation=interp)
    norm = (small.astype(np.float32) / 255.0 - MEAN) / STD
    out = np.zeros((size, size, 3), dtype=np.float32)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[top : top + new_h, left : left + new_w] = norm
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def _is_bitonal(image: Image.Image) -> bool:
    """A 1-bit image, or one decoded from a 1-bit file (:data:`rotbgr_core.imageio.BITONAL_KEY`)."""
    return image.mode == "1" or bool(image.info.get(BITONAL_KEY))


def darken_strokes(pixels: U8Array) -> U8Array:
    """Darken the partly inked pixels of a shrunk 1-bit page (``v -> 255 (v / 255) ** BITONAL_GAMMA``).

    A one-pixel stroke of a fax or line-art scan averages to light grey once the
    page is shrunk for prediction, and the page's ink cues (skew, text windows)
    then miss it. Paper stays white and ink black; a third of ink coverage
    becomes two thirds of darkness. Only prediction sees this: previews and
    exports keep the file's pixels.
    """
    return np.asarray(_BITONAL_LUT[pixels], dtype=np.uint8)


def shrink(image: U8Array, side: int = WORK_SIDE) -> U8Array:
    """Downscale so that the long side is at most ``side`` (area interpolation)."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def rotate_inscribed(image: U8Array, angle: float) -> U8Array:
    """Turn counter-clockwise by ``angle`` degrees and crop inside the content.

    Args:
        image: uint8 pixels, ``HxW`` or ``HxWx3``.
        angle: counter-clockwise degrees (the convention's correction).

    Returns:
        The largest centred box of the input's aspect ratio with no empty corner.
    """
    if abs(angle) < 0.05:
        return image
    height, width = image.shape[:2]
    box_w, box_h = inscribed_size(width, height, angle)
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
    matrix[0, 2] += box_w / 2.0 - width / 2.0
    matrix[1, 2] += box_h / 2.0 - height / 2.0
    out = cv2.warpAffine(image, matrix, (box_w, box_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.asarray(out, dtype=np.uint8)


def rotate_expand(image: U8Array, angle: float, fill: int) -> U8Array:
    """Turn counter-clockwise by ``angle`` degrees on a canvas that holds it all."""
    return rotate_array_expanded(image, angle, fill)


def text_patch_centres(gray: U8Array, patch: int, count: int) -> list[tuple[int, int]]:
    """Centres of the ``count`` most text-like ``patch``-sized windows of a page.

    Text-likeness is the density of strong local gradients, found on a copy
    shrunk four times, with non-maximum suppression so the windows differ.
    """
    height, width = gray.shape
    factor = 4
    small = cv2.resize(gray, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    small_f = small.astype(np.float32)
    grad = np.abs(cv2.Sobel(small_f, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(small_f, cv2.CV_32F, 0, 1, ksize=3))
    grad = np.minimum(grad, 200.0)
    win = max(3, patch // factor)
    density = cv2.boxFilter(grad, -1, (win, win))
    half = win // 2
    sh, sw = density.shape
    if sh <= 2 * half or sw <= 2 * half:
        return [(width // 2, height // 2)] * count
    valid = np.full_like(density, -1.0)
    valid[half : sh - half, half : sw - half] = density[half : sh - half, half : sw - half]
    centres: list[tuple[int, int]] = []
    for _ in range(count):
        index = int(np.argmax(valid))
        cy, cx = divmod(index, sw)
        if valid[cy, cx] < 0:
            centres.append(centres[-1] if centres else (width // 2, height // 2))
            continue
        centres.append((cx * factor + factor // 2, cy * factor + factor // 2))
        valid[max(0, cy - win) : cy + win + 1, max(0, cx - win) : cx + win + 1] = -1.0
    return centres


def crop_patch(gray: U8Array, centre: tuple[int, int], size: int) -> U8Array:
    """A ``size`` square around ``centre``, shifted to lie inside the image (padded white if small)."""
    height, width = gray.shape
    if height < size or width < size:
        canvas = np.full((max(height, size), max(width, size)), 255, dtype=np.uint8)
        canvas[:height, :width] = gray
        gray, height, width = canvas, canvas.shape[0], canvas.shape[1]
    x0 = int(np.clip(centre[0] - size // 2, 0, width - size))
    y0 = int(np.clip(centre[1] - size // 2, 0, height - size))
    return gray[y0 : y0 + size, x0 : x0 + size]


def roll_quarters(log_probs: FloatArray, shift: int) -> FloatArray:
    """Re-index 8-class log-probabilities when the deskew angle moves by ``shift`` quarter turns.

    Class ``2k + m`` of a view deskewed by ``e`` becomes class ``2(k - shift) + m``
    of a view deskewed by ``e + 90 shift``.
    """
    table = log_probs.reshape(4, 2)
    return np.asarray(np.roll(table, -shift, axis=0).reshape(NUM_CLASSES), dtype=np.float32)


def line_asymmetry(mask: NDArray[np.bool_], strips: int = 4) -> float:
    """Ink above the text lines' x-height band against ink below it, as ``log(above / below)``.

    ``mask`` is the ink of a deskewed page whose text lines run across.  Latin
    and Cyrillic text have more ascenders and capitals than descenders, so the
    value is positive for an upright page and negative for one upside down.
    Computed in vertical strips so that columns whose lines do not line up stay
    apart.
    """
    width = mask.shape[1]
    above = below = 0.0
    for index in range(strips):
        strip = mask[:, index * width // strips : (index + 1) * width // strips]
        profile = strip.sum(axis=1).astype(np.float64)
        if profile.max() < 3:
            continue
        on = profile > 0.06 * float(np.percentile(profile[profile > 0], 90))
        edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            line = profile[start:stop]
            if len(line) < 4:
                continue
            core = np.flatnonzero(line >= 0.4 * line.max())
            above += float(line[: core[0]].sum())
            below += float(line[core[-1] + 1 :].sum())
    return math.log((above + 1.0) / (below + 1.0))


def margin_asymmetry(mask: NDArray[np.bool_]) -> float:
    """How much more ragged the right ends of text lines are than their left ends, as a log ratio.

    ``mask`` is the ink of a deskewed page whose text lines run across.
    Left-to-right text is aligned on the left (indents aside) and ends short on
    the right, so the value is positive for such a page as it should be read,
    negative mirrored.
    """
    profile = mask.sum(axis=1).astype(np.float64)
    if profile.max() < 3:
        return 0.0
    on = profile > 0.06 * float(np.percentile(profile[profile > 0], 90))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    lefts: list[int] = []
    rights: list[int] = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < 4:
            continue
        columns = np.flatnonzero(mask[start:stop].sum(axis=0) > 0)
        if len(columns) < 10:
            continue
        lefts.append(int(columns[0]))
        rights.append(int(columns[-1]))
    if len(lefts) < 4:
        return 0.0
    left = np.asarray(lefts, dtype=np.float64)
    right = np.asarray(rights, dtype=np.float64)
    scale = max(1.0, float(np.median(right - left)))
    left_dev = np.clip((left - np.median(left)) / scale, 0.0, 1.0).mean()
    right_dev = np.clip((np.median(right) - right) / scale, 0.0, 1.0).mean()
    return math.log((right_dev + 0.01) / (left_dev + 0.01))


def line_direction(mask: NDArray[np.bool_], strips: int = 4) -> float:
    """Share of empty rows minus share of empty columns of the ink, in strips.

    Text lines leave empty rows between them (interline gaps) but seldom an
    empty column across a whole strip of lines, so the value is positive when
    the lines of a deskewed page run across and negative when they run down.
    """

    def empty_share(ink: NDArray[np.bool_]) -> float:
        shares = []
        width = ink.shape[1]
        for index in range(strips):
            strip = ink[:, index * width // strips : (index + 1) * width // strips]
            rows = np.flatnonzero(strip.any(axis=1))
            if len(rows) < 8:
                continue
            inside = strip[rows[0] : rows[-1] + 1].any(axis=1)
            shares.append(1.0 - float(inside.mean()))
        return float(np.mean(shares)) if shares else 0.0

    return empty_share(mask) - empty_share(np.ascontiguousarray(mask.T))


@dataclass
class Calibration:
    """Decision thresholds and the logistic confidence model."""

    doc_threshold: float = 0.5
    mirror_threshold_doc: float = 0.5
    mirror_threshold_photo: float = 0.5
    residual_strength: float = 0.15
    #: Photos: edge evidence weaker than this for a tilt larger than ``level_angle`` is not believed, and the
    #: photo is left level (most photos are near level; a faint dominant edge far from it is mostly a branch, a
    #: roof or a shadow). 0 turns the rule off.
    level_strength: float = 0.0
    level_angle: float = 45.0
    #: ... unless straight segments run along that tilt more than along the level, by more than this log ratio
    #: (:func:`rotbgr_core.skew.tilt_line_support`): a horizon or a wall that the gradients showed faintly. Chosen
    #: on the calibration photos (2026-12-07, session 32), not by the calibration stage.
    level_line_ratio: float = 1.0
    patch_weight: float = 1.0
    patches: int = 4
    parity_weight: float = 5.0
    updown_weight: float = 2.0
    margin_weight: float = 0.0
    photo_mirror_view: bool = True
    photo_rotation_views: bool = False
    coef: list[float] = field(default_factory=list)
    intercept: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the weights file."""
        return dict(self.__dict__)

    def with_text_weights(self, patch_weight: float | None, updown_weight: float | None) -> Calibration:
        """This calibration with other weights for the text patches and the ascender cue (``None``: unchanged)."""
        return replace(self, patch_weight=self.patch_weight if patch_weight is None else patch_weight,
                       updown_weight=self.updown_weight if updown_weight is None else updown_weight)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Rebuild from :meth:`to_dict`, ignoring unknown keys."""
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class RawResult:
    """Everything the predictor measured about one image, before calibration."""

    edge_angle: float
    edge_strength: float
    doc_prob: float
    log_probs: FloatArray
    residual: float
    skew_angle: float | None = None
    skew_strength: float = 0.0
    lines_vertical: bool | None = None
    updown: float | None = None
    direction: float = 0.0
    margin: float | None = None
    patch_log_probs: FloatArray | None = None  # one row per patch, most text-like first
    mirror_log_probs: FloatArray | None = None  # the mirrored global view's, mapped back (photos)
    deskewed: U8Array | None = None  # pages: the grey page turned by the skew (reused by the text windows)
    deskewed_ink: NDArray[np.bool_] | None = None  # pages: its ink mask
    deskewed_ink_components: NDArray[np.int32] | None = None  # pages: that mask's component statistics
    featureless: bool = False  # nothing to orient (skew.is_featureless): answered "leave it as it is"
    tilt_lines: float | None = None  # photos the level rule would leave level: skew.tilt_line_support at the edge


def confidence_features(raw: RawResult, cal: Calibration) -> list[float]:
    """The features of the logistic confidence model: one block for pages, one for photos."""
    combined = combine_log_probs(raw, cal)
    probs = np.exp(combined)
    turn = probs.reshape(4, 2).sum(axis=1)
    order = np.sort(turn)
    k = int(np.argmax(turn))
    mirror_p = float(probs[2 * k + 1] / max(turn[k], 1e-9))
    is_doc = raw.doc_prob >= cal.doc_threshold
    common = [
        float(order[-1]),
        math.log(max(float(order[-1]), 1e-9) / max(float(order[-2]), 1e-9)),
        abs(mirror_p - 0.5) * 2.0,
    ]
    if is_doc:
        sure = min(1.0, abs(raw.direction) / 0.1)
        updown = min(1.5, abs(raw.updown or 0.0)) * sure
        block = [*common, raw.skew_strength, sure, updown]
        return [1.0, *block, *([0.0] * len(block))]
    block = [*common, raw.edge_strength, abs(raw.residual), float(raw.doc_prob)]
    return [0.0, *([0.0] * len(block)), *block]


def combine_log_probs(raw: RawResult, cal: Calibration) -> FloatArray:
    """Normalised 8-class log-probabilities from the global view and any patches."""
    total = raw.log_probs.astype(np.float64)
    if raw.mirror_log_probs is not None and cal.photo_mirror_view:
        total = 0.5 * (total + raw.mirror_log_probs.astype(np.float64))
    if raw.patch_log_probs is not None and cal.patches > 0:
        total = total + cal.patch_weight * raw.patch_log_probs[: cal.patches].astype(np.float64).sum(axis=0)
    # How sure the page cues are of the lines' direction (a gap share of 0.1 or more: sure).
    sure = min(1.0, abs(raw.direction) / 0.1)
    if raw.lines_vertical is not None and cal.parity_weight > 0:
        # Text lines that run down the deskewed page need an odd number of quarter turns.
        odd = np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=bool)
        total = total - sure * cal.parity_weight * (odd != raw.lines_vertical)
    if raw.updown is not None and raw.lines_vertical is not None and cal.updown_weight > 0:
        # Ascenders above descenders: the upright turn is k = 0 (horizontal lines) or k = 1 (vertical).
        up = 1 if raw.lines_vertical else 0
        bonus = sure * cal.updown_weight * float(np.clip(raw.updown, -1.5, 1.5))
        turns = np.repeat(np.arange(4), 2)
        total = total + bonus * (turns == up) - bonus * (turns == up + 2)
    if raw.margin is not None and raw.lines_vertical is not None and cal.margin_weight > 0:
        # Ragged right edge in the upright frame: not mirrored (for left-to-right scripts).
        up = 1 if raw.lines_vertical else 0
        turns = np.repeat(np.arange(4), 2)
        sign = (turns == up).astype(np.float64) - (turns == up + 2)
        plain = np.tile([1.0, -1.0], 4)
        total = total + sure * cal.margin_weight * float(np.clip(raw.margin, -2.0, 2.0)) * sign * plain
    total = total - total.max()
    total = total - math.log(float(np.exp(total).sum()))
    return np.asarray(total, dtype=np.float32)


#: A photo's answer is reported at most this sure, under the 0.8 of "no need to look". The photo path's surest
#: answers are not sure enough: of its answers at 0.8 or more, 86% were fully correct on 2,586 posed training-split
#: photos, illustrations and cut-outs, and 29 of 34 on GIMP's screenshots (2026-12-07), where pages at 0.8 or more
#: are 99-100% right. Applied to the reported answer only, after every decision that compares confidences.
PHOTO_MAX_CONFIDENCE = 0.79


#: A photo's fine angle within this many degrees of a quarter turn is answered as that quarter turn. The gradient
#: histogram reads a photo's tilt to a few tenths of a degree at best (on level photos it reads 0.1-0.3 degrees off:
#: its 0.25 degree bins; ``docs/ACCURACY.md``, session 32), so a smaller correction is noise. Answered exactly, a
#: level photo is left alone and a sideways JPEG is turned losslessly, instead of being resampled and cropped by a
#: quarter of a degree. Chosen on the calibration photos: 42 of their 83 exact quarter turns answered exactly, where
#: 8 were, and the scores the same or better.
PHOTO_SNAP_DEGREES = 0.35


def snapped_to_quarter(base: float) -> float:
    """``base`` with a residual under :data:`PHOTO_SNAP_DEGREES` from a multiple of 90 degrees removed."""
    residual = ((base + 45.0) % 90.0) - 45.0
    return base - residual if abs(residual) < PHOTO_SNAP_DEGREES else base


def photo_capped(estimates: list[Estimate]) -> list[Estimate]:
    """``estimates`` with each photo's confidence at most :data:`PHOTO_MAX_CONFIDENCE`."""
    return [replace(estimate, confidence=min(estimate.confidence, PHOTO_MAX_CONFIDENCE))
            if estimate.kind == "photo" else estimate for estimate in estimates]


def faint_tilt(raw: RawResult, cal: Calibration) -> bool:
    """Whether a photo's edge evidence is too faint for its tilt, by the photo level rule's gradient test."""
    return raw.edge_strength < cal.level_strength and abs(raw.edge_angle) > cal.level_angle


def levelled(raw: RawResult, cal: Calibration) -> bool:
    """Whether the photo level rule leaves this photo level: a faint tilt that no straight lines back."""
    return faint_tilt(raw, cal) and not (raw.tilt_lines is not None and raw.tilt_lines > cal.level_line_ratio)


def decide(raw: RawResult, cal: Calibration) -> Estimate:
    """Turn raw measurements into the final estimate with its confidence."""
    combined = combine_log_probs(raw, cal)
    probs = np.exp(combined)
    turn = probs.reshape(4, 2).sum(axis=1)
    k = int(np.argmax(turn))
    mirror_p = float(probs[2 * k + 1] / max(float(turn[k]), 1e-9))
    is_doc = raw.doc_prob >= cal.doc_threshold
    if is_doc:
        base = raw.skew_angle if raw.skew_angle is not None else raw.edge_angle
        mirrored = mirror_p > cal.mirror_threshold_doc
    else:
        base = raw.edge_angle
        if levelled(raw, cal):
            base = 0.0
        elif raw.edge_strength < cal.residual_strength:
            base += raw.residual * 45.0
        base = snapped_to_quarter(base)
        mirrored = mirror_p > cal.mirror_threshold_photo
    angle = normalize_angle(base + 90.0 * k)
    if raw.featureless:
        angle, mirrored = 0.0, False  # nothing to orient: leave it as it is
    feats = np.asarray(confidence_features(raw, cal), dtype=np.float64)
    logit = cal.intercept
    if len(cal.coef) == len(feats):
        logit += float(np.dot(np.asarray(cal.coef, dtype=np.float64), feats))
    confidence = 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, logit))))
    return Estimate(
        angle=angle,
        mirrored=bool(mirrored),
        confidence=float(round(confidence, 6)),
        kind="document" if is_doc else "photo",
    )


def cpu_threads() -> int:
    """Torch threads for CPU inference: ``$ROTBGR_TORCH_THREADS``, else half the cores (1 to 4).

    The network's batches are small, and image decoding runs in parallel threads:
    on a 2-core machine two OpenMP threads that spin against the decoders (or any
    other busy process) were measured 5-10x slower than one.
    """
    configured = os.environ.get("ROTBGR_TORCH_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def classical_workers() -> int:
    """Threads for the per-image classical steps: ``$ROTBGR_CLASSICAL_THREADS``, else the cores (1 to 4)."""
    configured = os.environ.get("ROTBGR_CLASSICAL_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(4, os.cpu_count() or 1))


def _prepare(image: Image.Image, two_level: bool) -> tuple[U8Array, tuple[float, float], FloatArray]:
    """One image's grey pixels, dominant edge orientation and global view (turned by that orientation)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if two_level:
        rgb = darken_strokes(rgb)
    gray = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    angle, strength = edge_orientation(gray)
    return gray, (angle, strength), to_view(rotate_inscribed(shrink(rgb), angle))


def deskewed_page(gray: U8Array, skew_angle: float) -> tuple[U8Array, NDArray[np.bool_], NDArray[np.int32]]:
    """A page turned by its skew on a canvas filled with its border's tone, with its ink mask and components."""
    fill = int(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    page = rotate_expand(gray, skew_angle, fill)
    mask, _, components = ink_components(page)
    return page, mask, components


def _read_page(raw: RawResult, gray: U8Array, patches: int) -> list[FloatArray]:
    """A page's skew, deskewed ink and line cues (stored in ``raw``); returns its text patches' views."""
    skew = estimate_skew(gray, (raw.edge_angle, raw.edge_strength))
    raw.skew_angle = skew.angle
    raw.skew_strength = skew.strength
    shift = round((skew.angle - raw.edge_angle) / 90.0)
    if shift:
        raw.log_probs = roll_quarters(raw.log_probs, shift)
    page, mask, components = deskewed_page(gray, skew.angle)
    raw.deskewed, raw.deskewed_ink, raw.deskewed_ink_components = page, mask, components
    if np.count_nonzero(mask) >= 200:
        raw.direction, raw.lines_vertical, raw.updown, raw.margin = line_cues(mask)
    return text_patch_views(page, patches)


def line_cues(mask: NDArray[np.bool_]) -> tuple[float, bool, float, float]:
    """A deskewed page's line cues from its ink: direction, whether the lines run down, ascender and margin cues."""
    direction = line_direction(mask)
    vertical = direction < 0
    across = np.ascontiguousarray(np.rot90(mask, 1)) if vertical else mask
    return direction, vertical, line_asymmetry(across), margin_asymmetry(across)


def text_patch_views(page: U8Array, count: int) -> list[FloatArray]:
    """The network views of a deskewed page's ``count`` most text-like patches."""
    return [to_view(crop_patch(page, centre, VIEW_SIZE)) for centre in text_patch_centres(page, VIEW_SIZE, count)]


class LearnedPredictor:
    """The shipped model: see the module docstring for the steps."""

    name = "rotbgr-learned"

    def __init__(self, net: RotNet, calibration: Calibration, device: str = "cpu", patches: int | None = None) -> None:
        """Wrap a network (already on ``device``, in eval mode) and its calibration.

        ``patches`` (default: the calibration's) is how many text patches a page gets.
        """
        self.net = net
        self.calibration = calibration
        self.device = device
        self.patches = calibration.patches if patches is None else patches
        self.mirror_view = calibration.photo_mirror_view
        self.rotation_views = calibration.photo_rotation_views
        #: The weights file's ``config`` (architecture, provenance; ``with_documents``: see ``load_predictor``).
        self.config: dict[str, Any] = {}
        #: Threads for the per-image classical steps; ``None``: :func:`classical_workers`.
        self.classical_threads: int | None = None

    def classical_thread_count(self) -> int:
        """Threads for the per-image classical steps, and slices of a CPU network batch (``run_in_chunks``).

        ``classical_threads`` if set, else :func:`classical_workers`.
        """
        return self.classical_threads or classical_workers()

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", fold: bool = True) -> LearnedPredictor:
        """Load a weights file written by the trainer.

        ``fold`` folds the batch norms into the convolutions (faster prediction, same answers); pass ``False`` to
        fine-tune or re-save the network.

        Raises:
            ValueError: if the file is not a RotBGR weights file, or not one for this network.
            FileNotFoundError: if there is no such file.
        """
        try:
            data = torch.load(Path(path), map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a file that is not its own
            reason = f"torch cannot read it: {type(exc).__name__}"
            raise ValueError(f"{path} is not a RotBGR weights file ({reason})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path} is not a RotBGR weights file ({FORMAT})")
        net = RotNet()
        try:
            state = {
                key: value.float() if value.is_floating_point() else value for key, value in data["state_dict"].items()
            }
            net.load_state_dict(state)
        except (KeyError, AttributeError, RuntimeError) as exc:
            raise ValueError(f"{path} does not hold weights for this version's network ({type(exc).__name__})") from exc
        net.eval()
        if fold:
            fold_batchnorm(net)
            # Channels-last tensors let the CPU convolutions vectorise across channels: about 1.5-2 times faster
            # here for the same answers (to rounding). Training keeps the default layout (``fold=False``).
            net.to(memory_format=torch.channels_last)
        net.to(device)
        if device == "cpu":
            torch.set_num_threads(cpu_threads())
        predictor = cls(net, Calibration.from_dict(data.get("calibration", {})), device)
        predictor.config = dict(data.get("config", {}))
        use_torch_reduction()  # torch is fully imported by now: inputs may be reduced with it
        return predictor

    def _run(self, views: list[FloatArray]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Class log-probabilities, document probabilities and residuals for views."""
        if not views:
            empty = np.zeros((0,), dtype=np.float32)
            return np.zeros((0, NUM_CLASSES), dtype=np.float32), empty, empty
        batch = torch.from_numpy(np.stack(views)).to(self.device).contiguous(memory_format=torch.channels_last)

        def run(part: torch.Tensor) -> tuple[FloatArray, FloatArray, FloatArray]:
            with torch.inference_mode():
                out = self.net(part)
                return (
                    np.asarray(torch.log_softmax(out.classes.float(), dim=1).cpu().numpy(), dtype=np.float32),
                    np.asarray(torch.sigmoid(out.document.float()).cpu().numpy(), dtype=np.float32),
                    np.asarray(torch.tanh(out.residual.float()).cpu().numpy(), dtype=np.float32),
                )

        parts = run_in_chunks(run, batch, self.classical_thread_count(), CPU_PIECE)
        log_probs, doc, residual = (np.concatenate(column) for column in zip(*parts, strict=True))
        return log_probs, doc, residual

    def measure(self, images: Sequence[Image.Image]) -> list[RawResult]:
        """Run the classical steps and the network; no calibration applied.

        The per-image classical steps (edge orientation, the view, a page's skew and ink cues) run on
        ``classical_threads`` threads: OpenCV and NumPy release the GIL, so they use the cores that the
        one-threaded network leaves idle.
        """
        bitonal = [_is_bitonal(image) for image in images]
        with ThreadPoolExecutor(max_workers=self.classical_thread_count(), thread_name_prefix="rotbgr-measure") as pool:
            prepared = list(pool.map(_prepare, images, bitonal))
            grays = [gray for gray, _, _ in prepared]
            views = [view for _, _, view in prepared]
            log_probs, doc, residual = self._run(views)
            results = [
                RawResult(edge[0], edge[1], float(doc[i]), log_probs[i], float(residual[i]),
                          featureless=is_featureless(gray))
                for i, (gray, edge, _) in enumerate(prepared)
            ]
            for raw, two_level in zip(results, bitonal, strict=True):
                if two_level:
                    # Two-level files are fax and line-art scans: pages, whatever the shrunk view looks like.
                    raw.doc_prob = max(raw.doc_prob, BITONAL_DOC_PROB)
            photos = [i for i, raw in enumerate(results) if raw.doc_prob < self.calibration.doc_threshold]
            pages = [i for i, raw in enumerate(results)
                     if raw.doc_prob >= self.calibration.doc_threshold and self.patches > 0]
            # A page's skew and ink cues are measured while the network looks at the photos' extra views.
            page_reads = [pool.submit(_read_page, results[i], grays[i], self.patches) for i in pages]
            faint = [i for i in photos if faint_tilt(results[i], self.calibration)]
            # The straight lines of photos whose tilt the gradients show faintly, also while the network runs.
            line_reads = [pool.submit(tilt_line_support, grays[i], results[i].edge_angle) for i in faint]
            if photos and self.rotation_views:
                # The same view turned by 90, 180 and 270 degrees: each answer, mapped back, is averaged in.
                turned, _, _ = self._run([np.ascontiguousarray(np.rot90(views[i], turns, axes=(1, 2)))
                                          for turns in (1, 2, 3) for i in photos])
                for block, turns in enumerate((1, 2, 3)):
                    for row, index in enumerate(photos):
                        lp = turned[block * len(photos) + row]
                        results[index].log_probs = results[index].log_probs + roll_quarters(lp, -turns)
                for index in photos:
                    results[index].log_probs = results[index].log_probs / 4.0
            if photos and self.mirror_view:
                flipped, _, _ = self._run([np.ascontiguousarray(views[i][:, :, ::-1]) for i in photos])
                # A mirrored view's class (k, m) is the original's (-k mod 4, 1 - m).
                source = [2 * ((-(c // 2)) % 4) + (1 - c % 2) for c in range(NUM_CLASSES)]
                for row, index in enumerate(photos):
                    results[index].mirror_log_probs = flipped[row][source]
            for index, line_read in zip(faint, line_reads, strict=True):
                results[index].tilt_lines = line_read.result()
            patch_views: list[FloatArray] = []
            owners: list[int] = []
            for index, future in zip(pages, page_reads, strict=True):
                for view in future.result():
                    patch_views.append(view)
                    owners.append(index)
        if patch_views:
            patch_lp, _, _ = self._run(patch_views)
            for index in set(owners):
                rows = [row for row, owner in enumerate(owners) if owner == index]
                results[index].patch_log_probs = patch_lp[rows]
        return results

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        """One estimate per image, in order; ``[]`` in gives ``[]`` out."""
        if not images:
            return []
        return photo_capped([decide(raw, self.calibration) for raw in self.measure(images)])

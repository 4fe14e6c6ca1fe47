"""Geometry of RotBGR: the angle convention and the image corrections.

The convention (``shared/SPEC.md`` section 2), written here once:

    upright = mirror_h ** mirrored ( rotate_ccw(input, angle) )

* ``rotate_ccw`` turns the image counter-clockwise, as displayed, by ``angle``
  degrees: the direction of Pillow's ``Image.rotate(angle)``.
* ``angle`` lies in ``[-180, 180)``; ``mirror_h`` flips left-right; the rotation
  comes first, then the mirror.
* Hence an input made from an upright image ``U`` as
  ``mirror_h**m(U).rotate(-a, expand=True)`` has the answer ``(a, m)``.

Exact multiples of 90 degrees and mirrors are done by transposition (no
resampling).  Other angles are split into quarter turns (transposition) plus a
residual in ``[-45, 45)`` that is resampled once, bicubically, at full
resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

#: Angles closer than this to a multiple of 90 degrees are treated as exact.
EXACT_TOLERANCE_DEG = 1e-6


class CropMode(StrEnum):
    """How the canvas is chosen after a non-right-angle rotation."""

    INSCRIBED = "inscribed"
    EXPAND = "expand"
    NONE = "none"


@dataclass(frozen=True)
class Decomposition:
    """An angle split into counter-clockwise quarter turns plus a residual."""

    quarter_turns: int
    residual: float

    @property
    def is_exact(self) -> bool:
        """Whether the residual is zero, so the correction is lossless."""
        return abs(self.residual) < EXACT_TOLERANCE_DEG


def normalize_angle(angle: float) -> float:
    """Map any angle in degrees to ``[-180, 180)``."""
    wrapped = math.fmod(angle + 180.0, 360.0)
    if wrapped < 0:
        wrapped += 360.0
    result = wrapped - 180.0
    return -180.0 if result >= 180.0 else result


def angle_difference(a: float, b: float) -> float:
    """Absolute circular difference between two angles, in ``[0, 180]``."""
    return abs(normalize_angle(a - b))


def decompose(angle: float) -> Decomposition:
    """Split ``angle`` into quarter turns (0..3, ccw) and a residual in [-45, 45)."""
    turns = math.floor((angle + 45.0) / 90.0)
    residual = angle - 90.0 * turns
    if abs(residual) < EXACT_TOLERANCE_DEG:
        residual = 0.0
    return Decomposition(quarter_turns=turns % 4, residual=residual)


_QUARTER_TRANSPOSE = {
    1: Image.Transpose.ROTATE_90,
    2: Image.Transpose.ROTATE_180,
    3: Image.Transpose.ROTATE_270,
}


def without_subpixel_residual(angle: float, width: int, height: int) -> float:
    """``angle`` with its residual dropped when turning a ``width x height`` image by it moves no pixel by half a pixel.

    Such a rotation cannot be seen, but resampling for it would soften every pixel (and re-encode a JPEG that could
    otherwise be turned losslessly): a page measured at 0.0004 deg is left as it is, or only quarter-turned.
    """
    parts = decompose(normalize_angle(angle))
    reach = 0.5 * math.hypot(width, height)  # the corners move the most
    if parts.residual and reach * abs(math.radians(parts.residual)) < 0.5:
        return normalize_angle(90.0 * parts.quarter_turns)
    return angle


def exact_transpose_ops(angle: float, mirrored: bool) -> list[Image.Transpose]:
    """Pillow transpositions that perform an exact correction, in order.

    Raises:
        ValueError: if ``angle`` is not a multiple of 90 degrees.
    """
    parts = decompose(angle)
    if not parts.is_exact:
        raise ValueError(f"{angle} degrees is not a multiple of 90")
    ops: list[Image.Transpose] = []
    if parts.quarter_turns:
        ops.append(_QUARTER_TRANSPOSE[parts.quarter_turns])
    if mirrored:
        ops.append(Image.Transpose.FLIP_LEFT_RIGHT)
    return ops


def inscribed_size(width: int, height: int, angle: float) -> tuple[int, int]:
    """Largest centred, axis-aligned ``width:height`` box inside the rotated image.

    The box keeps the input's aspect ratio and lies wholly inside the content of a
    ``width x height`` image turned by ``angle`` degrees, so no corner is empty.
    """
    theta = math.radians(angle)
    cos_t, sin_t = abs(math.cos(theta)), abs(math.sin(theta))
    scale = min(
        width / (width * cos_t + height * sin_t),
        height / (width * sin_t + height * cos_t),
    )
    # Shave a pixel so resampled edge pixels never bleed into the crop.
    return max(1, math.floor(width * scale) - 1), max(1, math.floor(height * scale) - 1)


def border_colour(image: Image.Image) -> tuple[int, ...] | int | float:
    """Estimate the page or scene background from the image's outer border.

    Uses the per-channel median of a thin frame around the image, which is the
    paper (or scanner bed) colour for documents.
    """
    array = np.asarray(image)
    band = max(1, min(image.width, image.height) // 50)
    frame = np.concatenate(
        [
            array[:band].reshape(-1, *array.shape[2:]),
            array[-band:].reshape(-1, *array.shape[2:]),
            array[:, :band].reshape(-1, *array.shape[2:]),
            array[:, -band:].reshape(-1, *array.shape[2:]),
        ]
    )
    medians = np.median(frame, axis=0)
    if np.ndim(medians) == 0:
        value = float(medians)
        return value if image.mode == "F" else int(round(value))
    return tuple(int(round(float(v))) for v in medians)


_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def _as_array(image: Image.Image) -> tuple[NDArray[Any], str]:
    """Pixels as an array OpenCV can resample, and the mode to rebuild from it."""
    mode = image.mode
    if mode == "1":
        return np.asarray(image.convert("L")), "L"
    if mode == "P":
        mode = "RGBA" if "transparency" in image.info else "RGB"
        return np.asarray(image.convert(mode)), mode
    if mode in _SIXTEEN_BIT:
        return np.asarray(image).astype(np.uint16), "I;16"
    if mode == "I":
        return np.asarray(image).astype(np.float32), "I"
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK", "F"):
        return np.asarray(image), mode
    return np.asarray(image.convert("RGB")), "RGB"


def _from_array(array: NDArray[Any], work_mode: str, original_mode: str) -> Image.Image:
    """Rebuild a Pillow image in the input's own mode after resampling."""
    if original_mode == "1":
        return Image.fromarray(np.where(array >= 128, 255, 0).astype(np.uint8)).convert("1")
    if work_mode == "I;16":
        sixteen = Image.fromarray(array.astype(np.uint16))
        return sixteen if original_mode in ("I;16", "I;16L", "I;16N") else sixteen.convert(original_mode)
    if work_mode == "I":
        return Image.fromarray(np.rint(array).astype(np.int32))
    return Image.fromarray(array, work_mode)


def rotated_canvas(width: int, height: int, angle: float, crop: CropMode) -> tuple[int, int]:
    """Output size of a ``width x height`` image turned by ``angle`` under ``crop``."""
    if crop is CropMode.NONE:
        return width, height
    if crop is CropMode.INSCRIBED:
        return inscribed_size(width, height, angle)
    theta = math.radians(angle)
    cos_t, sin_t = abs(math.cos(theta)), abs(math.sin(theta))
    return (
        max(1, math.ceil(width * cos_t + height * sin_t - 1e-6)),
        max(1, math.ceil(width * sin_t + height * cos_t - 1e-6)),
    )


def rotate_array_expanded(image: NDArray[np.uint8], angle: float, fill: float) -> NDArray[np.uint8]:
    """Turn an 8-bit array counter-clockwise by ``angle`` degrees on a canvas that holds it all.

    Bilinear, for analysis (skew, text windows), not for output pixels; the new
    corners take ``fill``.
    """
    if abs(angle) < 0.01:
        return image
    height, width = image.shape[:2]
    theta = math.radians(angle)
    cos_t, sin_t = abs(math.cos(theta)), abs(math.sin(theta))
    new_w = int(math.ceil(width * cos_t + height * sin_t))
    new_h = int(math.ceil(width * sin_t + height * cos_t))
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
    matrix[0, 2] += new_w / 2.0 - width / 2.0
    matrix[1, 2] += new_h / 2.0 - height / 2.0
    out = cv2.warpAffine(
        image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill
    )
    return np.asarray(out, dtype=np.uint8)


def _rotate_residual(image: Image.Image, residual: float, crop: CropMode) -> Image.Image:
    """Rotate by a residual angle with bicubic resampling straight into the crop's canvas.

    The corners of ``expand`` and ``none`` canvases take the colour of the
    image's own border (the paper, for a page).
    """
    array, work_mode = _as_array(image)
    fill = border_colour(Image.fromarray(array, work_mode) if work_mode not in ("I;16", "I") else image)
    height, width = array.shape[:2]
    out_w, out_h = rotated_canvas(width, height, residual, crop)
    # OpenCV's positive angles turn counter-clockwise as displayed, as Pillow's do.
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), residual, 1.0)
    matrix[0, 2] += (out_w - width) / 2.0
    matrix[1, 2] += (out_h - height) / 2.0
    channels = 1 if array.ndim == 2 else array.shape[2]
    border = (fill,) * channels if not isinstance(fill, tuple) else fill
    rotated = cv2.warpAffine(
        array,
        matrix,
        (out_w, out_h),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(float(v) for v in border),
    )
    return _from_array(rotated, work_mode, image.mode)


def correct_image(
    image: Image.Image,
    angle: float,
    mirrored: bool,
    crop: CropMode | str = CropMode.EXPAND,
) -> Image.Image:
    """Return the upright image for a prediction ``(angle, mirrored)``.

    Quarter turns and the mirror are exact transpositions; only a residual
    rotation is resampled (bicubic), with ``crop`` deciding the canvas.
    """
    crop = CropMode(crop)
    parts = decompose(normalize_angle(angle))
    result = image
    if parts.quarter_turns:
        result = result.transpose(_QUARTER_TRANSPOSE[parts.quarter_turns])
    if not parts.is_exact:
        result = _rotate_residual(result, parts.residual, crop)
    if mirrored:
        result = result.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return result


def make_rotated(
    upright: Image.Image, angle: float, mirrored: bool, fill: tuple[int, ...] | int = 0
) -> Image.Image:
    """Build an input whose answer is ``(angle, mirrored)`` from an upright image.

    The inverse of :func:`correct_image` (with ``expand`` crop), used to make test
    and training examples: ``mirror_h**m(U).rotate(-angle, expand=True)``.
    """
    work = upright.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirrored else upright
    parts = decompose(normalize_angle(-angle))
    if parts.is_exact:
        if parts.quarter_turns:
            work = work.transpose(_QUARTER_TRANSPOSE[parts.quarter_turns])
        return work
    return work.rotate(
        -angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill
    )

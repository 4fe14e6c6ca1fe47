"""Lossless JPEG turns and mirrors in the DCT domain, and JPEG quality estimation.

Quarter turns and mirrors of a JPEG are done on the DCT coefficients with
libjpeg-turbo (through the ``turbojpeg`` package, like ``jpegtran``): no pixel
is decoded or re-quantised.  libjpeg-turbo refuses ("not perfect") when the turn
would move a partial edge block (width or height not a multiple of the MCU);
the caller then falls back to a pixel turn re-encoded at the input's quality
instead of trimming up to 15 pixels of edge as ``jpegtran -trim`` would.

A correction in the dihedral group is a :class:`Turn` ``(quarter_turns,
mirrored)`` with the SPEC's meaning: ``upright = mirror_h**m(rotate_ccw(input,
90 * k))``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rotbgr_core.geometry import decompose, normalize_angle
from rotbgr_core.metadata import EXIF_HEADER, patch_exif, patch_xmp, swap_jfif_density

#: The IJG (libjpeg) base quantisation tables of Annex K, in natural order.
STD_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
STD_CHROMINANCE = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)  # fmt: skip

_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


class LosslessUnavailable(Exception):
    """A lossless transform cannot be done for this JPEG; the reason says why."""


@dataclass(frozen=True)
class Turn:
    """An element of the dihedral group: ``quarter_turns`` ccw, then a mirror."""

    quarter_turns: int = 0
    mirrored: bool = False

    @property
    def is_identity(self) -> bool:
        """Whether the turn leaves the image as it is."""
        return self.quarter_turns % 4 == 0 and not self.mirrored

    @property
    def swaps_axes(self) -> bool:
        """Whether width and height trade places."""
        return self.quarter_turns % 2 == 1

    def then(self, other: Turn) -> Turn:
        """The turn that applies ``self`` first, then ``other``."""
        sign = -1 if self.mirrored else 1
        return Turn((self.quarter_turns + sign * other.quarter_turns) % 4, self.mirrored != other.mirrored)

    @staticmethod
    def from_correction(angle: float, mirrored: bool) -> Turn | None:
        """The turn for a prediction, or ``None`` if ``angle`` is not a multiple of 90."""
        parts = decompose(normalize_angle(angle))
        if not parts.is_exact:
            return None
        return Turn(parts.quarter_turns % 4, mirrored)

    @staticmethod
    def from_exif_orientation(orientation: int) -> Turn:
        """The turn that makes stored pixels look as EXIF ``orientation`` shows them."""
        return _EXIF_TURNS.get(orientation, Turn())


_EXIF_TURNS = {
    1: Turn(0, False),
    2: Turn(0, True),
    3: Turn(2, False),
    4: Turn(2, True),
    5: Turn(3, True),
    6: Turn(3, False),
    7: Turn(1, True),
    8: Turn(1, False),
}

#: libjpeg-turbo transform for each turn (its ROT90 is clockwise: our k=3).
_TURBO_OP_NAMES = {
    Turn(0, False): "NONE",
    Turn(1, False): "ROT270",
    Turn(2, False): "ROT180",
    Turn(3, False): "ROT90",
    Turn(0, True): "HFLIP",
    Turn(2, True): "VFLIP",
    Turn(3, True): "TRANSPOSE",
    Turn(1, True): "TRANSVERSE",
}


def ijg_table(base: Sequence[int], quality: int) -> list[int]:
    """The table libjpeg writes for ``quality`` (1..100) from a base table."""
    quality = min(100, max(1, quality))
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, (value * scale + 50) // 100)) for value in base]


@functools.cache
def _ijg_tables() -> tuple[np.ndarray, np.ndarray]:
    """Log of libjpeg's luminance and chrominance tables for qualities 1..100."""
    return tuple(  # type: ignore[return-value]
        np.log(np.array([ijg_table(base, quality) for quality in range(1, 101)], dtype=np.float64))
        for base in (STD_LUMINANCE, STD_CHROMINANCE)
    )


def estimate_quality(qtables: Mapping[int, Sequence[int]] | None) -> int | None:
    """Estimate the IJG quality (1..100) a JPEG was saved with from its tables.

    The quality whose scaled Annex K tables are closest (least squared log
    ratio) to the file's tables wins: exact for libjpeg, Pillow, GIMP and most
    software, and a close equivalent for cameras with their own tables.

    Returns:
        The quality, or ``None`` when there are no usable tables.
    """
    if not qtables:
        return None
    tables = [list(qtables[key]) for key in sorted(qtables)][:2]
    if any(len(table) != 64 or min(table) < 1 for table in tables):
        return None
    error = np.zeros(100)
    for table, reference in zip(tables, _ijg_tables(), strict=False):
        error += ((np.log(np.asarray(table, dtype=np.float64))[None, :] - reference) ** 2).sum(axis=1)
    return int(np.argmin(error)) + 1


def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """``(marker, start, end)`` of each header segment before the scan data."""
    if data[:2] != b"\xff\xd8":
        raise LosslessUnavailable("not a JPEG stream")
    found: list[tuple[int, int, int]] = []
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise LosslessUnavailable("malformed JPEG header")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        found.append((marker, pos, pos + 2 + length))
        if marker == 0xDA:  # start of scan: headers end here
            break
        pos += 2 + length
    return found


def frame_info(data: bytes) -> tuple[int, int, int, int, bool]:
    """``(width, height, mcu_width, mcu_height, progressive)`` from the SOF header."""
    for marker, start, _end in _segments(data):
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[start + 5 : start + 7], "big")
            width = int.from_bytes(data[start + 7 : start + 9], "big")
            components = data[start + 9]
            factors = [data[start + 11 + 3 * i] for i in range(components)]
            h_max = max((f >> 4 for f in factors), default=1)
            v_max = max((f & 0x0F for f in factors), default=1)
            if components == 1:
                h_max = v_max = 1
            return width, height, 8 * h_max, 8 * v_max, marker in (0xC2, 0xC6, 0xCA, 0xCE)
    raise LosslessUnavailable("JPEG frame header not found")


def reset_orientation(data: bytes, size: tuple[int, int] | None = None, swapped: bool = False) -> bytes:
    """A JPEG stream whose EXIF (and XMP) Orientation is 1, patched in place.

    Args:
        data: the JPEG file.
        size: the image's new ``(width, height)`` for the EXIF pixel dimensions.
        swapped: the axes were exchanged: exchange the X and Y resolutions too.
    """
    out = bytearray(data)
    for marker, start, end in _segments(data):
        body = data[start + 4 : end]
        if marker == 0xE0 and swapped:
            patched = swap_jfif_density(body)
        elif marker != 0xE1:
            continue
        elif body.startswith(EXIF_HEADER):
            patched = patch_exif(body, size, swapped)
        elif body.startswith(_XMP_HEADER):
            patched = patch_xmp(body)
        else:
            continue
        if len(patched) == len(body):
            out[start + 4 : end] = patched
    return bytes(out)


def transform_jpeg(data: bytes, turn: Turn) -> bytes:
    """Turn a JPEG losslessly on its DCT coefficients; markers are all kept.

    The result's EXIF Orientation is 1 and its EXIF pixel size is updated.

    Raises:
        LosslessUnavailable: when the size is not a whole number of MCUs along
            an edge the turn moves, or libjpeg-turbo cannot read the file.
    """
    import turbojpeg

    width, height, mcu_w, mcu_h, progressive = frame_info(data)
    if turn.is_identity:
        return reset_orientation(data, (width, height))
    op = getattr(turbojpeg.OP, _TURBO_OP_NAMES[turn])
    try:
        out: bytes = turbojpeg.transform(data, op=op, perfect=True, progressive=progressive, optimize=not progressive)
    except RuntimeError as exc:
        if "perfect" in str(exc).lower():
            raise LosslessUnavailable(
                f"{width}x{height} is not a multiple of the {mcu_w}x{mcu_h} JPEG block size"
            ) from exc
        raise LosslessUnavailable(f"libjpeg-turbo cannot transform this file: {exc}") from exc
    new_size = (height, width) if turn.swaps_axes else (width, height)
    return reset_orientation(out, new_size, turn.swaps_axes)

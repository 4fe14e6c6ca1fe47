"""Metadata kept on export: EXIF orientation reset in place, XMP, save options.

EXIF is patched byte for byte instead of being re-serialised, so maker notes,
GPS data and every other tag survive exactly; only the Orientation value (and
the EXIF pixel dimensions, which must follow the new size) change.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

EXIF_HEADER = b"Exif\x00\x00"
TAG_ORIENTATION = 0x0112
TAG_X_RESOLUTION = 0x011A
TAG_Y_RESOLUTION = 0x011B
TAG_EXIF_IFD = 0x8769
TAG_PIXEL_X = 0xA002
TAG_PIXEL_Y = 0xA003
_SHORT, _LONG = 3, 4


@dataclass(frozen=True)
class _Entry:
    tag: int
    type: int
    count: int
    value_offset: int  # absolute offset of the 4-byte value field


def _entries(tiff: bytes | bytearray, ifd_offset: int, endian: str) -> list[_Entry]:
    """The entries of the IFD at ``ifd_offset`` (empty if it lies outside)."""
    if ifd_offset <= 0 or ifd_offset + 2 > len(tiff):
        return []
    (count,) = struct.unpack_from(endian + "H", tiff, ifd_offset)
    entries = []
    for index in range(count):
        at = ifd_offset + 2 + 12 * index
        if at + 12 > len(tiff):
            break
        tag, kind, number = struct.unpack_from(endian + "HHI", tiff, at)
        entries.append(_Entry(tag, kind, number, at + 8))
    return entries


def _set_int(tiff: bytearray, entry: _Entry, value: int, endian: str) -> None:
    """Overwrite a single SHORT or LONG value stored inside its entry."""
    if entry.count != 1:
        return
    if entry.type == _SHORT:
        struct.pack_into(endian + "H", tiff, entry.value_offset, min(value, 0xFFFF))
    elif entry.type == _LONG:
        struct.pack_into(endian + "I", tiff, entry.value_offset, value)


def _split(exif: bytes) -> tuple[bytes, bytearray, str] | None:
    """Split EXIF into (prefix, TIFF structure, struct endianness) or ``None``."""
    prefix = EXIF_HEADER if exif.startswith(EXIF_HEADER) else b""
    tiff = bytearray(exif[len(prefix):])
    if tiff[:4] == b"II*\x00":
        return prefix, tiff, "<"
    if tiff[:4] == b"MM\x00*":
        return prefix, tiff, ">"
    return None


def exif_orientation(exif: bytes | None) -> int:
    """The EXIF Orientation value (1 when absent or unreadable)."""
    if not exif:
        return 1
    parts = _split(exif)
    if parts is None:
        return 1
    _, tiff, endian = parts
    try:
        (ifd0,) = struct.unpack_from(endian + "I", tiff, 4)
        for entry in _entries(tiff, ifd0, endian):
            if entry.tag == TAG_ORIENTATION and entry.count == 1 and entry.type == _SHORT:
                (value,) = struct.unpack_from(endian + "H", tiff, entry.value_offset)
                return int(value) if 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1


def patch_exif(exif: bytes, size: tuple[int, int] | None = None, swap_resolution: bool = False) -> bytes:
    r"""EXIF with Orientation set to 1 and, if given, the pixel size updated.

    Everything else is kept byte for byte.  Unreadable EXIF is returned as is.

    Args:
        exif: raw EXIF, with or without the ``Exif\0\0`` header.
        size: the written image's ``(width, height)``, for PixelX/YDimension.
        swap_resolution: exchange X and Y resolution (after a quarter turn).
    """
    parts = _split(exif)
    if parts is None:
        return exif
    prefix, tiff, endian = parts
    try:
        (ifd0,) = struct.unpack_from(endian + "I", tiff, 4)
        entries = _entries(tiff, ifd0, endian)
        resolution = {e.tag: e for e in entries if e.tag in (TAG_X_RESOLUTION, TAG_Y_RESOLUTION)}
        if swap_resolution and len(resolution) == 2:
            x_res, y_res = resolution[TAG_X_RESOLUTION], resolution[TAG_Y_RESOLUTION]
            if (x_res.type, x_res.count) == (y_res.type, y_res.count):  # swap the value pointers
                x_value = bytes(tiff[x_res.value_offset : x_res.value_offset + 4])
                tiff[x_res.value_offset : x_res.value_offset + 4] = tiff[y_res.value_offset : y_res.value_offset + 4]
                tiff[y_res.value_offset : y_res.value_offset + 4] = x_value
        for entry in entries:
            if entry.tag == TAG_ORIENTATION:
                _set_int(tiff, entry, 1, endian)
            elif entry.tag == TAG_EXIF_IFD and size is not None and entry.count == 1:
                (sub,) = struct.unpack_from(endian + "I", tiff, entry.value_offset)
                for sub_entry in _entries(tiff, sub, endian):
                    if sub_entry.tag == TAG_PIXEL_X:
                        _set_int(tiff, sub_entry, size[0], endian)
                    elif sub_entry.tag == TAG_PIXEL_Y:
                        _set_int(tiff, sub_entry, size[1], endian)
    except struct.error:
        return exif
    return prefix + bytes(tiff)


_XMP_ORIENTATION = re.compile(rb"(tiff:Orientation(?:=\"|>))([2-8])")


def patch_xmp(xmp: bytes) -> bytes:
    """XMP with ``tiff:Orientation`` reset to 1 (same length, so safe in place)."""
    return _XMP_ORIENTATION.sub(rb"\g<1>1", xmp)


def swap_jfif_density(app0: bytes) -> bytes:
    """A JFIF APP0 body with its X and Y density exchanged (same length)."""
    if not app0.startswith(b"JFIF\x00") or len(app0) < 12:
        return app0
    return app0[:8] + app0[10:12] + app0[8:10] + app0[12:]


def swap_dpi(dpi: tuple[float, float] | None, swap: bool) -> tuple[float, float] | None:
    """Resolution after an odd number of quarter turns swaps the axes."""
    if dpi is None:
        return None
    return (dpi[1], dpi[0]) if swap else (dpi[0], dpi[1])

"""Read the files packed in a compiled Qt resource file (``.rcc``) without Qt.

GCompris ships its pictures inside ``.rcc`` bundles; this reader lists and extracts them so that the training
sources can be fetched with no Qt installed (``rotbgr_core`` never imports Qt).

The format (Qt's ``rcc``): a ``qres`` header with the format version and the offsets of the tree, data and name
tables; tree entries of 14 bytes (version 1) or 22 bytes (version 2 and later, with a modification time); a name is
a UTF-16BE string with its length and hash; a file's data is its size followed by the bytes, zlib-compressed
(Qt's ``qCompress`` layout: a 4-byte uncompressed size first) when the entry's flag says so.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

_COMPRESSED = 0x01
_DIRECTORY = 0x02
_COMPRESSED_ZSTD = 0x04


class RccError(ValueError):
    """The file is not a compiled Qt resource file this reader understands."""


class ResourceFile:
    """A compiled Qt resource file held in memory."""

    def __init__(self, data: bytes) -> None:
        """Parse the header of ``data`` (the whole ``.rcc`` file)."""
        if len(data) < 20 or data[:4] != b"qres":
            raise RccError("not a Qt resource file (no 'qres' magic)")
        self.data = data
        self.version, self.tree, self.payload, self.names = struct.unpack_from(">IIII", data, 4)
        if self.version not in (1, 2, 3):
            raise RccError(f"unsupported resource format version {self.version}")
        self.entry_size = 14 if self.version == 1 else 22

    @classmethod
    def open(cls, path: Path) -> ResourceFile:
        """Read a ``.rcc`` file."""
        return cls(path.read_bytes())

    def _name(self, offset: int) -> str:
        start = self.names + offset
        (length,) = struct.unpack_from(">H", self.data, start)
        return self.data[start + 6 : start + 6 + 2 * length].decode("utf-16-be")

    def _entry(self, index: int) -> tuple[str, int, int, int]:
        """(name, flags, a, b): a directory's child count and first child, or a file's data offset."""
        start = self.tree + index * self.entry_size
        name_offset, flags = struct.unpack_from(">IH", self.data, start)
        if flags & _DIRECTORY:
            count, first = struct.unpack_from(">II", self.data, start + 6)
            return self._name(name_offset), flags, count, first
        (data_offset,) = struct.unpack_from(">I", self.data, start + 10)
        return self._name(name_offset), flags, data_offset, 0

    def _file_bytes(self, flags: int, data_offset: int) -> bytes:
        start = self.payload + data_offset
        (size,) = struct.unpack_from(">I", self.data, start)
        blob = self.data[start + 4 : start + 4 + size]
        if flags & _COMPRESSED:
            return zlib.decompress(blob[4:])
        if flags & _COMPRESSED_ZSTD:
            raise RccError("zstd-compressed resource entries are not supported")
        return blob

    def files(self) -> Iterator[tuple[str, bytes]]:
        """Yield ``(path, bytes)`` for every file, paths joined with ``/`` from the root."""
        stack: list[tuple[int, str]] = [(0, "")]
        while stack:
            index, prefix = stack.pop()
            name, flags, a, b = self._entry(index)
            path = f"{prefix}/{name}" if index else ""
            if flags & _DIRECTORY:
                stack.extend((child, path) for child in range(b, b + a))
            else:
                yield path.lstrip("/"), self._file_bytes(flags, a)

"""A tiny baseline-JPEG entropy decoder that returns DCT coefficients (test helper).

Decoding pixels cannot prove a lossless turn: libjpeg's integer IDCT rounds
between its row and column passes, so a transposed block decodes to pixels that
differ by one from the transposed pixels.  The coefficients themselves must be
equal, and this reads them, without any IDCT.  Baseline Huffman only (what
Pillow and libjpeg-turbo write by default); small images only (pure Python).
"""

from __future__ import annotations

import numpy as np

ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
])


def _huffman(lengths: bytes, symbols: bytes) -> dict[tuple[int, int], int]:
    table: dict[tuple[int, int], int] = {}
    code, k = 0, 0
    for length in range(1, 17):
        for _ in range(lengths[length - 1]):
            table[(length, code)] = symbols[k]
            code += 1
            k += 1
        code <<= 1
    return table


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.bits = "".join(f"{byte:08b}" for byte in data)
        self.pos = 0

    def read(self, n: int) -> int:
        if n == 0:
            return 0
        value = int(self.bits[self.pos:self.pos + n], 2)
        self.pos += n
        return value

    def decode(self, table: dict[tuple[int, int], int]) -> int:
        code = 0
        for length in range(1, 17):
            code = (code << 1) | int(self.bits[self.pos])
            self.pos += 1
            if (length, code) in table:
                return table[(length, code)]
        raise ValueError("bad Huffman code")


def _extend(value: int, size: int) -> int:
    return value - (1 << size) + 1 if size and value < (1 << (size - 1)) else value


def read_coefficients(data: bytes) -> list[np.ndarray]:
    """Dequantised DCT coefficients per component, shaped (rows, cols, 8, 8) in natural order."""
    pos = 2
    qtables: dict[int, np.ndarray] = {}
    huff: dict[tuple[int, int], dict[tuple[int, int], int]] = {}
    restart = 0
    frame: tuple[int, int, list[tuple[int, int, int, int]]] | None = None
    while True:
        while data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        body = data[pos + 4:pos + 2 + length]
        if marker == 0xDB:
            i = 0
            while i < len(body):
                precision, tq = body[i] >> 4, body[i] & 15
                assert precision == 0
                table = np.zeros(64, dtype=np.int64)
                table[ZIGZAG] = list(body[i + 1:i + 65])
                qtables[tq] = table.reshape(8, 8)
                i += 65
        elif marker == 0xC4:
            i = 0
            while i < len(body):
                tc, th = body[i] >> 4, body[i] & 15
                lengths = body[i + 1:i + 17]
                count = sum(lengths)
                huff[(tc, th)] = _huffman(lengths, body[i + 17:i + 17 + count])
                i += 17 + count
        elif marker == 0xDD:
            restart = int.from_bytes(body[:2], "big")
        elif marker in (0xC0, 0xC1):
            height = int.from_bytes(body[1:3], "big")
            width = int.from_bytes(body[3:5], "big")
            comps = [(body[6 + 3 * c], body[7 + 3 * c] >> 4, body[7 + 3 * c] & 15, body[8 + 3 * c])
                     for c in range(body[5])]
            frame = (width, height, comps)
        elif 0xC2 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            raise ValueError("only baseline JPEG is supported by this test helper")
        elif marker == 0xDA:
            break
        pos += 2 + length
    assert frame is not None
    width, height, comps = frame
    ns = body[0]
    scan = [(body[1 + 2 * s], body[2 + 2 * s] >> 4, body[2 + 2 * s] & 15) for s in range(ns)]
    assert ns == len(comps), "interleaved single scan expected"
    entropy = data[pos + 2 + length:]
    # Split on restart markers and remove byte stuffing.
    segments, current, i = [], bytearray(), 0
    while i < len(entropy):
        byte = entropy[i]
        if byte == 0xFF:
            nxt = entropy[i + 1]
            if nxt == 0x00:
                current.append(0xFF)
                i += 2
                continue
            if 0xD0 <= nxt <= 0xD7:
                segments.append(bytes(current))
                current = bytearray()
                i += 2
                continue
            break
        current.append(byte)
        i += 1
    segments.append(bytes(current))
    hmax = max(c[1] for c in comps)
    vmax = max(c[2] for c in comps)
    if len(comps) == 1:
        hmax = vmax = 1
        comps = [(comps[0][0], 1, 1, comps[0][3])]
    mcux = -(-width // (8 * hmax))
    mcuy = -(-height // (8 * vmax))
    if len(comps) == 1:
        mcux, mcuy = -(-width // 8), -(-height // 8)
    grids = [np.zeros((mcuy * v, mcux * h, 8, 8), dtype=np.int64) for _, h, v, _ in comps]
    tables = {cid: (td, ta) for cid, td, ta in scan}
    total = mcux * mcuy
    per_segment = restart or total
    for seg_index, segment in enumerate(segments):
        bits = _Bits(segment)
        pred = [0] * len(comps)
        for m in range(seg_index * per_segment, min(total, (seg_index + 1) * per_segment)):
            my, mx = divmod(m, mcux)
            for ci, (cid, h, v, _tq) in enumerate(comps):
                td, ta = tables[cid]
                for by in range(v):
                    for bx in range(h):
                        zz = np.zeros(64, dtype=np.int64)
                        size = bits.decode(huff[(0, td)])
                        pred[ci] += _extend(bits.read(size), size)
                        zz[0] = pred[ci]
                        k = 1
                        while k < 64:
                            rs = bits.decode(huff[(1, ta)])
                            run, size = rs >> 4, rs & 15
                            if size == 0:
                                if run == 15:
                                    k += 16
                                    continue
                                break
                            k += run
                            zz[k] = _extend(bits.read(size), size)
                            k += 1
                        block = np.zeros(64, dtype=np.int64)
                        block[ZIGZAG] = zz
                        grids[ci][my * v + by, mx * h + bx] = block.reshape(8, 8)
    return [grid * qtables[tq] for grid, (_, _, _, tq) in zip(grids, comps, strict=True)]


_SIGN = np.array([1 if k % 2 == 0 else -1 for k in range(8)])


def _transpose(c: np.ndarray) -> np.ndarray:
    return c.transpose(1, 0, 3, 2)


def _hflip(c: np.ndarray) -> np.ndarray:
    return c[:, ::-1] * _SIGN[None, None, None, :]


def _vflip(c: np.ndarray) -> np.ndarray:
    return c[::-1] * _SIGN[None, None, :, None]


def turn_coefficients(c: np.ndarray, quarter_turns: int, mirrored: bool) -> np.ndarray:
    """The coefficients of the image turned ccw by ``quarter_turns`` then mirrored."""
    for _ in range(quarter_turns % 4):
        c = _vflip(_transpose(c))  # rot90 ccw = flip up-down of the transpose
    return _hflip(c) if mirrored else c

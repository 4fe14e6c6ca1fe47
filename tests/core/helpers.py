"""Shared helpers for the export and bad-input tests: fake predictors and images."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rotbgr_core.types import Estimate

REPO_ROOT = Path(__file__).resolve().parents[2]


class FixedPredictor:
    """Says the same thing about every image."""

    name = "fixed"
    device = "cpu"

    def __init__(self, angle: float = 0.0, mirrored: bool = False, confidence: float = 0.9,
                 kind: str = "photo") -> None:
        self.estimate = Estimate(angle, mirrored, confidence, kind)

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        return [self.estimate for _ in images]


class SequencePredictor:
    """Answers from a list, in order (the pipeline predicts in input order)."""

    name = "sequence"
    device = "cpu"

    def __init__(self, estimates: Sequence[Estimate]) -> None:
        self.estimates = list(estimates)

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        taken, self.estimates = self.estimates[: len(images)], self.estimates[len(images):]
        return taken


def text_page(width: int = 320, height: int = 400, seed: int = 0) -> Image.Image:
    """A white page with rows of dark 'words' (greyscale)."""
    rng = np.random.default_rng(seed)
    page = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(page)
    margin = width // 10
    for y in range(margin, height - margin, max(8, height // 30)):
        x = margin
        while x < width - margin:
            w = int(rng.integers(width // 40 + 2, width // 10 + 3))
            draw.rectangle((x, y, min(x + w, width - margin), y + max(2, height // 90)), fill=20)
            x += w + max(3, width // 60)
    return page


def blank_scan(noise: float, seed: int = 1) -> Image.Image:
    """A blank sheet as a scanner sees it: paper tone, shading towards the corners, sensor noise, JPEG."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:1650, 0:1275].astype(np.float32)
    values = 240 - 6 * ((x - 637) ** 2 + (y - 825) ** 2) / 1275**2 + rng.normal(0, noise, (1650, 1275))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(values, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def photo(width: int = 320, height: int = 240, seed: int = 0) -> Image.Image:
    """A smooth, colourful, asymmetric 'photo' (RGB) that compresses like one."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 100 * np.sin(x / (width / 7.0) + seed)
    g = 128 + 100 * np.cos(y / (height / 5.0))
    b = 255 * (x + 2 * y) / (width + 2 * height)
    array = np.dstack([r, g, b]) + rng.normal(0, 6, (height, width, 3))
    image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")
    ImageDraw.Draw(image).rectangle((width // 10, height // 8, width // 3, height // 3), fill=(250, 30, 30))
    return image


def jpeg_bytes(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def sha256_tree(root: Path) -> dict[bytes, str]:
    """Checksums of every file below ``root`` (keys are raw path bytes)."""
    sums = {}
    for path in root.rglob("*"):
        if path.is_file():
            sums[os.fsencode(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def leftover_temporaries(root: Path) -> list[str]:
    """Temporary or hidden files left below ``root``."""
    return [str(path) for path in root.rglob("*")
            if path.is_file() and (path.name.startswith(".") or path.name.endswith(".rotbgr-tmp"))]


def lines_page(font_size: int = 20, first: int = 90, end: int = 1200) -> Image.Image:
    """A 1000 x 1300 grey page with a line of nine words every 34 px from ``first`` to ``end``."""
    page = Image.new("L", (1000, 1300), 245)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=font_size)
    rng = np.random.default_rng(3)
    words = "archive scanned page skew deskew upright rotate mirror paper text line".split()
    for y in range(first, end, 34):
        draw.text((80, y), " ".join(rng.choice(words, 9)), fill=25, font=font)
    return page

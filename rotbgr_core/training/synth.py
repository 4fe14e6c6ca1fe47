"""Training samples for the learned model, generated from cached upright images.

The trainer never decodes a source image in its loop: :func:`build_pool` shrinks
every training-split source once (photos and illustrations to 384 px, cut-outs
to 256 px with alpha, document pages to a 256 px thumbnail plus text-dense
224 px patches at the 1024 px page scale) and pickles the pool next to the cache.

A sample is an upright source with a random crop, the mirror ``m``, a small
remaining angle ``rho`` and a quarter turn ``k``; its class is ``2k + m`` and the
convention's answer for the view is ``(90k + rho, m)``.  Photos are cropped
inside the rotated content; document thumbnails lie on a scanner bed.

Sources whose group hashes into the calibration part (:func:`is_calibration`)
are kept out of training: they are used to fit the confidence and thresholds.
"""

from __future__ import annotations

import hashlib
import io
import math
import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from rotbgr_core.learned import VIEW_SIZE, crop_patch, rotate_inscribed, shrink, text_patch_centres, to_view

PATCH_STORE = 224
PATCHES_PER_PAGE = 6
PAGE_SIDE = 1024


def group_of(source_id: str) -> str:
    """The source id without its ``#page`` suffix."""
    return source_id.split("#", 1)[0]


def is_calibration(source_id: str) -> bool:
    """Whether a training-split source is held out for calibration (about 1 in 8)."""
    digest = hashlib.sha1(("calib:" + group_of(source_id)).encode()).hexdigest()
    return int(digest, 16) % 8 == 0


@dataclass
class Pool:
    """Pre-shrunk training sources."""

    photos: list[np.ndarray] = field(default_factory=list)
    illustrations: list[np.ndarray] = field(default_factory=list)
    cutouts: list[np.ndarray] = field(default_factory=list)
    doc_thumbs: list[np.ndarray] = field(default_factory=list)
    doc_patches: list[list[np.ndarray]] = field(default_factory=list)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_train_index(cache: Path, calibration: bool) -> list[dict]:
    """Training-split rows of the cache index, either the fit part or the calibration part."""
    from rotbgr_core.training.sources import read_index

    rows = [row for row in read_index(cache) if row["split"] == "train"]
    return [row for row in rows if is_calibration(row["source_id"]) == calibration]


def _load_rgb(path: str, side: int) -> np.ndarray:
    with Image.open(path) as image:
        image.draft("RGB", (side * 2, side * 2))
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            background.alpha_composite(rgba)
            rgb = background.convert("RGB")
        else:
            rgb = image.convert("RGB")
        rgb.thumbnail((side, side), Image.Resampling.LANCZOS)
        return np.asarray(rgb, dtype=np.uint8).copy()


def page_entries(gray_page: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Thumbnail and text patches of an upright page (grey, any size)."""
    page = shrink(gray_page, PAGE_SIDE)
    thumb = shrink(page, 256)
    centres = text_patch_centres(page, 160, PATCHES_PER_PAGE)
    patches = [crop_patch(page, centre, PATCH_STORE).copy() for centre in centres]
    return thumb.copy(), patches


def build_pool(cache: Path, out: Path, calibration: bool = False, max_docs: int | None = None) -> Pool:
    """Shrink every training source once and pickle the pool to ``out``."""
    rows = read_train_index(cache, calibration)
    pool = Pool()
    docs = [row for row in rows if row["kind"] == "document"]
    if max_docs is not None:
        docs = docs[:max_docs]
    for row in rows:
        kind = row["kind"]
        if kind == "photo":
            pool.photos.append(_load_rgb(row["path"], 384))
        elif kind == "illustration":
            pool.illustrations.append(_load_rgb(row["path"], 384))
        elif kind == "cutout":
            with Image.open(row["path"]) as image:
                rgba = image.convert("RGBA")
                rgba.thumbnail((256, 256), Image.Resampling.LANCZOS)
                pool.cutouts.append(np.asarray(rgba, dtype=np.uint8).copy())
    for index, row in enumerate(docs):
        with Image.open(row["path"]) as image:
            gray = np.asarray(image.convert("L"), dtype=np.uint8)
        thumb, patches = page_entries(gray)
        pool.doc_thumbs.append(thumb)
        pool.doc_patches.append(patches)
        if index % 500 == 0:
            _log(f"pool: {index}/{len(docs)} pages")
    _log(
        f"pool: {len(pool.photos)} photos, {len(pool.illustrations)} illustrations, "
        f"{len(pool.cutouts)} cut-outs, {len(pool.doc_thumbs)} pages"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as handle:
        pickle.dump(pool, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return pool


COMPACT_FORMAT = "rotbgr-pool-compact-1"


def _encode(image: np.ndarray, quality: int = 90) -> bytes:
    """JPEG for grey and RGB arrays, WebP with a lossless alpha channel for RGBA cut-outs (clean edges)."""
    if image.ndim == 3 and image.shape[2] == 4:
        buf = io.BytesIO()
        Image.fromarray(image, "RGBA").save(buf, "WEBP", quality=quality, alpha_quality=100, method=4)
        return buf.getvalue()
    code = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", code, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(data)


def _decode(data: bytes, mode: str) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        # WebP drops an all-opaque alpha channel: ask for the mode the pool holds.
        return np.asarray(image.convert(mode), dtype=np.uint8).copy()


def save_compact(pool: Pool, out: Path, max_docs: int | None = None, patches: int = PATCHES_PER_PAGE) -> None:
    """Write ``pool`` with every array encoded (a few tens of MB instead of GB), to carry it to another machine.

    ``max_docs`` keeps an evenly spread subset of the pages and ``patches`` the first patches of each: the photo
    part, the scarce one, is always kept whole. JPEG q90 for pictures, q85 for pages (a training view is far
    smaller than the stored array, and augmentation adds its own JPEG artefacts).
    """
    doc_ids = list(range(len(pool.doc_thumbs)))
    if max_docs is not None and len(doc_ids) > max_docs:
        doc_ids = [doc_ids[int(i * len(doc_ids) / max_docs)] for i in range(max_docs)]
    data = {
        "format": COMPACT_FORMAT,
        "photos": [_encode(a) for a in pool.photos],
        "illustrations": [_encode(a) for a in pool.illustrations],
        "cutouts": [_encode(a) for a in pool.cutouts],
        "doc_thumbs": [_encode(pool.doc_thumbs[i], 85) for i in doc_ids],
        "doc_patches": [[_encode(a, 85) for a in pool.doc_patches[i][:patches]] for i in doc_ids],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(out)


def load_pool(path: Path) -> Pool:
    """Read a pickled pool, plain or compact (see :func:`save_compact`)."""
    with open(path, "rb") as handle:
        pool = pickle.load(handle)
    if isinstance(pool, dict) and pool.get("format") == COMPACT_FORMAT:
        return Pool(
            photos=[_decode(b, "RGB") for b in pool["photos"]],
            illustrations=[_decode(b, "RGB") for b in pool["illustrations"]],
            cutouts=[_decode(b, "RGBA") for b in pool["cutouts"]],
            doc_thumbs=[_decode(b, "L") for b in pool["doc_thumbs"]],
            doc_patches=[[_decode(b, "L") for b in page] for page in pool["doc_patches"]],
        )
    assert isinstance(pool, Pool)
    return pool


# ----------------------------------------------------------------------------- helpers


def quarter_and_mirror(image: np.ndarray, k: int, mirrored: bool, mirror_done: bool = False) -> np.ndarray:
    """Apply the convention's forward transform for ``(90k, m)`` to an upright array.

    ``mirror_done`` says the mirror was already applied (before a residual rotation).
    """
    out = image
    if mirrored and not mirror_done:
        out = out[:, ::-1]
    return np.ascontiguousarray(np.rot90(out, -k))


def _residual(rng: np.random.Generator, wide: bool) -> float:
    """The remaining angle a view is left with after the classical deskew."""
    u = rng.random()
    if not wide:
        return float(np.clip(rng.normal(0.0, 0.6), -3.0, 3.0)) if u < 0.9 else float(rng.uniform(-6, 6))
    if u < 0.55:
        return float(np.clip(rng.normal(0.0, 1.5), -6.0, 6.0))
    if u < 0.85:
        return float(rng.uniform(-15.0, 15.0))
    return float(rng.uniform(-40.0, 40.0))


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return image
    flags = cv2.IMREAD_GRAYSCALE if image.ndim == 2 else cv2.IMREAD_COLOR
    return np.asarray(cv2.imdecode(buf, flags), dtype=np.uint8)


def photo_augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour jitter, grey, blur, noise and JPEG for photo-like views (uint8 RGB)."""
    out = image.astype(np.float32)
    out = out * rng.uniform(0.65, 1.35) + rng.uniform(-25, 25)
    mean = out.mean()
    out = (out - mean) * rng.uniform(0.65, 1.35) + mean
    gray = out.mean(axis=2, keepdims=True)
    sat = 0.0 if rng.random() < 0.1 else rng.uniform(0.5, 1.5)
    out = gray + (out - gray) * sat
    out = out * rng.uniform(0.85, 1.15, size=3)
    if rng.random() < 0.2:
        out = out + rng.normal(0, rng.uniform(2, 10), size=out.shape)
    result = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        result = np.asarray(cv2.GaussianBlur(result, (0, 0), rng.uniform(0.4, 1.5)), dtype=np.uint8)
    if rng.random() < 0.3:
        result = _jpeg(result, int(rng.integers(30, 90)))
    return result


def doc_augment(gray: np.ndarray, rng: np.random.Generator, paper: float, ink: float) -> np.ndarray:
    """Paper tone, ink, blur, noise, bitonal and JPEG for document views (uint8 grey)."""
    out = gray.astype(np.float32) / 255.0
    out = ink + out * (paper - ink)
    if rng.random() < 0.35:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.1))
    if rng.random() < 0.4:
        out = out + rng.normal(0, rng.uniform(1, 10), size=out.shape)
    result = np.clip(out, 0, 255).astype(np.uint8)
    u = rng.random()
    if u < 0.2:
        threshold = 0.5 * (paper + ink) + rng.uniform(-25, 25)
        result = np.where(result > threshold, 255, 0).astype(np.uint8)
    elif u < 0.5:
        result = _jpeg(result, int(rng.integers(35, 92)))
    return result


def _tint(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rgb = np.repeat(gray[:, :, None], 3, axis=2).astype(np.float32)
    if rng.random() < 0.3:
        rgb = rgb * np.array([1.0, rng.uniform(0.94, 1.0), rng.uniform(0.82, 1.0)], dtype=np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _random_crop(image: np.ndarray, rng: np.random.Generator, min_area: float = 0.3) -> np.ndarray:
    height, width = image.shape[:2]
    if rng.random() < 0.2:
        return image
    area = rng.uniform(min_area, 1.0) * width * height
    aspect = math.exp(rng.uniform(math.log(0.55), math.log(1.9)))
    cw = int(min(width, max(24, math.sqrt(area * aspect))))
    ch = int(min(height, max(24, area / max(cw, 1))))
    x0 = int(rng.integers(0, width - cw + 1))
    y0 = int(rng.integers(0, height - ch + 1))
    return image[y0 : y0 + ch, x0 : x0 + cw]


def _paste(background: np.ndarray, cutout: np.ndarray, rng: np.random.Generator) -> None:
    """Alpha-composite a cut-out onto a background in place, upright, at a random place and scale."""
    bh, bw = background.shape[:2]
    ch, cw = cutout.shape[:2]
    scale = rng.uniform(0.25, 0.8) * min(bh / ch, bw / cw)
    nw, nh = max(8, int(cw * scale)), max(8, int(ch * scale))
    small = cv2.resize(cutout, (nw, nh), interpolation=cv2.INTER_AREA)
    nw, nh = min(nw, bw), min(nh, bh)
    small = small[:nh, :nw]
    x0 = int(rng.integers(0, bw - nw + 1))
    # Objects rest in the lower part of the scene more often than not.
    y_lo = int((bh - nh) * 0.3) if rng.random() < 0.6 else 0
    y0 = int(rng.integers(y_lo, bh - nh + 1))
    alpha = small[:, :, 3:4].astype(np.float32) / 255.0
    region = background[y0 : y0 + nh, x0 : x0 + nw].astype(np.float32)
    background[y0 : y0 + nh, x0 : x0 + nw] = (alpha * small[:, :, :3] + (1 - alpha) * region).astype(np.uint8)


def _gradient_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    top = rng.uniform(60, 255, size=3)
    bottom = rng.uniform(0, 200, size=3)
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    image = top * (1 - t) + bottom * t
    return np.clip(np.broadcast_to(image, (height, width, 3)), 0, 255).astype(np.uint8).copy()


# ----------------------------------------------------------------------------- samples


@dataclass
class Sample:
    """Views of one sample with its labels."""

    views: list[np.ndarray]
    label: int
    residual: float
    document: bool
    wide: bool


class Generator:
    """Draws training samples from a pool."""

    def __init__(self, pool: Pool, seed: int) -> None:
        """Use ``pool`` with a generator seeded by ``seed``."""
        self.pool = pool
        self.rng = np.random.default_rng(seed)

    def _scene(self) -> np.ndarray:
        """An upright RGB source: photo, illustration, or cut-outs composed on a scene."""
        rng = self.rng
        pool = self.pool
        u = rng.random()
        if (u < 0.42 or not pool.cutouts) and pool.photos:
            return pool.photos[int(rng.integers(len(pool.photos)))]
        if u < 0.62 and pool.illustrations:
            return pool.illustrations[int(rng.integers(len(pool.illustrations)))]
        if rng.random() < 0.75 and pool.photos:
            base = pool.photos[int(rng.integers(len(pool.photos)))]
            background = _random_crop(base, rng, 0.4).copy()
        else:
            background = _gradient_background(rng, int(rng.integers(200, 320)), int(rng.integers(240, 384)))
        for _ in range(int(rng.integers(1, 4))):
            _paste(background, pool.cutouts[int(rng.integers(len(pool.cutouts)))], rng)
        return background

    def photo_sample(self) -> Sample:
        """A photo-like sample: one inscribed-crop view."""
        rng = self.rng
        source = self._scene()
        k = int(rng.integers(4))
        mirrored = bool(rng.random() < 0.5)
        rho = _residual(rng, wide=True)
        crop = _random_crop(source, rng)
        if mirrored:
            crop = crop[:, ::-1]
        turned = rotate_inscribed(np.ascontiguousarray(crop), -rho)
        small = shrink(turned, VIEW_SIZE)
        view = quarter_and_mirror(small, k, mirrored, mirror_done=True)
        view = photo_augment(view, rng)
        return Sample([to_view(view)], 2 * k + int(mirrored), rho, False, True)

    def doc_sample(self, patches: int = 2) -> Sample:
        """A document sample: the page thumbnail on a bed plus text patches."""
        rng = self.rng
        pool = self.pool
        index = int(rng.integers(len(pool.doc_thumbs)))
        k = int(rng.integers(4))
        mirrored = bool(rng.random() < 0.5)
        rho = _residual(rng, wide=False)
        paper = rng.uniform(200, 255) if rng.random() < 0.6 else 255.0
        ink = rng.uniform(0, 80)
        thumb = pool.doc_thumbs[index]
        if mirrored:
            thumb = thumb[:, ::-1]
        height, width = thumb.shape
        if rng.random() < 0.3:
            # The inside of a page turned by a large angle and straightened again.
            zoom = rng.uniform(1.05, 1.6)
            ch, cw = int(height / zoom), int(width / zoom)
            y0, x0 = (height - ch) // 2, (width - cw) // 2
            thumb = thumb[y0 : y0 + ch, x0 : x0 + cw]
        page = doc_augment(np.ascontiguousarray(thumb), rng, paper, ink)
        fill = int(paper)
        if rng.random() < 0.55:
            bed = int(rng.choice([rng.uniform(10, 70), rng.uniform(100, 210), rng.uniform(230, 255)]))
            margins = [int(max(page.shape) * rng.uniform(0.0, 0.1)) for _ in range(4)]
            page = cv2.copyMakeBorder(
                page, margins[1], margins[3], margins[0], margins[2], cv2.BORDER_CONSTANT, value=bed
            )
            fill = bed
        from rotbgr_core.learned import rotate_expand

        page = rotate_expand(page, -rho, fill)
        view = quarter_and_mirror(shrink(page, VIEW_SIZE), k, mirrored, mirror_done=True)
        views = [to_view(_tint(view, rng) if rng.random() < 0.3 else view)]
        stored = pool.doc_patches[index]
        for choice in rng.choice(len(stored), size=min(patches, len(stored)), replace=False):
            patch = stored[int(choice)]
            if mirrored:
                patch = patch[:, ::-1]
            scale = rng.uniform(0.6, 1.15)
            centre = PATCH_STORE / 2.0 + rng.uniform(-12, 12, size=2)
            matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), -rho, scale)
            matrix[0, 2] += VIEW_SIZE / 2.0 - centre[0]
            matrix[1, 2] += VIEW_SIZE / 2.0 - centre[1]
            warped = cv2.warpAffine(
                np.ascontiguousarray(patch),
                matrix,
                (VIEW_SIZE, VIEW_SIZE),
                flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            warped = doc_augment(np.asarray(warped, dtype=np.uint8), rng, paper, ink)
            views.append(to_view(quarter_and_mirror(warped, k, mirrored, mirror_done=True)))
        return Sample(views, 2 * k + int(mirrored), rho, True, False)


def dev_like_image(row: dict, rng: np.random.Generator) -> tuple[Image.Image, float, bool]:
    """A dev-set-like input from a (calibration) source, with its answer, via the dev-set builder."""
    from rotbgr_core.training import devset

    angle, mirrored = devset.sample_pose(rng)
    if row["kind"] == "document":
        if rng.random() < 0.5:
            image = devset.make_document(row["path"], angle, mirrored, rng)
        else:
            image, _ = devset.make_scan(row["path"], angle, mirrored, rng)
    else:
        image = devset.make_photo(row["path"], angle, mirrored, rng)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=90)
    loaded = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    loaded.thumbnail((1024, 1024), Image.Resampling.BILINEAR)
    return loaded, angle, mirrored

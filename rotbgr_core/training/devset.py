"""Build the dev evaluation sets (photos, documents, scans) from dev-split sources only.

Usage::

    python -m rotbgr_core.training.devset build --out /work/cache/devsets --seed 0 [--cache DIR] [--n 300]
    python -m rotbgr_core.training.devset build --split calibration --out /work/cache/calibsets --seed 0
    python -m rotbgr_core.training.devset negatives --sets /work/cache/devsets --out /work/cache/devsets-negative
    python -m rotbgr_core.training.devset shaded --sets /work/cache/devsets --out /work/cache/devsets-shaded
    python -m rotbgr_core.training.devset stress --sets /work/cache/devsets --out /work/cache/devsets-stress
    python -m rotbgr_core.training.devset screens --out /work/cache/screensets [--cache DIR]
    python -m rotbgr_core.training.devset desktops --out /work/cache/screensets [--cache DIR]

``--split calibration`` makes the same three sets from the calibration part of the training split instead
(``synth.is_calibration``: never fitted on): the place to choose between variants, so that the dev sets only
ever report.

Each set is a folder with images and ``truth.jsonl`` (one line per image:
``{"path": file name, "angle": float, "mirrored": bool, "source_id": str, ...}``) in the SPEC convention: an input made
from the upright ``U`` as ``mirror_h^m(U).rotate(-a, expand=True)`` has the answer ``(a, m)``.

``negatives`` writes the documents and scans of built sets as their negatives (light ink on dark, as dark-mode
screenshots and negative scans show pages; RGB PNG), with the same answers, as ``documents_negative`` and
``scans_negative``. ``shaded`` writes the documents lit by a ramp from one corner to the opposite one (as phone
photos of pages are), with the dark corner at 35% and at 65% of full brightness, as ``documents_shaded35`` and
``documents_shaded65``, and in a shadow along one side (as a book's spine casts: 30% brightness at the side,
fading over about 12% of the image) as ``documents_edge30``. ``stress`` writes the documents and scans shrunk to
320 px (``*_small320``), photographed at a slant (``*_keystone25``: the top edge 25% shorter), bent as near a
book's spine (``*_curve3``: rows bowed by 3% of the height), smeared by a shaking hand (``*_motion11``: 11 px
across), photographed in a dim room (``*_dim35``: 35% brightness, a warm cast and noise), and the documents under
a lens vignette (``documents_vignette55``).

``screens`` writes GIMP's help screenshots (Debian ``gimp-help-en``, fetched by ``sources.py``: dialogs, menus,
preferences, tool options; none in the training pool, which takes only the package's photos), posed once each, in
two halves by file (every other one): ``screens_a`` to choose on, ``screens_b`` to report. Half of each are exact
quarter turns, half a quarter turn plus N(0, 3 deg) clipped to +-10 deg; 15% mirrored; the corners filled with the
screenshot's corner colour. Half of GIMP's screenshots are in its dark theme.

``desktops`` writes full-screen captures (:data:`DESKTOP_SCREENS`: 1680 x 1050 to 3840 x 2160, some at scale 2, as
a HiDPI screen draws) of two to six of those screenshots on a desktop, flat or shaded with noise, above a taskbar,
posed as the screenshots are, in the same two halves: ``desktops_a`` to choose on, ``desktops_b`` to report.
Shrunk to the prediction size, their labels are 4-7 px high.

Angles: 25% exact multiples of 90; 45% a multiple of 90 plus N(0, 4 deg) clipped to +-15 deg; 30% uniform in
[-180, 180). 15% mirrored. Rotations are bicubic, at the source resolution or higher.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import sys
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFilter, ImageOps

from rotbgr_core.geometry import make_rotated
from rotbgr_core.training.sources import DEFAULT_CACHE, group_of, read_index

LOG = logging.getLogger("rotbgr.devset")
SETS = ("photos", "documents", "scans")


def wrap_angle(a: float) -> float:
    """Wrap an angle in degrees into [-180, 180)."""
    return float((a + 180.0) % 360.0 - 180.0)


def sample_pose(rng: np.random.Generator) -> tuple[float, bool]:
    """Draw (angle, mirrored) with the dev-set mixture.

    Args:
        rng: Random generator.

    Returns:
        The angle in [-180, 180) and the mirror flag.
    """
    u = rng.random()
    k = int(rng.integers(0, 4)) * 90.0
    if u < 0.25:
        a = k
    elif u < 0.70:
        a = k + float(np.clip(rng.normal(0.0, 4.0), -15.0, 15.0))
    else:
        a = float(rng.uniform(-180.0, 180.0))
    a = round(wrap_angle(a), 4)
    return (0.0 if a == 0 else a), bool(rng.random() < 0.15)


def inscribed_size(w: float, h: float, angle_deg: float) -> tuple[float, float]:
    """Size of the largest axis-aligned rectangle inside a ``w`` x ``h`` rectangle rotated by ``angle_deg``.

    Args:
        w: Width of the unrotated rectangle.
        h: Height of the unrotated rectangle.
        angle_deg: Rotation in degrees.

    Returns:
        (width, height) of the inscribed rectangle, centred on the rotated rectangle's centre.
    """
    a = math.radians(angle_deg)
    sin_a, cos_a = abs(math.sin(a)), abs(math.cos(a))
    if sin_a < 1e-9 or cos_a < 1e-9:
        return (w, h) if cos_a >= sin_a else (h, w)
    long_side, short_side = (w, h) if w >= h else (h, w)
    if short_side <= 2.0 * sin_a * cos_a * long_side or abs(sin_a - cos_a) < 1e-10:
        x = 0.5 * short_side
        return (x / sin_a, x / cos_a) if w >= h else (x / cos_a, x / sin_a)
    cos_2a = cos_a * cos_a - sin_a * sin_a
    return (w * cos_a - h * sin_a) / cos_2a, (h * cos_a - w * sin_a) / cos_2a


def make_input(upright: Image.Image, angle: float, mirrored: bool, fill: int | tuple[int, ...] = 0) -> Image.Image:
    """Apply the SPEC's forward transform ``mirror_h^m(U).rotate(-a, expand=True)`` (bicubic; exact for 90s)."""
    return make_rotated(upright, angle, mirrored, fill=fill)


def _random_subcrop(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random sub-window of an upright photo (35-100% of the area, aspect 0.6-1.8)."""
    w, h = im.size
    if rng.random() < 0.25:
        return im
    area = rng.uniform(0.35, 1.0) * w * h
    aspect = math.exp(rng.uniform(math.log(0.6), math.log(1.8)))
    cw = int(min(w, math.sqrt(area * aspect)))
    ch = int(min(h, area / max(cw, 1)))
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    return im.crop((x0, y0, x0 + cw, y0 + ch))


def make_photo(path: str, angle: float, mirrored: bool, rng: np.random.Generator) -> Image.Image:
    """Rotated photo cropped inside the rotated content (no corners), long side 600-1600."""
    with Image.open(path) as im0:
        up = _random_subcrop(im0.convert("RGB"), rng)
    w, h = up.size
    iw, ih = inscribed_size(w, h, angle)
    target = float(rng.uniform(600, 1600))
    # Scale first so that the final crop has about the target long side (never below 600 px): one resampling only.
    scale = min(target, max(612.0, max(iw, ih))) / max(iw, ih)
    if abs(scale - 1.0) > 0.02:
        up = up.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
        w, h = up.size
        iw, ih = inscribed_size(w, h, angle)
    rot = make_input(up, angle, mirrored)
    margin = 0 if angle % 90 == 0 else 2
    cw, ch = int(iw) - 2 * margin, int(ih) - 2 * margin
    cx, cy = rot.size[0] / 2.0, rot.size[1] / 2.0
    x0, y0 = round(cx - cw / 2.0), round(cy - ch / 2.0)
    out = rot.crop((x0, y0, x0 + cw, y0 + ch))
    if max(out.size) > 1600:
        out.thumbnail((1600, 1600), Image.Resampling.LANCZOS)
    return out


def _paper(rng: np.random.Generator, white_p: float) -> tuple[int, int, int]:
    if rng.random() < white_p:
        return (255, 255, 255)
    base = int(rng.integers(228, 252))
    return (min(255, base + int(rng.integers(0, 6))), base, max(0, base - int(rng.integers(0, 18))))


def _tone(page: Image.Image, paper: tuple[int, int, int], ink: tuple[int, int, int]) -> Image.Image:
    """Map a greyscale page to RGB: white -> paper colour, black -> ink colour."""
    g = np.asarray(page.convert("L"), dtype=np.float32)[..., None] / 255.0
    rgb = np.asarray(ink, np.float32) + g * (np.asarray(paper, np.float32) - np.asarray(ink, np.float32))
    return Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB")


def make_document(path: str, angle: float, mirrored: bool, rng: np.random.Generator) -> Image.Image:
    """Rendered page rotated on a plain page-coloured background with a margin."""
    with Image.open(path) as im0:
        page = im0.convert("L")
    paper = _paper(rng, white_p=0.7)
    up = page if paper == (255, 255, 255) else _tone(page, paper, (20, 20, 24))
    fill = 255 if up.mode == "L" else paper
    rot = make_input(up, angle, mirrored, fill=fill)
    m = int(max(rot.size) * rng.uniform(0.02, 0.08))
    canvas = Image.new(up.mode, (rot.size[0] + 2 * m, rot.size[1] + 2 * m), fill)
    canvas.paste(rot, (m, m))
    target = int(rng.uniform(1200, 1600))
    if max(canvas.size) > target:
        canvas.thumbnail((target, target), Image.Resampling.LANCZOS)
    return canvas


def make_scan(path: str, angle: float, mirrored: bool, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """A realistic scan: paper tone, scanner bed, blur, noise; returns the image and its file format.

    Format is one of ``"jpeg"`` (colour or grey), ``"png"`` (grey) or ``"png1"``/``"tiff-g4"`` (bitonal).
    """
    with Image.open(path) as im0:
        page = im0.convert("L")
    paper = _paper(rng, white_p=0.25)
    ink_v = int(rng.integers(0, 60))
    up = _tone(page, paper, (ink_v, ink_v, min(255, ink_v + int(rng.integers(0, 20)))))
    # Rotate the page with its mask, then lay it on a scanner bed larger than the page on some sides.
    up_rgba = up.convert("RGBA")
    rot = make_input(up_rgba, angle, mirrored, fill=(0, 0, 0, 0))
    rw, rh = rot.size
    s = max(rw, rh)
    margins = [
        int(s * rng.uniform(0.0, 0.06)) if rng.random() < 0.8 else -int(s * rng.uniform(0.0, 0.02)) for _ in range(4)
    ]
    bw, bh = rw + margins[0] + margins[2], rh + margins[1] + margins[3]
    bed_v = int(rng.choice([rng.integers(20, 70), rng.integers(110, 200)]))
    yy = np.linspace(-1.0, 1.0, bh, dtype=np.float32)[:, None]
    xx = np.linspace(-1.0, 1.0, bw, dtype=np.float32)[None, :]
    grad = bed_v + rng.uniform(-15, 15) * yy + rng.uniform(-15, 15) * xx
    bed_arr = np.repeat(np.clip(grad, 0, 255)[..., None], 3, axis=2)
    bed_arr = bed_arr + rng.normal(0.0, 3.0, size=bed_arr.shape).astype(np.float32)
    bed = Image.fromarray(np.clip(bed_arr, 0, 255).astype(np.uint8), "RGB")
    bed.paste(rot, (margins[0], margins[1]), rot)
    # Scan resolution, optics and sensor.
    target = int(rng.uniform(1000, 1700))
    bed.thumbnail((target, target), Image.Resampling.LANCZOS)
    blur = rng.uniform(0.0, 1.2)
    if blur > 0.25:
        bed = bed.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(bed, dtype=np.float32)
    arr = arr + rng.normal(0.0, rng.uniform(0.0, 6.0), size=arr.shape[:2])[..., None]
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    mode = rng.random()
    if mode < 0.45:
        buf = io.BytesIO()
        out.save(buf, "JPEG", quality=int(rng.integers(55, 93)))
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), "jpeg"
    grey = out.convert("L")
    if mode < 0.75:
        if rng.random() < 0.5:
            return grey, "png"
        buf = io.BytesIO()
        grey.save(buf, "JPEG", quality=int(rng.integers(55, 93)))
        return Image.open(io.BytesIO(buf.getvalue())).convert("L"), "jpeg"
    thr = int(np.clip(0.5 * (paper[1] + ink_v) + rng.uniform(-25, 25), 60, 220))
    return binarise(grey, thr), ("tiff-g4" if rng.random() < 0.5 else "png1")


def binarise(grey: Image.Image, threshold: int) -> Image.Image:
    """A 1-bit scan as a scanner's dynamic threshold makes it, from the grey scan.

    Black at or below ``threshold``, and wherever the grey is clearly darker than its surroundings (under 85% of
    the local mean). The fixed threshold alone (about the midpoint of the paper and the nominal ink) erased every
    stroke of pages whose text the scan's low resolution and blur had turned light grey: before 2026-12-03, 4 of
    the 300 dev scans and 4 of the 300 calibration scans were blank images (no page shows an orientation then).
    """
    values = np.asarray(grey, dtype=np.float32)
    side = max(15, (max(values.shape) // 40) | 1)
    local = cv2.blur(values, (side, side))
    black = (values <= threshold) | (values < 0.85 * local)
    return Image.fromarray(np.where(black, 0, 255).astype(np.uint8)).convert("1", dither=Image.Dither.NONE)


def _save(im: Image.Image, dest_stem: Path, fmt: str) -> Path:
    if fmt == "jpeg":
        dest = dest_stem.with_suffix(".jpg")
        im.save(dest, "JPEG", quality=90)
    elif fmt == "tiff-g4":
        dest = dest_stem.with_suffix(".tif")
        im.save(dest, "TIFF", compression="group4")
    else:
        dest = dest_stem.with_suffix(".png")
        im.save(dest, "PNG")
    return dest


def _job(args: tuple[str, int, str, str, str, int]) -> dict:
    """Make one dev image (worker process); returns its truth record."""
    set_name, i, src, source_id, out_dir, seed = args
    rng = np.random.default_rng([seed, SETS.index(set_name), i])
    angle, mirrored = sample_pose(rng)
    stem = Path(out_dir) / set_name / f"{set_name}_{i:04d}"
    if set_name == "photos":
        dest = _save(make_photo(src, angle, mirrored, rng), stem, "jpeg")
    elif set_name == "documents":
        dest = _save(make_document(src, angle, mirrored, rng), stem, "png")
    else:
        im, fmt = make_scan(src, angle, mirrored, rng)
        dest = _save(im, stem, fmt)
    return {"path": dest.name, "angle": angle, "mirrored": mirrored, "source_id": source_id}


def _spread(records: list[dict], n: int, rng: np.random.Generator, key: Callable[[dict], str]) -> list[dict]:
    """Pick ``n`` records round-robin over groups (cycling when there are fewer records than ``n``)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    names = sorted(groups)
    rng.shuffle(names)
    for g in names:
        rng.shuffle(groups[g])
    picked: list[dict] = []
    rnd = 0
    while len(picked) < n:
        for g in names:
            lst = groups[g]
            picked.append(lst[rnd % len(lst)])
            if len(picked) == n:
                break
        rnd += 1
    return picked


def build(
    out: Path, seed: int = 0, cache: Path = DEFAULT_CACHE, n: int = 300, workers: int = 2, split: str = "dev"
) -> dict[str, int]:
    """Build the three dev sets under ``out`` from ``split == "dev"`` sources only.

    Args:
        out: Output folder (``out/photos``, ``out/documents``, ``out/scans``).
        seed: Random seed; the same seed gives the same sets.
        cache: The source cache (see ``sources.py``).
        n: Images per set.
        workers: Worker processes.
        split: ``"dev"``, or ``"calibration"`` for the same sets made from the training split's calibration part.

    Returns:
        Number of images written per set.
    """
    if split == "calibration":
        from rotbgr_core.training.synth import read_train_index

        index = read_train_index(cache, calibration=True)
    elif split == "dev":
        index = [r for r in read_index(cache) if r["split"] == "dev"]
    else:
        raise ValueError(f"unknown split {split!r} (dev or calibration)")
    rng = np.random.default_rng(seed)
    photos = [r for r in index if r["kind"] == "photo"]
    docs = sorted((r for r in index if r["kind"] == "document" and "#" in r["source_id"]), key=lambda r: r["source_id"])
    by_pdf = lambda r: group_of(r["source_id"])  # noqa: E731
    doc_pick = _spread(docs, min(2 * n, len(docs)), rng, by_pdf)
    plan = {
        "photos": _spread(photos, n, rng, lambda r: r["source_id"]),
        "documents": doc_pick[0::2][:n],
        "scans": doc_pick[1::2][:n],
    }
    # Fewer dev pages than 2n: reuse pages (with other poses) rather than write short sets.
    for name in ("documents", "scans"):
        if len(plan[name]) < n:
            plan[name] = _spread(docs, n, rng, by_pdf)
    jobs = []
    for name, recs in plan.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        for i, r in enumerate(recs):
            jobs.append((name, i, r["path"], r["source_id"], str(out), seed))
    LOG.info("building %d images (%s)", len(jobs), {k: len(v) for k, v in plan.items()})
    truths: dict[str, list[dict]] = defaultdict(list)
    with ProcessPoolExecutor(max_workers=workers) as ex:
        for k, rec in enumerate(ex.map(_job, jobs, chunksize=8)):
            truths[jobs[k][0]].append(rec)
            if (k + 1) % 100 == 0:
                LOG.info("%d/%d", k + 1, len(jobs))
    for name, recs in truths.items():
        with (out / name / "truth.jsonl").open("w", encoding="utf-8") as f:
            for rec in recs:
                f.write(json.dumps(rec) + "\n")
    return {k: len(v) for k, v in truths.items()}


def _write_variant(folder: Path, target: Path, transform: Callable[[Image.Image, int], Image.Image]) -> int:
    """Write ``transform(image, index)`` of every image of the set in ``folder`` to ``target`` as PNG, same truth."""
    target.mkdir(parents=True, exist_ok=True)
    lines = []
    for index, line in enumerate((folder / "truth.jsonl").read_text().splitlines()):
        truth = json.loads(line)
        with Image.open(folder / truth["path"]) as image:
            changed = transform(image, index)
        file_name = Path(truth["path"]).stem + ".png"
        changed.save(target / file_name)
        lines.append(json.dumps({**truth, "path": file_name}) + "\n")
    (target / "truth.jsonl").write_text("".join(lines))
    return len(lines)


def write_negatives(sets: Path, out: Path) -> dict[str, int]:
    """Write the negative of every image of ``sets``' documents and scans, with the same truth; returns counts."""
    return {f"{name}_negative": _write_variant(sets / name, out / f"{name}_negative",
                                               lambda image, _: ImageOps.invert(image.convert("RGB")))
            for name in ("documents", "scans")}


def light_ramp(image: Image.Image, darkest: float) -> Image.Image:
    """``image`` (RGB) lit from its top-left corner (``darkest`` of full brightness) to its bottom-right one."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width = pixels.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    light = darkest + (1.0 - darkest) * np.clip(0.6 * columns / width + 0.6 * rows / height, 0.0, 1.0)
    return Image.fromarray((pixels * light[..., None]).round().astype(np.uint8))


def edge_shadow(image: Image.Image, darkest: float, reach: float, side: int) -> Image.Image:
    """``image`` (RGB) in a shadow along one side, as a book's spine casts.

    The light is ``darkest`` of full brightness at that side, and the shadow fades by a factor e every ``reach`` of
    the image's extent away from it. ``side``: 0 left, 1 right, 2 top, 3 bottom.
    """
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width = pixels.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = (columns / width, (width - 1 - columns) / width, rows / height, (height - 1 - rows) / height)[side % 4]
    light = 1.0 - (1.0 - darkest) * np.exp(-distance / reach)
    return Image.fromarray((pixels * light[..., None]).round().astype(np.uint8))


def write_shaded(sets: Path, out: Path, darkest: tuple[float, ...] = (0.35, 0.65),
                 edge: tuple[float, float] | None = (0.3, 0.12)) -> dict[str, int]:
    """Write ``sets``' documents under a light ramp and in a shadow along one side; returns counts.

    One set per darkest level of the ramp (:func:`light_ramp`), and ``documents_edge{darkest}`` for the shadow
    (:func:`edge_shadow` with ``edge`` = (darkest, reach); the side turns from image to image).
    """
    counts = {}
    for level in darkest:
        name = f"documents_shaded{round(level * 100)}"
        counts[name] = _write_variant(sets / "documents", out / name,
                                      lambda image, _, level=level: light_ramp(image, level))
    if edge is not None:
        name = f"documents_edge{round(edge[0] * 100)}"
        counts[name] = _write_variant(sets / "documents", out / name,
                                      lambda image, index: edge_shadow(image, edge[0], edge[1], index))
    return counts


def shrunk(image: Image.Image, side: int) -> Image.Image:
    """``image`` (RGB) shrunk to ``side`` pixels on its long side (a thumbnail, a web image)."""
    small = image.convert("RGB")
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return small


def keystone(image: Image.Image, squeeze: float) -> Image.Image:
    """``image`` (RGB) seen at a slant, as a phone photographs a page: its top edge ``squeeze`` of its width shorter.

    The corners the slant uncovers take the median colour of the top and bottom rows (the page's surroundings).
    """
    pixels = np.asarray(image.convert("RGB"))
    height, width = pixels.shape[:2]
    inset = squeeze * width / 2.0
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    slanted = np.float32([[inset, 0], [width - inset, 0], [width, height], [0, height]])
    surround = np.median(np.concatenate([pixels[0], pixels[-1]]), axis=0)
    warped = cv2.warpPerspective(pixels, cv2.getPerspectiveTransform(corners, slanted), (width, height),
                                 flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=tuple(int(value) for value in surround))
    return Image.fromarray(warped)


def curved(image: Image.Image, amplitude: float) -> Image.Image:
    """``image`` (RGB) bent as a page near a book's spine: rows bow by up to ``amplitude`` of the height."""
    pixels = np.asarray(image.convert("RGB"))
    height, width = pixels.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    bowed = rows + amplitude * height * np.sin(np.pi * columns / width)
    return Image.fromarray(cv2.remap(pixels, columns, bowed.astype(np.float32), cv2.INTER_CUBIC,
                                     borderMode=cv2.BORDER_REPLICATE))


def vignette(image: Image.Image, strength: float) -> Image.Image:
    """``image`` (RGB) darker towards its corners, as a lens shows.

    The light is ``1 - strength * r^2`` (r = 1 at the middle of each side), never under 30% brightness.
    """
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width = pixels.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    radius2 = ((columns - width / 2) / (width / 2)) ** 2 + ((rows - height / 2) / (height / 2)) ** 2
    light = np.clip(1.0 - strength * radius2, 0.3, 1.0)
    return Image.fromarray((pixels * light[..., None]).round().astype(np.uint8))


def motion_blurred(image: Image.Image, length: int, direction: float = 0.0) -> Image.Image:
    """``image`` (RGB) smeared over ``length`` pixels, as a shaking hand blurs a photo.

    ``direction``: the smear's angle in degrees, counter-clockwise from the horizontal (0: across).
    """
    kernel = np.zeros((length, length), dtype=np.float32)
    kernel[length // 2, :] = 1.0
    if direction % 180.0 != 0.0:
        centre = ((length - 1) / 2.0, (length - 1) / 2.0)
        turn = cv2.getRotationMatrix2D(centre, direction, 1.0)
        kernel = cv2.warpAffine(kernel, turn, (length, length), flags=cv2.INTER_LINEAR)
    kernel /= kernel.sum()
    return Image.fromarray(cv2.filter2D(np.asarray(image.convert("RGB")), -1, kernel))


def dimmed(image: Image.Image, level: float, noise: float, seed: int) -> Image.Image:
    """``image`` (RGB) photographed in a dim, warm room.

    ``level`` of its brightness (blue the dimmest), with sensor noise of ``noise`` grey levels drawn from ``seed``.
    """
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) * level * np.array([1.0, 0.9, 0.7], dtype=np.float32)
    pixels = pixels + rng.normal(0.0, noise, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))


#: The stress sets ``devset stress`` writes: name -> (the sets it starts from, the change).
STRESS: dict[str, tuple[tuple[str, ...], Callable[[Image.Image, int], Image.Image]]] = {
    "small320": (("documents", "scans"), lambda image, _: shrunk(image, 320)),
    "keystone25": (("documents", "scans"), lambda image, _: keystone(image, 0.25)),
    "curve3": (("documents", "scans"), lambda image, _: curved(image, 0.03)),
    "vignette55": (("documents",), lambda image, _: vignette(image, 0.55)),
    "motion11": (("documents", "scans"), lambda image, _: motion_blurred(image, 11)),
    "dim35": (("documents", "scans"), lambda image, index: dimmed(image, 0.35, 6.0, index)),
}


def write_stress(sets: Path, out: Path) -> dict[str, int]:
    """Write the :data:`STRESS` variants of ``sets``' documents and scans, with the same answers; returns counts."""
    counts = {}
    for stress, (names, change) in STRESS.items():
        for name in names:
            counts[f"{name}_{stress}"] = _write_variant(sets / name, out / f"{name}_{stress}", change)
    return counts


#: The folders of GIMP's help images that hold screenshots (the others hold filter examples: photos).
SCREEN_FOLDERS = ("dialogs", "menus", "preferences", "tool-options")
#: Smaller images (a button, a cursor) are left out.
SCREEN_MIN_SIZE = (240, 160)


def write_screens(cache: Path, out: Path) -> dict[str, int]:
    """Write the posed GIMP help screenshots as ``screens_a`` and ``screens_b`` (see the module docstring)."""
    root = _gimp_images(cache)
    files = _gimp_screenshots(cache)
    counts = {}
    for half, seed in (("a", 11), ("b", 12)):
        rng = np.random.default_rng(seed)
        target = out / f"screens_{half}"
        target.mkdir(parents=True, exist_ok=True)
        lines = []
        for path in files[0 if half == "a" else 1::2]:
            with Image.open(path) as image:
                if image.width < SCREEN_MIN_SIZE[0] or image.height < SCREEN_MIN_SIZE[1]:
                    continue
                screen = Image.new("RGBA", image.size, (255, 255, 255, 255))
                screen.alpha_composite(image.convert("RGBA"))
            lines.append(_posed_screen(screen.convert("RGB"), target / f"screen_{len(lines):04d}.png", rng,
                                       source_id=str(path.relative_to(root))))
        (target / "truth.jsonl").write_text("\n".join(lines) + "\n")
        counts[target.name] = len(lines)
    return counts


#: Full-screen captures for ``desktops``: the screen's size in pixels and its scale factor (2: a HiDPI screen,
#: whose every label is twice as many pixels high).
DESKTOP_SCREENS = ((1920, 1080, 1), (2560, 1440, 1), (1680, 1050, 1), (2880, 1800, 2), (3840, 2160, 2))
DESKTOPS_PER_HALF = 100


def _gimp_images(cache: Path) -> Path:
    """The folder of GIMP's help images in the cache."""
    root = cache / "raw" / "gimp-help-en" / "usr" / "share" / "gimp" / "2.0" / "help" / "en" / "images"
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is missing: fetch it with python -m rotbgr_core.training.sources fetch")
    return root


def _gimp_screenshots(cache: Path) -> list[Path]:
    """GIMP's help screenshots in file order (see :data:`SCREEN_FOLDERS`)."""
    root = _gimp_images(cache)
    return sorted(path for folder in SCREEN_FOLDERS for path in (root / folder).rglob("*.png"))


def _desktop(files: list[Path], rng: np.random.Generator) -> tuple[Image.Image, list[str]]:
    """One full-screen capture: GIMP dialogs at the screen's scale on a flat or shaded desktop, and a taskbar."""
    width, height, scale = DESKTOP_SCREENS[int(rng.integers(len(DESKTOP_SCREENS)))]
    tone = [int(v) for v in rng.integers(20, 235, 3)]
    desktop = Image.new("RGB", (width, height), tuple(tone))
    if rng.random() < 0.5:
        # A wallpaper shaded from top to bottom: no flat fill outside the windows.
        ramp = np.linspace(0.6, 1.2, height)[:, None, None] * np.array(tone)[None, None, :]
        noise = rng.normal(0.0, 2.0, (height, width, 3))
        desktop = Image.fromarray(np.clip(ramp + noise, 0, 255).astype(np.uint8))
    used = []
    for _ in range(int(rng.integers(2, 7))):
        path = files[int(rng.integers(len(files)))]
        with Image.open(path) as source:
            window = Image.new("RGBA", source.size, (255, 255, 255, 255))
            window.alpha_composite(source.convert("RGBA"))
        window = window.convert("RGB")
        if scale != 1:
            window = window.resize((window.width * scale, window.height * scale), Image.Resampling.NEAREST)
        if window.width >= width or window.height >= height - 40 * scale:
            continue
        left = int(rng.integers(0, width - window.width))
        top = int(rng.integers(0, height - 40 * scale - window.height))
        desktop.paste(window, (left, top))
        used.append(path.name)
    bar = Image.new("RGB", (width, 40 * scale), tuple(int(v) for v in rng.integers(30, 80, 3)))
    desktop.paste(bar, (0, height - 40 * scale))
    return desktop, used


def write_desktops(cache: Path, out: Path) -> dict[str, int]:
    """Write full-screen captures made of GIMP's help screenshots as ``desktops_a`` and ``desktops_b``.

    Each half takes its windows from the same half of the files as :func:`write_screens`, so that ``desktops_a``
    is chosen on and ``desktops_b`` reports. Posed as the screenshots are.
    """
    files = _gimp_screenshots(cache)
    counts = {}
    for half, seed in (("a", 21), ("b", 22)):
        rng = np.random.default_rng(seed)
        target = out / f"desktops_{half}"
        target.mkdir(parents=True, exist_ok=True)
        lines = []
        # Split as write_screens splits, then drop the buttons: a window is in one half only.
        half_files = [path for path in files[0 if half == "a" else 1::2] if _big_enough(path)]
        while len(lines) < DESKTOPS_PER_HALF:
            desktop, used = _desktop(half_files, rng)
            if not used:
                continue
            lines.append(_posed_screen(desktop, target / f"desktop_{len(lines):04d}.png", rng,
                                       source_id=",".join(used), size=list(desktop.size)))
        (target / "truth.jsonl").write_text("\n".join(lines) + "\n")
        counts[target.name] = len(lines)
    return counts


def _big_enough(path: Path) -> bool:
    """Whether a screenshot is a window, not a button or a cursor (:data:`SCREEN_MIN_SIZE`)."""
    with Image.open(path) as image:
        return image.width >= SCREEN_MIN_SIZE[0] and image.height >= SCREEN_MIN_SIZE[1]


def _posed_screen(screen: Image.Image, path: Path, rng: np.random.Generator, **extra: object) -> str:
    """Save ``screen`` posed at ``path`` and return its truth line (with ``extra`` fields).

    Half the poses are exact quarter turns, half tilted by N(0, 3 deg) clipped to 10; 15% are mirrored. The corners
    are filled with the screen's corner colour.
    """
    exact = rng.random() < 0.5
    angle = float(rng.choice([0.0, 90.0, 180.0, -90.0]))
    if not exact:
        angle += float(np.clip(rng.normal(0.0, 3.0), -10.0, 10.0))
    mirrored = bool(rng.random() < 0.15)
    make_rotated(screen, angle, mirrored, fill=screen.getpixel((0, 0))).save(path)
    return json.dumps({"path": path.name, "angle": round(wrap_angle(angle), 4), "mirrored": mirrored, **extra})


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m rotbgr_core.training.devset", description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("build", "negatives", "shaded", "stress", "screens", "desktops"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sets", type=Path, default=None, help="negatives, shaded, stress: the built sets to start from")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--n", type=int, default=300, help="images per set")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--split", choices=("dev", "calibration"), default="dev",
                    help="sources: the dev split (default) or the training split's calibration part")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    if args.command in ("negatives", "shaded", "stress"):
        if args.sets is None:
            ap.error(f"{args.command} needs --sets")
        write = {"negatives": write_negatives, "shaded": write_shaded, "stress": write_stress}[args.command]
        LOG.info("done: %s", write(args.sets, args.out))
        return 0
    if args.command in ("screens", "desktops"):
        try:
            LOG.info("done: %s", (write_screens if args.command == "screens" else write_desktops)(args.cache, args.out))
        except FileNotFoundError as error:
            ap.error(str(error))
        return 0
    counts = build(args.out, args.seed, args.cache, args.n, args.workers, args.split)
    LOG.info("done: %s", counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

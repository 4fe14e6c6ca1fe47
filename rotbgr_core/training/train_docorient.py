"""Train the document-orientation network (rotbgr_core/docorient.py).

    python -m rotbgr_core.training.train_docorient --seed 0 --minutes 20 \
        --out rotbgr_core/weights/docorient.pt

1. A pool of upright, scale-normalised text windows is cut from the TRAIN-split
   document pages of the source cache (``rotbgr_core/training/sources.py``),
   each page first shrunk to the predictor's working size and, half of the
   time, made to look scanned (blur, noise, low contrast, bitonal, JPEG).
   One page in ten (by its PDF, never by window) is held out for validation.
2. Every step draws windows, turns/mirrors them exactly (numpy transpositions)
   into one of the eight classes, adds light noise, and takes an AdamW step.
3. Validation is page-level: the sum of 16 windows' log-probabilities.
The best checkpoint (page accuracy) is saved as fp16.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from rotbgr_core.docorient import FORMAT, PATCH, DocOrientNet, class_of, normalise_patches, orient_patch, page_patches
from rotbgr_core.training.sources import DEFAULT_CACHE, read_index

LOG = logging.getLogger("rotbgr.train.docorient")
WORK_SIDE = 1024


def _scan_like(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Make a clean rendered page look scanned, photocopied or faxed."""
    work = page.astype(np.float32)
    low, high = rng.uniform(0, 60), rng.uniform(190, 255)
    work = low + work * (high - low) / 255.0
    if rng.random() < 0.5:
        work = cv2.GaussianBlur(work, (0, 0), rng.uniform(0.3, 1.2))
    work += rng.normal(0, rng.uniform(0, 10), work.shape)
    out = np.clip(work, 0, 255).astype(np.uint8)
    choice = rng.random()
    if choice < 0.25:
        _, out = cv2.threshold(out, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    elif choice < 0.6:
        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, "JPEG", quality=int(rng.integers(30, 90)))
        out = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
    return out


def _held_out(group: str) -> bool:
    return int(hashlib.sha1(("docorient-val:" + group).encode()).hexdigest(), 16) % 10 == 0


def build_pool(seed: int, per_page: int, limit: int | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Training windows (N x PATCH x PATCH) and validation pages (a window stack each)."""
    rng = np.random.default_rng(seed)
    rows = [r for r in read_index(DEFAULT_CACHE) if r["kind"] == "document" and r["split"] == "train"]
    rows.sort(key=lambda r: r["source_id"])
    if limit:
        rows = rows[:limit]
    train: list[np.ndarray] = []
    val_pages: list[np.ndarray] = []
    started = time.monotonic()
    for index, row in enumerate(rows):
        group = row["source_id"].split("#")[0]
        with Image.open(row["path"]) as image:
            page = image.convert("L")
            side = int(WORK_SIDE * rng.uniform(0.55, 1.0))
            page.thumbnail((side, side), Image.Resampling.LANCZOS)
            gray = np.asarray(page)
        if rng.random() < 0.5:
            gray = _scan_like(gray, rng)
        windows = page_patches(gray, per_page if not _held_out(group) else 16)
        if len(windows) < 4:
            continue
        if _held_out(group):
            val_pages.append(windows)
        else:
            train.append(windows)
        if index % 250 == 0:
            LOG.info("pool: %d/%d pages, %.0f s", index, len(rows), time.monotonic() - started)
    pool = np.concatenate(train) if train else np.zeros((0, PATCH, PATCH), np.uint8)
    LOG.info("pool: %d training windows, %d validation pages", len(pool), len(val_pages))
    return pool, val_pages


def _augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    work = batch.astype(np.float32)
    gain = rng.uniform(0.6, 1.2, (len(batch), 1, 1))
    work = work * gain + rng.normal(0, rng.uniform(0, 8), work.shape)
    return np.clip(work, 0, 255).astype(np.uint8)


def page_accuracy(net: DocOrientNet, pages: list[np.ndarray], seed: int) -> float:
    """Share of validation pages whose summed window scores pick the right class."""
    rng = np.random.default_rng(seed)
    right = 0
    net.eval()
    with torch.inference_mode():
        for windows in pages:
            turns, mirrored = int(rng.integers(4)), bool(rng.random() < 0.5)
            batch = np.stack([orient_patch(w, turns, mirrored) for w in windows])
            scores = torch.log_softmax(net(normalise_patches(batch)), 1).sum(0)
            right += int(int(scores.argmax()) == class_of(turns, mirrored))
    net.train()
    return right / max(1, len(pages))


def _load_weights(net: DocOrientNet, path: Path) -> None:
    """Load a saved (fp16) window network's weights into ``net`` as fp32."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})


def main(argv: list[str] | None = None) -> int:
    """Build the pool, train, keep the best checkpoint by page accuracy."""
    parser = argparse.ArgumentParser(prog="rotbgr train docorient")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--steps", type=int, default=None,
                        help="stop after this many steps (with --minutes large: a reproducible schedule)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--per-page", type=int, default=24)
    parser.add_argument("--limit-pages", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--out", type=Path, default=Path("rotbgr_core/weights/docorient.pt"))
    parser.add_argument("--pool-cache", type=Path, default=None)
    parser.add_argument("--init", type=Path, default=None, help="continue from these weights")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--real-pool", type=Path, default=None,
                        help="windows cut by the inference path (training.docorient_pool), mixed in")
    parser.add_argument("--real-share", type=float, default=0.5, help="share of each batch from --real-pool")
    parser.add_argument("--teacher", type=Path, default=None,
                        help="keep this network's answers on the --pool-cache windows (learning without forgetting)")
    parser.add_argument("--distill", type=float, default=1.0, help="weight of the teacher term")
    parser.add_argument("--val-pool", type=Path, default=None,
                        help="validation pages from training.docorient_pool --val (instead of the clean ones)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    pool_cache = args.pool_cache or DEFAULT_CACHE / "model" / f"docorient_pool_s{args.seed}.npz"
    if pool_cache.exists():
        data = np.load(pool_cache, allow_pickle=False)
        pool = data["pool"]
        val_pages = [data[k] for k in sorted(data.files) if k.startswith("val_")]
    else:
        pool, val_pages = build_pool(args.seed, args.per_page, args.limit_pages)
        pool_cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(pool_cache, pool=pool, **{f"val_{i:05d}": v for i, v in enumerate(val_pages)})
    real = np.load(args.real_pool)["pool"] if args.real_pool else np.zeros((0, PATCH, PATCH), np.uint8)
    if args.val_pool is not None:
        data = np.load(args.val_pool, allow_pickle=False)
        val_pages = [data[k] for k in sorted(data.files) if k.startswith("val_")]
    LOG.info("%d clean-pool windows, %d inference-path windows, %d validation pages", len(pool), len(real),
             len(val_pages))
    net = DocOrientNet(args.width)
    if args.init is not None:
        _load_weights(net, args.init)
    teacher = None
    if args.teacher is not None:
        teacher = DocOrientNet(args.width)
        _load_weights(teacher, args.teacher)
        teacher.eval()
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    deadline = time.monotonic() + args.minutes * 60
    best, step, history = -1.0, 0, []
    while time.monotonic() < deadline and (args.steps is None or step < args.steps):
        from_real = int(round(args.batch * args.real_share)) if len(real) else 0
        drawn = [pool[rng.integers(0, len(pool), args.batch - from_real)]]
        if from_real:
            drawn.append(real[rng.integers(0, len(real), from_real)])
        turns = rng.integers(0, 4, args.batch)
        mirrors = rng.random(args.batch) < 0.5
        windows = _augment(np.concatenate(drawn), rng)
        batch = np.stack([orient_patch(w, int(t), bool(m)) for w, t, m in zip(windows, turns, mirrors, strict=True)])
        labels = torch.tensor([class_of(int(t), bool(m)) for t, m in zip(turns, mirrors, strict=True)])
        # Cosine decay over the time budget.
        progress = (step / args.steps if args.steps
                    else 1.0 - max(0.0, deadline - time.monotonic()) / (args.minutes * 60))
        for group in optimiser.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * min(1.0, progress)))
        inputs = normalise_patches(batch)
        logits = net(inputs)
        loss = loss_fn(logits, labels)
        if teacher is not None:
            # On the windows of the --pool-cache pages, stay with the teacher's whole distribution (its
            # marginal calls included): the new pages teach new scripts without moving the old ones.
            old = args.batch - from_real
            with torch.no_grad():
                target = torch.softmax(teacher(inputs[:old]), 1)
            loss = loss + args.distill * nn.functional.kl_div(
                torch.log_softmax(logits[:old], 1), target, reduction="batchmean")
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % 100 == 0:
            accuracy = page_accuracy(net, val_pages, seed=1)
            window_acc = float((logits.argmax(1) == labels).float().mean())
            history.append({"step": step, "loss": float(loss.detach()), "window_acc": window_acc, "page_acc": accuracy})
            LOG.info("step %d loss %.3f window acc %.3f val page acc %.4f", step, float(loss), window_acc, accuracy)
            if accuracy >= best:
                best = accuracy
                args.out.parent.mkdir(parents=True, exist_ok=True)
                state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
                torch.save({"format": FORMAT, "width": args.width, "patches": 16, "state_dict": state,
                            "seed": args.seed, "step": step, "val_page_acc": accuracy}, args.out)
    LOG.info("done: %d steps, best val page accuracy %.4f, saved %s", step, best, args.out)
    (args.out.with_suffix(".json")).write_text(json.dumps(
        {"seed": args.seed, "steps": step, "best_val_page_acc": best, "history": history[-20:]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

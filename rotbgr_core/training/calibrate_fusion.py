"""Fit how a page's two verdicts are fused (``docorient.Fusion``), on held-out TRAIN-split pages.

    python -m rotbgr_core.training.calibrate_fusion harvest --out CACHE/model/fusion_calib.pkl --seed 11
    python -m rotbgr_core.training.calibrate_fusion fit --harvest CACHE/model/fusion_calib.pkl \
        --weights rotbgr_core/weights/docorient.pt

``harvest`` makes rotated documents and realistic scans (the dev-set makers and
pose mixture, saved and decoded as real files are) from the pages of the
calibration groups (``synth.is_calibration``): the main model never trained on
them and the window trainers skip them.  For each it stores what inference
measures: the main model's raw result, its 8-class log-probabilities and the
page's text windows (so that any window network can be scored again without
re-running the main model).  ``harvest --folder DIR`` (repeatable) does the
same for labelled folders (``truth.jsonl``): the rendered pages that
``render_pages posed`` poses in the training fonts, so that the confidence also
learns from scripts the real pages lack, or a dev set for analysis only (never
fit on a dev set).  ``fit`` and ``score`` take several harvests.

``fit`` scores the windows with the given network, picks the window weight
with the most fully correct pages, fits the logistic confidence
(``docorient.fusion_features``) and stores both in the weights file.
``score`` prints how a weights file does on a harvest.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rotbgr_core.docorient import (
    DocOrienter,
    Fusion,
    fused_class,
    fused_decision,
    fused_scores,
    fusion_features,
    page_windows,
    score_windows,
)
from rotbgr_core.imageio import load_for_prediction
from rotbgr_core.learned import Calibration, LearnedPredictor, combine_log_probs, decide
from rotbgr_core.predictor import DEFAULT_WEIGHTS
from rotbgr_core.training.calibrate_docorient import fit_logistic
from rotbgr_core.training.devset import _save, make_document, make_scan, sample_pose
from rotbgr_core.training.sources import DEFAULT_CACHE, read_index
from rotbgr_core.training.synth import is_calibration

LOG = logging.getLogger("rotbgr.calibrate.fusion")
#: Windows stored per page in a harvest (the fusion may use fewer).
HARVEST_WINDOWS = 48
DOC_WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def true_class(angle: float, mirrored: bool, skew_angle: float) -> int | None:
    """The class ``2 * k + m`` that is right for a page measured at ``skew_angle``; ``None`` if none is."""
    turns = round((angle - skew_angle) / 90.0)
    if abs(angle - skew_angle - 90.0 * turns) >= 2.0:
        return None
    return 2 * (turns % 4) + int(mirrored)


def _record(model: LearnedPredictor, path: Path, angle: float, mirrored: bool) -> dict[str, Any]:
    image = load_for_prediction(str(path))
    raw = model.measure([image])[0]
    estimate = decide(raw, model.calibration)
    record: dict[str, Any] = {"angle": angle, "mirrored": mirrored, "kind": estimate.kind,
                              "base": (estimate.angle, estimate.mirrored, estimate.confidence),
                              "skew_angle": raw.skew_angle, "skew_strength": raw.skew_strength,
                              "lines_vertical": raw.lines_vertical,
                              "base_scores": combine_log_probs(raw, model.calibration).astype(np.float64),
                              # the measurements themselves (not the page images), to refit how they combine
                              "raw": replace(raw, deskewed=None, deskewed_ink=None, deskewed_ink_components=None),
                              "windows": np.zeros((0, 64, 64), np.uint8)}
    if estimate.kind == "document" and raw.skew_angle is not None and raw.lines_vertical is not None:
        record["windows"] = page_windows(np.asarray(image.convert("L")), raw.skew_angle, raw.lines_vertical,
                                         HARVEST_WINDOWS)
    return record


def harvest_calibration(count: int, seed: int) -> list[dict[str, Any]]:
    """Records for ``count`` synthetic inputs made from calibration-group pages."""
    rng = np.random.default_rng(seed)
    pages = sorted((r for r in read_index(DEFAULT_CACHE) if r["kind"] == "document" and r["split"] == "train"
                    and is_calibration(r["source_id"])), key=lambda r: r["source_id"])
    LOG.info("%d calibration pages", len(pages))
    model = LearnedPredictor.load(DEFAULT_WEIGHTS)
    records = []
    with tempfile.TemporaryDirectory() as work:
        for index in range(count):
            row = pages[index % len(pages)] if index < len(pages) else pages[int(rng.integers(len(pages)))]
            angle, mirrored = sample_pose(rng)
            if index % 2 == 0:
                path = _save(make_document(row["path"], angle, mirrored, rng), Path(work) / "page", "png")
            else:
                image, fmt = make_scan(row["path"], angle, mirrored, rng)
                path = _save(image, Path(work) / "page", fmt)
            records.append(_record(model, path, angle, mirrored) | {"set": "documents" if index % 2 == 0 else "scans"})
            path.unlink()
            if index % 100 == 0:
                LOG.info("harvest %d/%d", index, count)
    return records


def harvest_folder(folder: Path) -> list[dict[str, Any]]:
    """Records for a labelled folder (``set``: its parent's name and its own, e.g. ``he/scans``)."""
    model = LearnedPredictor.load(DEFAULT_WEIGHTS)
    records = []
    for line in (folder / "truth.jsonl").read_text().splitlines():
        truth = json.loads(line)
        record = _record(model, folder / truth["path"], float(truth["angle"]), bool(truth["mirrored"]))
        records.append(record | {"set": f"{folder.parent.name}/{folder.name}", "path": truth["path"]})
    return records


def base_scores(record: dict[str, Any], calibration: Calibration | None) -> np.ndarray:
    """The main model's verdict on a harvested page, combined with ``calibration`` (``None``: as harvested)."""
    if calibration is None:
        return np.asarray(record["base_scores"], dtype=np.float64)
    if "raw" not in record:
        raise ValueError("this harvest has no raw measurements (made before 2026-12-06): harvest it again")
    return np.asarray(combine_log_probs(record["raw"], calibration), dtype=np.float64)


def _window_scores(orienter: DocOrienter, records: list[dict[str, Any]], windows: int) -> list[np.ndarray]:
    return [score_windows(orienter, r["windows"][:windows]) for r in records]


def evaluate(records: list[dict[str, Any]], scores: list[np.ndarray], fusion: Fusion,
             calibration: Calibration | None = None) -> dict[str, float]:
    """Fully-correct share of document pages, and of those at confidence >= 0.8.

    ``calibration``: the main model's, to combine its verdict with the fusion's overrides (``None``: as harvested).
    """
    page_calibration = (None if calibration is None
                        else calibration.with_text_weights(fusion.patch_weight, fusion.updown_weight))
    right, sure, sure_right, base_right, n = 0, 0, 0, 0, 0
    for record, window_scores in zip(records, scores, strict=True):
        if record["kind"] != "document" or record["skew_angle"] is None:
            continue
        n += 1
        truth = true_class(record["angle"], record["mirrored"], record["skew_angle"])
        base = base_scores(record, page_calibration)
        index, confidence = fused_decision(base, window_scores, fusion, record["skew_strength"])
        ok = index == truth
        right += ok
        base_right += int(np.argmax(base)) == truth
        if confidence >= 0.8:
            sure += 1
            sure_right += ok
    return {"pages": n, "fully_correct": right / max(1, n), "base_alone": base_right / max(1, n),
            "at_0_8_share": sure / max(1, n), "at_0_8_correct": sure_right / max(1, sure)}


def verdict_parts(records: list[dict[str, Any]], orienter: DocOrienter, calibration: Calibration,
                  windows: int) -> dict[str, int]:
    """How many pages each part of the page verdict turns the right way up on its own (turn only, mirror aside).

    ``view``: the main model's global view (with the line-direction parity); ``view+patches``: and its text patches;
    ``main``: and the ascender cue, the main model's whole verdict; ``windows``: the window network alone;
    ``fused``: the fused answer of the weights' fusion (or of the shipped window weight 0.5, without one).
    """
    parts = {"view": calibration.with_text_weights(0.0, 0.0), "view+patches": calibration.with_text_weights(None, 0.0),
             "main": calibration}
    counts = {"pages": 0, **dict.fromkeys(parts, 0), "windows": 0, "fused": 0}
    fusion = orienter.fusion or Fusion(doc_weight=0.5, windows=windows, coef=())
    fused_calibration = calibration.with_text_weights(fusion.patch_weight, fusion.updown_weight)
    pages = [r for r in records if r["kind"] == "document" and r["skew_angle"] is not None]
    for record, window_scores in zip(pages, _window_scores(orienter, pages, windows), strict=True):
        truth = true_class(record["angle"], record["mirrored"], record["skew_angle"])
        if truth is None:
            continue
        counts["pages"] += 1
        for name, part in parts.items():
            counts[name] += int(np.argmax(base_scores(record, part))) // 2 == truth // 2
        counts["windows"] += len(window_scores) > 0 and int(np.argmax(window_scores.sum(axis=0))) // 2 == truth // 2
        fused = fused_scores(base_scores(record, fused_calibration), window_scores, fusion.doc_weight,
                             fusion.turn_quorum)
        counts["fused"] += fused_class(fused) // 2 == truth // 2
    return counts


def fit(
    records: list[dict[str, Any]], orienter: DocOrienter, windows: int, fixed_weight: float | None = None,
    calibration: Calibration | None = None, patch_weights: Sequence[float] = (), updown_weights: Sequence[float] = (),
    turn_quorum: float | None = None,
) -> Fusion:
    """Pick the window weight (or keep ``fixed_weight``), then fit the logistic confidence.

    With ``calibration`` (the main model's) and candidate ``patch_weights`` / ``updown_weights``, the main model's
    verdict is recombined from each record's raw measurements for every pair, and the pair with the most pages fully
    correct is kept (ties: the main model's own weights, then the earlier candidates). ``turn_quorum``: see
    :func:`rotbgr_core.docorient.fused_scores`.
    """
    pages = [r for r in records if r["kind"] == "document" and r["skew_angle"] is not None]
    scores = _window_scores(orienter, pages, windows)
    truths = [true_class(r["angle"], r["mirrored"], r["skew_angle"]) for r in pages]
    candidates: list[tuple[float | None, float | None]] = [(None, None)]  # the main model's own weights
    if calibration is not None:
        candidates += [(p, u) for p in (patch_weights or (calibration.patch_weight,))
                       for u in (updown_weights or (calibration.updown_weight,))]
    best: tuple[int, float, tuple[float | None, float | None]] = (-1, DOC_WEIGHTS[0], (None, None))
    for patch, updown in candidates:
        page_calibration = None if calibration is None else calibration.with_text_weights(patch, updown)
        base = [base_scores(r, page_calibration) for r in pages]
        for weight in DOC_WEIGHTS if fixed_weight is None else (fixed_weight,):
            right = sum(fused_class(fused_scores(b, s, weight, turn_quorum)) == t
                        for b, s, t in zip(base, scores, truths, strict=True))
            LOG.info("window weight %.2f, patch weight %s, ascender weight %s: %d/%d fully correct", weight,
                     patch, updown, right, len(pages))
            if right > best[0]:
                best = (right, weight, (patch, updown))
    _, best_weight, (best_patch, best_updown) = best
    page_calibration = None if calibration is None else calibration.with_text_weights(best_patch, best_updown)
    base = [base_scores(r, page_calibration) for r in pages]
    features, labels = [], []
    for record, page_base, window_scores, truth in zip(pages, base, scores, truths, strict=True):
        fused = fused_scores(page_base, window_scores, best_weight, turn_quorum)
        features.append(fusion_features(page_base, window_scores, best_weight, record["skew_strength"], turn_quorum))
        labels.append(float(fused_class(fused) == truth))
    coef = fit_logistic(np.array(features), np.array(labels))
    return Fusion(doc_weight=best_weight, windows=windows, coef=tuple(float(v) for v in coef),
                  patch_weight=best_patch, updown_weight=best_updown, turn_quorum=turn_quorum)


def main(argv: list[str] | None = None) -> int:
    """``harvest``, ``fit``, ``score`` or ``parts``."""
    parser = argparse.ArgumentParser(prog="rotbgr train calibrate-fusion")
    sub = parser.add_subparsers(dest="command", required=True)
    harvest = sub.add_parser("harvest")
    harvest.add_argument("--out", type=Path, required=True)
    harvest.add_argument("--count", type=int, default=700)
    harvest.add_argument("--seed", type=int, default=11)
    harvest.add_argument("--folder", type=Path, action="append", default=None,
                         help="labelled folders instead (repeat it): rendered pages posed by render_pages posed")
    for name in ("fit", "score", "parts"):
        command = sub.add_parser(name)
        command.add_argument("--harvest", type=Path, nargs="+", required=True, help="one harvest or several")
        command.add_argument("--weights", type=Path, required=True)
        command.add_argument("--windows", type=int, default=32)
        if name == "fit":
            command.add_argument("--window-weight", type=float, default=None,
                                 help="keep this window weight instead of picking the best on the harvest")
            command.add_argument("--patch-weights", type=float, nargs="*", default=(),
                                 help="candidate weights of the main model's text patches in the fused verdict")
            command.add_argument("--updown-weights", type=float, nargs="*", default=(),
                                 help="candidate weights of the main model's ascender cue in the fused verdict")
            command.add_argument("--turn-quorum", type=float, default=None,
                                 help="share of a page's windows that, agreeing on its turn, settle it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.command == "harvest":
        if args.folder:
            records = [r for folder in args.folder for r in harvest_folder(folder)]
        else:
            records = harvest_calibration(args.count, args.seed)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(pickle.dumps(records))
        LOG.info("saved %d records to %s", len(records), args.out)
        return 0
    records = [r for path in args.harvest for r in pickle.loads(path.read_bytes())]
    orienter = DocOrienter.load(args.weights)
    if args.command == "parts":
        calibration = LearnedPredictor.load(DEFAULT_WEIGHTS).calibration
        for name in sorted({r["set"] for r in records}):
            subset = [r for r in records if r["set"] == name]
            LOG.info("%s: %s", name, json.dumps(verdict_parts(subset, orienter, calibration, args.windows)))
        return 0
    if args.command == "fit":
        recombine = bool(args.patch_weights or args.updown_weights)
        fusion = fit(records, orienter, args.windows, args.window_weight,
                     LearnedPredictor.load(DEFAULT_WEIGHTS).calibration if recombine else None,
                     args.patch_weights, args.updown_weights, args.turn_quorum)
        payload = torch.load(args.weights, map_location="cpu", weights_only=True)
        payload["fusion"] = fusion.to_dict()
        torch.save(payload, args.weights)
        LOG.info("fusion %s", json.dumps(fusion.to_dict()))
    fusion = orienter.fusion if args.command == "score" and orienter.fusion else None
    if fusion is None:
        fusion = DocOrienter.load(args.weights).fusion
    assert fusion is not None, "the weights file has no fitted fusion"
    calibration = LearnedPredictor.load(DEFAULT_WEIGHTS).calibration if fusion.base_overrides() else None
    for name in sorted({r["set"] for r in records}):
        subset = [r for r in records if r["set"] == name]
        result = evaluate(subset, _window_scores(orienter, subset, fusion.windows), fusion, calibration)
        LOG.info("%s: %s", name, json.dumps({k: round(v, 4) for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``rotbgr eval WEIGHTS FOLDER [--json]``: score weights on labelled folders.

``FOLDER`` holds ``truth.jsonl`` (SPEC convention: ``{"path", "angle", "mirrored", ...}`` per image, paths relative
to the folder), or is a parent whose sub-folders hold one each (e.g. the dev sets ``photos``, ``documents``,
``scans``): every such set is scored and reported. ``WEIGHTS`` is a weights file, ``default`` for the shipped
model, or ``classical``. ``rotbgr eval compare BEFORE AFTER FOLDER`` compares two runs' ``--predictions`` files image
by image (:mod:`rotbgr_core.training.compare`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rotbgr_core.training.metrics import format_report, read_truth, score

LOG = logging.getLogger("rotbgr.eval")

#: Predicts records ``{"angle", "mirrored", "confidence"}`` (angle None on failure) for a list of image files.
PredictFiles = Callable[[Sequence[Path]], list[dict[str, Any]]]


def find_sets(folder: Path) -> dict[str, Path]:
    """Labelled sets under ``folder``: itself if it has ``truth.jsonl``, else its sub-folders that have one."""
    folder = Path(folder)
    if (folder / "truth.jsonl").is_file():
        return {folder.name: folder}
    sets = {p.name: p for p in sorted(folder.iterdir()) if (p / "truth.jsonl").is_file()}
    if not sets:
        raise FileNotFoundError(f"no truth.jsonl in {folder} or its sub-folders")
    return sets


def evaluate_sets(
    predict_files: PredictFiles, folder: Path, batch_size: int = 16, limit: int | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Predict and score every labelled set under ``folder``.

    Args:
        predict_files: Predicts a batch of image files (see :data:`PredictFiles`).
        folder: A set folder or a parent of set folders.
        batch_size: Files per call of ``predict_files``.
        limit: Score only the first ``limit`` images of each set (quick checks).

    Returns:
        Per set: the scores (plus ``images_per_s``), and the prediction records.
    """
    results: dict[str, dict[str, Any]] = {}
    all_preds: dict[str, list[dict[str, Any]]] = {}
    for name, set_dir in find_sets(folder).items():
        truths = read_truth(set_dir)[:limit] if limit else read_truth(set_dir)
        preds: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        for i in range(0, len(truths), batch_size):
            chunk = truths[i : i + batch_size]
            out = predict_files([set_dir / t["path"] for t in chunk])
            for t, p in zip(chunk, out, strict=True):
                preds.append(dict(p, path=t["path"]))
            LOG.info("%s: %d/%d", name, min(i + batch_size, len(truths)), len(truths))
        dt = time.perf_counter() - t0
        s = score(preds, truths)
        s["images_per_s"] = len(truths) / dt if dt > 0 else None
        results[name] = s
        all_preds[name] = preds
    return results, all_preds


def predictor_files_fn(weights: str | None, device: str = "auto") -> PredictFiles:
    """Wrap ``load_predictor(weights, device)`` as a :data:`PredictFiles`.

    The files go through :func:`rotbgr_core.pipeline.predict_items`, as ``rotbgr predict`` runs them (decoded with
    ``load_for_prediction``, in batches of 8, two at once on a 2-core CPU).
    """
    from rotbgr_core.imageio import InputItem
    from rotbgr_core.pipeline import predict_items
    from rotbgr_core.predictor import load_predictor
    from rotbgr_core.types import Prediction

    predictor = load_predictor(weights, device)

    def predict(paths: Sequence[Path]) -> list[dict[str, Any]]:
        recs: list[dict[str, Any]] = []
        for result in predict_items([InputItem(str(p)) for p in paths], predictor):
            if isinstance(result, Prediction):
                recs.append({"angle": result.angle, "mirrored": result.mirrored, "confidence": result.confidence,
                             "kind": result.kind})
            else:  # an unreadable image is scored as a failure
                LOG.warning("cannot read %s: %s", result.path, result.error)
                recs.append({"angle": None, "mirrored": None, "confidence": None})
        return recs

    return predict


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rotbgr eval``; returns the exit status (``rotbgr eval compare ...``: two runs compared)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["compare"]:
        from rotbgr_core.training.compare import main as compare_main

        return compare_main(args_in[1:])
    ap = argparse.ArgumentParser(prog="rotbgr eval", description=__doc__.splitlines()[0])
    ap.add_argument("weights", help="weights file, 'default' (shipped model) or 'classical'")
    ap.add_argument("folder", type=Path, help="folder with truth.jsonl, or a parent of such folders")
    ap.add_argument("--json", action="store_true", help="print the scores as JSON instead of a report")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--limit", type=int, default=None, help="score only the first N images of each set")
    ap.add_argument("--predictions", type=Path, default=None, help="also write the predictions (JSONL) here")
    try:
        args = ap.parse_args(args_in)
    except SystemExit as exc:
        return int(exc.code or 0) and 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    weights = None if args.weights == "default" else args.weights
    try:
        predict = predictor_files_fn(weights, args.device)
        results, preds = evaluate_sets(predict, args.folder, args.batch_size, args.limit)
    except (FileNotFoundError, ValueError) as exc:
        print(f"rotbgr eval: {exc}", file=sys.stderr)
        return 2
    if args.predictions:
        with args.predictions.open("w", encoding="utf-8") as f:
            for name, recs in preds.items():
                for r in recs:
                    f.write(json.dumps(dict(r, set=name)) + "\n")
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(format_report(results, title=f"rotbgr eval {args.weights} on {args.folder}"), end="")
        for name, s in results.items():
            if s.get("images_per_s"):
                print(f"{name}: {s['images_per_s']:.1f} images/s (decode + predict)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

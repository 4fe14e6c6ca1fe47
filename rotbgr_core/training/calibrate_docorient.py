"""Fit the document-orientation confidence on held-out TRAIN-split pages.

    python -m rotbgr_core.training.calibrate_docorient --weights rotbgr_core/weights/docorient.pt --n 600

Pages come from the train split's documents that the orientation network never
saw (its validation groups), made into rotated documents and realistic scans
with the dev-set makers and the dev-set angle mixture, but a different seed and
never a dev source.  A logistic regression maps the evidence
(:func:`rotbgr_core.docorient.confidence_features`) to "fully correct" (within
2 degrees, mirror right); its weights are stored in the weights file.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from rotbgr_core.docorient import DocOrienter, confidence_features, orient_page
from rotbgr_core.geometry import angle_difference
from rotbgr_core.training.devset import make_document, make_scan, sample_pose
from rotbgr_core.training.sources import DEFAULT_CACHE, read_index
from rotbgr_core.training.train_docorient import _held_out

LOG = logging.getLogger("rotbgr.calibrate.docorient")


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1e-2, steps: int = 3000) -> np.ndarray:
    """Weights of a logistic regression, by gradient descent (features include a constant)."""
    x = torch.tensor(features, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([w], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y) + l2 * (w[1:] ** 2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return w.detach().numpy()


def main(argv: list[str] | None = None) -> int:
    """Generate, predict, fit and store the calibration."""
    parser = argparse.ArgumentParser(prog="rotbgr train calibrate-docorient")
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    rng = np.random.default_rng(args.seed)
    pages = [r for r in read_index(DEFAULT_CACHE) if r["kind"] == "document" and r["split"] == "train"
             and _held_out(r["source_id"].split("#")[0])]
    LOG.info("%d held-out train pages", len(pages))
    orienter = DocOrienter.load(args.weights)
    feats, labels, errors = [], [], []
    for index in range(args.n):
        row = pages[int(rng.integers(len(pages)))]
        angle, mirrored = sample_pose(rng)
        if rng.random() < 0.5:
            image = make_document(row["path"], angle, mirrored, rng)
        else:
            image, _ = make_scan(row["path"], angle, mirrored, rng)
        image.thumbnail((1024, 1024))
        page = orient_page(np.asarray(image.convert("L")), orienter)
        error = angle_difference(page.angle, angle)
        correct = error <= 2.0 and page.mirrored == mirrored
        feats.append(confidence_features(page))
        labels.append(float(correct))
        errors.append(error)
        if index % 100 == 0:
            LOG.info("%d/%d, fully correct so far %.3f", index, args.n, float(np.mean(labels)))
    weights = fit_logistic(np.array(feats), np.array(labels))
    payload = torch.load(args.weights, map_location="cpu", weights_only=True)
    payload["calibration"] = [float(v) for v in weights]
    torch.save(payload, args.weights)
    summary = {"n": args.n, "fully_correct": float(np.mean(labels)), "coarse": float(np.mean(np.array(errors) < 45)),
               "calibration": [float(v) for v in weights]}
    LOG.info("calibration: %s", json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

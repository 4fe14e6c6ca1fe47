"""Speed of ``rotbgr predict`` on 2-megapixel JPEGs, decode included.

Usage: python bench/model_speed.py [--count 60] [--weights PATH] [--threads 2]

Makes COUNT 1732x1155 JPEGs (about 2 MP) from the upright test fixtures, turned by
random angles, then times the library pipeline (decode + predict, as ``rotbgr
predict`` runs it) after a warm-up, and the whole CLI command including start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rotbgr_core.geometry import make_rotated
from rotbgr_core.imageio import iter_items
from rotbgr_core.pipeline import predict_items
from rotbgr_core.predictor import load_predictor

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "resources" / "upright"


def make_inputs(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    sources = [Image.open(p).convert("RGB") for p in sorted(FIXTURES.glob("*.jpg"))]
    sources.append(Image.open(FIXTURES / "text_page.png").convert("RGB"))
    paths = []
    for index in range(count):
        source = sources[index % len(sources)]
        angle = float(rng.choice([0.0, 90.0, 180.0, -90.0]) + rng.normal(0, 3))
        image = make_rotated(source, angle, False, fill=(255, 255, 255)).resize((1732, 1155), Image.Resampling.BICUBIC)
        path = folder / f"bench_{index:03d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: the predictor's choice)")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    if args.threads:
        os.environ["ROTBGR_TORCH_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_inputs(folder, args.count)
        predictor = load_predictor(args.weights, device="cpu")
        items = [item for item in iter_items([str(p) for p in paths]) if not hasattr(item, "error")]
        list(predict_items(items[:8], predictor, batch_size=args.batch_size))  # warm-up
        start = time.perf_counter()
        results = list(predict_items(items, predictor, batch_size=args.batch_size))
        library = time.perf_counter() - start
        cli = [sys.executable, "-m", "rotbgr_core", "predict", "--format", "jsonl", "--device", "cpu", str(folder)]
        start = time.perf_counter()
        subprocess.run(cli, check=True, capture_output=True)
        whole = time.perf_counter() - start
    report = {
        "predictor": predictor.name,
        "images": len(results),
        "library_images_per_s": round(len(results) / library, 2),
        "cli_images_per_s_with_startup": round(len(results) / whole, 2),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()

"""Benchmark ``rotbgr predict`` and ``rotbgr fix`` on 2-megapixel JPEGs.

Generates N (default 40) 1632x1224 JPEGs in a temporary folder, half rendered
text pages (upside down, sideways, skewed) and half photo-like scenes (tilted);
a quarter are exact quarter turns, half of those in 4:4:4 (lossless possible),
half in 4:2:0 (1224 is not a multiple of 16: re-encoded).  Then it times:

1. ``predict`` in process (library: :func:`rotbgr_core.iter_predictions`), all inputs, then the text pages
   and the photos apart (pages cost about three times as much);
2. ``fix`` in process (library: :func:`rotbgr_core.export.fix_inputs`);
3. export only, with the true corrections (no model): the lossless and
   resampling paths' own speed;
4. ``rotbgr predict`` and ``rotbgr fix`` as subprocesses, end to end (Python
   start-up and imports included), each with its own peak RSS; and ``rotbgr
   predict`` on one image, the fixed cost of a run, so that the rate beyond it
   (what a long batch sees) is printed too.

Usage: ``python bench/predict_fix.py [--n 40] [--weights W] [--device auto] [--keep DIR] [--passes N]``
(``make bench`` runs it with the defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rotbgr_core.export import Decision, FixOptions, export_decisions, fix_inputs  # noqa: E402
from rotbgr_core.geometry import normalize_angle  # noqa: E402
from rotbgr_core.imageio import InputItem  # noqa: E402
from rotbgr_core.pipeline import iter_predictions  # noqa: E402
from rotbgr_core.predictor import load_predictor  # noqa: E402

SIZE = (1632, 1224)
WORDS = ("archive record scanned page orientation skew document letter invoice minutes report the of and "
         "to in is that for on with as by at from this be are was which").split()


def text_page(rng: np.random.Generator) -> Image.Image:
    """A page of real rendered text, larger than the frame so turns leave no gaps."""
    side = 2100
    page = Image.new("RGB", (side, side), (246, 244, 238))
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=30)
    title = ImageFont.load_default(size=54)
    draw.text((160, 140), " ".join(rng.choice(WORDS, 4)).title(), fill=(20, 20, 20), font=title)
    y = 260
    while y < side - 160:
        words = " ".join(rng.choice(WORDS, 14))
        draw.text((160, y), words, fill=(25, 25, 30), font=font)
        y += int(rng.integers(44, 52))
        if rng.random() < 0.08:
            y += 50
    return page


def photo_scene(rng: np.random.Generator) -> Image.Image:
    """A photo-like scene: sky, ground, horizon, blobs and sensor noise."""
    side = 2100
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    horizon = 0.55 + 0.03 * np.sin(xx * 9 + rng.random() * 6)
    sky = np.dstack([120 + 80 * yy, 160 + 60 * yy, 230 - 30 * yy])
    ground = np.dstack([70 + 60 * xx, 110 + 40 * np.sin(xx * 20) * yy, 50 + 20 * yy])
    image = np.where((yy < horizon)[..., None], sky, ground)
    image += rng.normal(0, 5, image.shape).astype(np.float32)
    scene = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(scene)
    for _ in range(12):
        x, y, r = rng.integers(100, side - 100), rng.integers(int(side * 0.5), side - 100), rng.integers(30, 160)
        colour = tuple(int(c) for c in rng.integers(20, 200, 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    draw.rectangle((side // 2 - 120, side // 2 - 420, side // 2 + 120, side // 2 + 40), fill=(90, 60, 40))
    return scene


def make_inputs(folder: Path, count: int, seed: int = 0) -> dict[str, tuple[float, bool]]:
    """Write the JPEGs; returns the true correction of each file."""
    rng = np.random.default_rng(seed)
    truth: dict[str, tuple[float, bool]] = {}
    for index in range(count):
        document = index % 2 == 0
        upright = text_page(rng) if document else photo_scene(rng)
        if index % 4 == 0:
            angle = float(rng.choice([90.0, 180.0, -90.0]))  # exact quarter turn: lossless candidates
        elif document:
            angle = float(rng.choice([0.0, 180.0]) + rng.uniform(-5, 5))
        else:
            angle = float(rng.uniform(-20, 20))
        # The input is the upright scene turned by -angle; the answer is angle.
        turned = upright.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=False)
        left, top = (turned.width - SIZE[0]) // 2, (turned.height - SIZE[1]) // 2
        frame = turned.crop((left, top, left + SIZE[0], top + SIZE[1]))
        path = folder / f"{'doc' if document else 'photo'}_{index:03d}.jpg"
        # Every other quarter-turned file is 4:4:4 (8x8 blocks: 1224 = 153 x 8, lossless turn possible);
        # the rest are 4:2:0 like phones, where 1224 is not a multiple of 16 and a turn must re-encode.
        subsampling = 0 if index % 8 == 0 else 2
        frame.save(path, quality=int(rng.integers(80, 96)), dpi=(300, 300), subsampling=subsampling)
        truth[str(path)] = (normalize_angle(angle), False)
    return truth


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_child(args: list[str]) -> tuple[float, float, int]:
    """Run a command; returns (seconds, its own peak RSS in MiB, exit status)."""
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    _pid, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="number of 2-megapixel JPEGs (default 40)")
    parser.add_argument("--weights", default=None, help="weights file or 'classical' (default: shipped)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--keep", default=None, help="write inputs and outputs here instead of a temp folder")
    parser.add_argument("--passes", type=int, default=1,
                        help="library predict passes over the same inputs (the first is cold; default 1)")
    args = parser.parse_args(argv)

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="rotbgr-bench-"))
    inputs = base / "in"
    inputs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    truth = make_inputs(inputs, args.n)
    made = time.perf_counter() - started
    megabytes = sum(Path(p).stat().st_size for p in truth) / 1e6
    print(f"inputs: {args.n} JPEGs {SIZE[0]}x{SIZE[1]} ({megabytes:.1f} MB) made in {made:.1f} s in {inputs}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}")

    predictor = load_predictor(args.weights, args.device)
    print(f"predictor: {predictor.name} on {predictor.device}")
    rss0 = peak_rss_mib()

    started = time.perf_counter()
    results = list(iter_predictions([str(inputs)], predictor, args.batch_size))
    seconds = time.perf_counter() - started
    errors = [abs(normalize_angle(r.angle - truth[r.path][0])) for r in results if r.ok]  # type: ignore[union-attr]
    half_turn = [min(e, 180.0 - e) for e in errors]  # what a text-line estimator can see
    print(f"predict (library): {len(results) / seconds:6.2f} images/s ({seconds:.1f} s), "
          f"within 2 deg: {sum(e <= 2 for e in errors)}/{len(results)} "
          f"(modulo 180: {sum(e <= 2 for e in half_turn)}), peak RSS {peak_rss_mib():.0f} MiB")
    rates = []
    for _ in range(args.passes - 1):  # warm passes: what a long batch sees once every kernel is set up
        started = time.perf_counter()
        rates.append(len(list(iter_predictions([str(inputs)], predictor, args.batch_size))) /
                     (time.perf_counter() - started))
    if rates:
        print(f"predict (library), {len(rates)} more passes: " + ", ".join(f"{rate:.2f}" for rate in rates) +
              " images/s")
    for kind in ("doc", "photo"):  # pages cost about three times what photos do: a folder of scans is the slow case
        subset = sorted(str(p) for p in inputs.glob(f"{kind}_*.jpg"))
        started = time.perf_counter()
        count = len(list(iter_predictions(subset, predictor, args.batch_size)))
        print(f"predict (library), {'text pages' if kind == 'doc' else 'photos'} only: "
              f"{count / (time.perf_counter() - started):6.2f} images/s ({count} images)")

    out = base / "out-library"
    started = time.perf_counter()
    status = fix_inputs([str(inputs)], predictor, FixOptions(output_dir=str(out), batch_size=args.batch_size))
    seconds = time.perf_counter() - started
    actions = Counter(json.loads(line)["action"] for line in (out / "report.jsonl").read_text().splitlines())
    print(f"fix (library, predict + write): {args.n / seconds:6.2f} images/s ({seconds:.1f} s), exit {status}, "
          f"{dict(actions)}, peak RSS {peak_rss_mib():.0f} MiB")

    decisions = [Decision(InputItem(path), angle, mirrored, 1.0, "document" if "doc_" in path else "photo")
                 for path, (angle, mirrored) in truth.items()]
    for label, chosen in (("lossless (quarter turns)", [d for d in decisions if (d.angle or 0) % 90 == 0]),
                          ("resampled (other angles)", [d for d in decisions if (d.angle or 0) % 90 != 0])):
        if not chosen:
            continue
        started = time.perf_counter()
        records = list(export_decisions(chosen, FixOptions(output_dir=str(base / "out-export"))))
        seconds = time.perf_counter() - started
        done = Counter(r.action for r in records)
        print(f"export only, true angles, {label}: {len(chosen) / seconds:6.2f} images/s "
              f"({len(chosen)} images, {dict(done)})")
    print(f"peak RSS of the library runs: {peak_rss_mib():.0f} MiB (after loading the predictor: {rss0:.0f} MiB)")

    rotbgr = [sys.executable, "-m", "rotbgr_core"]
    model = ["--weights", args.weights] if args.weights else []
    seconds, rss, code = run_child([*rotbgr, "predict", *model, "--device", args.device, str(inputs)])
    print(f"rotbgr predict (CLI, end to end): {args.n / seconds:6.2f} images/s ({seconds:.1f} s), exit {code}, "
          f"peak RSS {rss:.0f} MiB")
    # One image: the fixed cost of a run (Python, ``import torch``, loading the weights). What the N-image run
    # took beyond it is the throughput a long batch sees.
    one, _, _ = run_child([*rotbgr, "predict", *model, "--device", args.device, min(truth)])
    if args.n > 1 and seconds > one:
        beyond = (args.n - 1) / (seconds - one)
        print(f"rotbgr predict (CLI): start-up and one image {one:.1f} s; beyond it {beyond:6.2f} images/s")
    seconds, rss, code = run_child([*rotbgr, "fix", *model, "--device", args.device, str(inputs),
                                    "--output", str(base / "out-cli")])
    print(f"rotbgr fix (CLI, end to end):     {args.n / seconds:6.2f} images/s ({seconds:.1f} s), exit {code}, "
          f"peak RSS {rss:.0f} MiB")
    if not args.keep:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

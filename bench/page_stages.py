"""Where a text page's prediction time goes: each step of the page path timed alone, one thread, in order.

The batch benchmark (``bench/predict_fix.py``) measures throughput with both cores busy, which hides which step costs
what. This one makes the same 2-megapixel text-page JPEGs and runs the shipped predictor's steps one after another on
one torch thread, timing each: decode, the global view, the main network, the skew search, the deskewed page and its
ink, the line cues, the text patches and the main network on them, the text windows and the window network, and the
glyph network (which the predictor runs only on some pages: unsure ones and those checked against their vertical
flip). Milliseconds per page, per step, for each pass (the first is cold).

Usage: ``python bench/page_stages.py [--n 20] [--passes 2] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.predict_fix import make_inputs  # noqa: E402
from rotbgr_core import learned, skew  # noqa: E402
from rotbgr_core.docorient import deskewed_windows, score_windows  # noqa: E402
from rotbgr_core.imageio import load_for_prediction  # noqa: E402
from rotbgr_core.predictor import DocumentAwarePredictor, load_predictor  # noqa: E402

T = TypeVar("T")


class StageClock:
    """Summed wall time per named step."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def time(self, name: str, step: Callable[[], T]) -> T:
        start = time.perf_counter()
        result = step()
        self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - start
        return result


def run_pass(predictor: DocumentAwarePredictor, files: list[Path]) -> dict[str, float]:
    """One pass over ``files``: milliseconds per page for each step."""
    base = predictor.base
    assert isinstance(base, learned.LearnedPredictor)
    fusion = predictor.orienter.fusion
    assert fusion is not None
    clock = StageClock()
    for path in files:
        image = clock.time("decode", lambda p=path: load_for_prediction(str(p)))
        gray, edge, view = clock.time("edges and global view", lambda im=image: learned._prepare(im, False))
        clock.time("main network, global view", lambda v=view: base._run([v]))
        found = clock.time("skew search", lambda g=gray, e=edge: skew.estimate_skew(g, e))
        page, mask, components = clock.time("deskewed page and ink",
                                            lambda g=gray, a=found.angle: learned.deskewed_page(g, a))
        vertical = clock.time("line cues", lambda m=mask: learned.line_cues(m)[1])
        views = clock.time("text patches", lambda pg=page: learned.text_patch_views(pg, base.patches))
        if views:
            clock.time("main network, text patches", lambda vs=views: base._run(vs))
        windows = clock.time("text windows", lambda pg=page, m=mask, v=vertical, c=components: deskewed_windows(
            pg, m, v, fusion.windows, c))
        if len(windows):
            clock.time("window network", lambda w=windows: score_windows(predictor.orienter, w))
        if predictor.glyphs is not None:
            clock.time("glyph network (some pages)",
                       lambda pg=page, c=components, g=predictor.glyphs: g.read_page(pg, c))
    return {name: 1000.0 * total / len(files) for name, total in clock.totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="text pages (default 20)")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="write the inputs here instead of a temp folder")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    predictor = load_predictor(None, "cpu")
    if not isinstance(predictor, DocumentAwarePredictor):
        print("page_stages: the shipped predictor has no page path", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="rotbgr-stages-") as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        # make_inputs alternates text pages and photos: make twice as many, keep the pages.
        files = [Path(p) for p in make_inputs(folder, 2 * args.n) if Path(p).name.startswith("doc_")]
        print(f"inputs: {len(files)} text-page JPEGs 1632x1224 in {folder}")
        print(f"machine: {platform.machine()}, Python {platform.python_version()}, torch threads 1")
        for number in range(args.passes):
            stages = run_pass(predictor, files)
            print(f"pass {number + 1}{' (cold)' if number == 0 else ''}: {sum(stages.values()):.1f} ms a page in all")
            for name, ms in stages.items():
                print(f"  {name:28s} {ms:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

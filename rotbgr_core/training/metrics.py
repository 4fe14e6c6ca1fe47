"""Score angle/mirror/confidence predictions against a labelled set (issue 3's metrics).

Angles follow the SPEC convention (degrees, counter-clockwise fix, [-180, 180)). The angular error is the circular
difference in degrees, in [0, 180]; it counts as computed even when the mirror flag is wrong. "Fully correct" means
an error of at most 2 degrees and the right mirror flag.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

FULLY_CORRECT_DEG = 2.0
SKEW_RANGE_DEG = 15.0
CONFIDENT = 0.8
BIN_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


def wrap_deg(a: float | np.ndarray) -> float | np.ndarray:
    """Wrap degrees into [-180, 180)."""
    return (np.asarray(a, dtype=np.float64) + 180.0) % 360.0 - 180.0


def angular_error(pred: float | np.ndarray, truth: float | np.ndarray) -> np.ndarray:
    """Circular absolute difference in degrees, in [0, 180]."""
    return np.abs(wrap_deg(np.asarray(pred, dtype=np.float64) - np.asarray(truth, dtype=np.float64)))


def _share(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def score(predictions: Iterable[Mapping[str, Any]], truths: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Score predictions against truths, matched by ``path``.

    Args:
        predictions: Records with ``path``, ``angle`` (float or None when failed), ``mirrored`` (bool or None) and
            optionally ``confidence`` (float in [0, 1] or None). A missing or failed prediction counts as an error of
            180 degrees, not mirrored, confidence 0.
        truths: Records with ``path``, ``angle`` and ``mirrored``.

    Returns:
        A dict of metrics: ``n``, ``mae``, ``median``, ``p90``, ``worst``, ``within_1``/``_2``/``_5``, ``coarse``,
        ``mirror_recall``, ``mirror_false_alarm``, ``fully_correct``, ``skew_n``, ``skew_aed``, ``skew_under_0_1``,
        ``failed`` and ``calibration`` (None when no prediction has a confidence).
    """
    by_path = {str(p["path"]): p for p in predictions}
    t_angle, t_mir, p_err, p_mir, conf = [], [], [], [], []
    failed = 0
    has_conf = False
    for t in truths:
        p = by_path.get(str(t["path"]))
        t_angle.append(float(t["angle"]))
        t_mir.append(bool(t["mirrored"]))
        if p is None or p.get("angle") is None or not math.isfinite(float(p["angle"])):
            failed += 1
            p_err.append(180.0)
            p_mir.append(False)
            conf.append(0.0)
            continue
        p_err.append(float(angular_error(float(p["angle"]), float(t["angle"]))))
        p_mir.append(bool(p.get("mirrored") or False))
        c = p.get("confidence")
        if c is not None:
            has_conf = True
        conf.append(float(c) if c is not None else float("nan"))
    err = np.asarray(p_err, dtype=np.float64)
    tm = np.asarray(t_mir, dtype=bool)
    pm = np.asarray(p_mir, dtype=bool)
    ta = np.asarray(t_angle, dtype=np.float64)
    n = int(err.size)
    out: dict[str, Any] = {"n": n, "failed": failed}
    if n == 0:
        return out
    correct = (err <= FULLY_CORRECT_DEG) & (pm == tm)
    skew = np.abs(wrap_deg(ta)) <= SKEW_RANGE_DEG
    out.update(
        mae=float(err.mean()),
        median=float(np.median(err)),
        p90=float(np.percentile(err, 90)),
        worst=float(err.max()),
        within_1=_share(err <= 1.0),
        within_2=_share(err <= 2.0),
        within_5=_share(err <= 5.0),
        coarse=_share(err < 45.0),
        mirror_n=int(tm.sum()),
        mirror_recall=_share(pm[tm]),
        mirror_false_alarm=_share(pm[~tm]),
        fully_correct=_share(correct),
        skew_n=int(skew.sum()),
        skew_aed=float(err[skew].mean()) if skew.any() else None,
        skew_under_0_1=_share(err[skew] < 0.1),
    )
    out["calibration"] = calibration(np.asarray(conf, dtype=np.float64), correct) if has_conf else None
    return out


def calibration(conf: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """Reliability table and high-confidence shares.

    Args:
        conf: Confidence per image (NaN where a predictor gave none: counted as 0).
        correct: Whether each image is fully correct.

    Returns:
        ``bins`` (list of {lo, hi, n, mean_conf, accuracy}), ``ece`` (expected calibration error), ``at_0_8_share``
        (share of images with confidence >= 0.8) and ``at_0_8_correct`` (share fully correct among them, None if none).
    """
    c = np.nan_to_num(conf, nan=0.0).clip(0.0, 1.0)
    bins = []
    ece = 0.0
    for k, (lo, hi) in enumerate(zip(BIN_EDGES[:-1], BIN_EDGES[1:], strict=True)):
        m = (c >= lo) & ((c < hi) if k < len(BIN_EDGES) - 2 else (c <= hi))
        nb = int(m.sum())
        row = {"lo": lo, "hi": hi, "n": nb, "mean_conf": None, "accuracy": None}
        if nb:
            row["mean_conf"] = float(c[m].mean())
            row["accuracy"] = float(correct[m].mean())
            ece += nb / c.size * abs(row["mean_conf"] - row["accuracy"])
        bins.append(row)
    hi_conf = c >= CONFIDENT
    return {
        "bins": bins,
        "ece": float(ece),
        "at_0_8_share": float(hi_conf.mean()),
        "at_0_8_correct": float(correct[hi_conf].mean()) if hi_conf.any() else None,
    }


def read_truth(folder: Path) -> list[dict[str, Any]]:
    """Read ``folder/truth.jsonl``."""
    with (Path(folder) / "truth.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100.0 * v:.1f}"


def _deg(v: float | None, nd: int = 2) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


SUMMARY_HEADER = (
    "| set | n | MAE | median | p90 | worst | <=1 % | <=2 % | <=5 % | coarse % | mirror recall % | mirror FA % "
    "| fully correct % | skew AED | skew <0.1 % | conf>=0.8 share % | correct among >=0.8 % |"
)


def summary_row(name: str, s: Mapping[str, Any]) -> str:
    """One markdown table row (matching :data:`SUMMARY_HEADER`) for a scored set."""
    cal = s.get("calibration") or {}
    cells = [
        name,
        str(s.get("n", 0)),
        _deg(s.get("mae")),
        _deg(s.get("median")),
        _deg(s.get("p90")),
        _deg(s.get("worst"), 1),
        _pct(s.get("within_1")),
        _pct(s.get("within_2")),
        _pct(s.get("within_5")),
        _pct(s.get("coarse")),
        _pct(s.get("mirror_recall")),
        _pct(s.get("mirror_false_alarm")),
        _pct(s.get("fully_correct")),
        _deg(s.get("skew_aed"), 3),
        _pct(s.get("skew_under_0_1")),
        _pct(cal.get("at_0_8_share")),
        _pct(cal.get("at_0_8_correct")),
    ]
    return "| " + " | ".join(cells) + " |"


def format_report(results: Mapping[str, Mapping[str, Any]], title: str | None = None) -> str:
    """Markdown report: a summary table over the sets, then a reliability table per set.

    Args:
        results: Set name -> the dict returned by :func:`score`.
        title: Optional heading.

    Returns:
        The report text.
    """
    lines = [f"## {title}", ""] if title else []
    lines += ["Angles in degrees (circular error); shares in %.", "", SUMMARY_HEADER]
    lines.append("|" + "---|" * SUMMARY_HEADER.count(" | ") + "---|")
    for name, s in results.items():
        lines.append(summary_row(name, s))
    for name, s in results.items():
        cal = s.get("calibration")
        if not cal:
            continue
        lines += [
            "",
            f"Reliability, {name} (ECE {cal['ece']:.3f}):",
            "",
            "| confidence | n | mean conf | fully correct % |",
        ]
        lines.append("|---|---|---|---|")
        for b in cal["bins"]:
            if b["n"]:
                lines.append(
                    f"| {b['lo']:.2f}-{b['hi']:.2f} | {b['n']} | {b['mean_conf']:.3f} | {_pct(b['accuracy'])} |"
                )
    return "\n".join(lines) + "\n"

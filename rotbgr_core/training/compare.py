"""``rotbgr eval compare BEFORE AFTER FOLDER``: two prediction files of the same sets, image by image.

Every model or rule change so far was judged the same way: how many images it puts right, how many it breaks, and
what happens to the confident answers. The aggregate scores of ``rotbgr eval`` hide the first two (a change that fixes
five pages and breaks four reads as "+1"), so this compares the ``--predictions`` files of two ``rotbgr eval`` runs
over the same labelled ``FOLDER`` (a set with ``truth.jsonl``, or a parent of sets) and names the images that changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rotbgr_core.training.evaluate import find_sets
from rotbgr_core.training.metrics import CONFIDENT, FULLY_CORRECT_DEG, angular_error, read_truth


def fully_correct(prediction: Mapping[str, Any] | None, truth: Mapping[str, Any]) -> bool:
    """Within :data:`FULLY_CORRECT_DEG` of the truth with the right mirror flag (a missing answer is wrong)."""
    if prediction is None or prediction.get("angle") is None:
        return False
    error = float(angular_error(float(prediction["angle"]), float(truth["angle"])))
    return error <= FULLY_CORRECT_DEG and bool(prediction.get("mirrored")) == bool(truth["mirrored"])


def _confident(prediction: Mapping[str, Any] | None) -> bool:
    return prediction is not None and (prediction.get("confidence") or 0.0) >= CONFIDENT


@dataclass
class SetComparison:
    """One labelled set scored under both prediction files."""

    name: str
    n: int = 0
    correct_before: int = 0
    correct_after: int = 0
    confident_before: int = 0  #: answers at confidence >= CONFIDENT
    confident_after: int = 0
    confident_right_before: int = 0  #: of those, fully correct
    confident_right_after: int = 0
    fixed: list[str] = field(default_factory=list)  #: wrong before, right after
    broken: list[str] = field(default_factory=list)  #: right before, wrong after
    missing: list[str] = field(default_factory=list)  #: images that either file lacks

    def line(self) -> str:
        """A one-line summary."""
        def pct(part: int, whole: int) -> str:
            return f"{100.0 * part / whole:.1f}%" if whole else "-"

        return (f"{self.name}: n {self.n}, fully correct {self.correct_before} -> {self.correct_after} "
                f"({pct(self.correct_before, self.n)} -> {pct(self.correct_after, self.n)}), "
                f"fixed {len(self.fixed)}, broken {len(self.broken)}; at >= {CONFIDENT}: "
                f"share {pct(self.confident_before, self.n)} -> {pct(self.confident_after, self.n)}, "
                f"right {pct(self.confident_right_before, self.confident_before)} -> "
                f"{pct(self.confident_right_after, self.confident_after)}")


def read_predictions(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """A ``rotbgr eval --predictions`` file, keyed by ``(set, path)``."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if "path" not in record or "set" not in record:
                raise ValueError(f"{path}:{number}: a prediction record needs 'set' and 'path'")
            records[(str(record["set"]), str(record["path"]))] = record
    return records


def compare(before: Mapping[tuple[str, str], Mapping[str, Any]], after: Mapping[tuple[str, str], Mapping[str, Any]],
            folder: Path) -> list[SetComparison]:
    """Both files' answers against every set's truth under ``folder``, image by image."""
    results = []
    for name, set_dir in find_sets(folder).items():
        result = SetComparison(name)
        for truth in read_truth(set_dir):
            key = (name, str(truth["path"]))
            old, new = before.get(key), after.get(key)
            if old is None or new is None:
                result.missing.append(key[1])
            result.n += 1
            right_before, right_after = fully_correct(old, truth), fully_correct(new, truth)
            result.correct_before += right_before
            result.correct_after += right_after
            if _confident(old):
                result.confident_before += 1
                result.confident_right_before += right_before
            if _confident(new):
                result.confident_after += 1
                result.confident_right_after += right_after
            if right_after and not right_before:
                result.fixed.append(key[1])
            elif right_before and not right_after:
                result.broken.append(key[1])
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="rotbgr eval compare", description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="predictions of the reference run (rotbgr eval --predictions)")
    parser.add_argument("after", type=Path, help="predictions of the changed run, over the same sets")
    parser.add_argument("folder", type=Path, help="the labelled folder both runs scored")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    args = parser.parse_args(argv)
    try:
        results = compare(read_predictions(args.before), read_predictions(args.after), args.folder)
    except (OSError, ValueError) as exc:
        print(f"rotbgr eval compare: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([result.__dict__ for result in results], indent=1))
        return 0
    for result in results:
        print(result.line())
        for label, names in (("fixed", result.fixed), ("broken", result.broken), ("missing", result.missing)):
            if names:
                print(f"  {label}: {' '.join(names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

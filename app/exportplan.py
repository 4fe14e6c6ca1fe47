"""Planning a batch export: which items, under which names, with which crop (plain Python)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.export_adapter import ExportResult, ExportTask, expected_output, make_layout
from app.model import Decision, Item, ItemState, atomic_write_text
from rotbgr_core.export import OutputLayout


class PlanError(ValueError):
    """The export cannot be planned as asked (the message says why, for the user)."""


@dataclass(frozen=True)
class ExportSettings:
    """The choices of the export dialog."""

    output_dir: Path
    naming: str = "suffix"  # "suffix": flat, name + suffix; "tree": same names, same tree under output_dir
    suffix: str = "_rotated"
    out_format: str = "keep"
    quality: int = 0  # 0: JPEGs keep their own estimated quality
    crop: str = "auto"  # "auto": per item kind from the preferences
    scope: str = "accepted"  # "accepted", "confidence", "selection"
    min_confidence: float = 0.85


def select_items(
    items: Sequence[Item], scope: str, min_confidence: float = 0.0, selection: Collection[str] = ()
) -> list[Item]:
    """The items an export covers.

    * ``accepted``: items the user accepted;
    * ``confidence``: items whose confidence is at least ``min_confidence``, plus the
      ones a person adjusted or accepted; never rejected or unreadable ones;
    * ``selection``: the selected items that can be written (not unreadable).
    """
    if scope == "accepted":
        return [i for i in items if i.decision == Decision.ACCEPTED and i.state != ItemState.ERROR]
    if scope == "confidence":
        return [
            i for i in items
            if i.state != ItemState.ERROR and i.decision != Decision.REJECTED and i.predicted is not None
            and ((i.confidence or 0.0) >= min_confidence or i.reviewed)
        ]
    if scope == "selection":
        chosen = set(selection)
        return [i for i in items if i.key in chosen and i.state != ItemState.ERROR]
    raise PlanError(f"unknown selection {scope!r}")


@dataclass(frozen=True)
class ExportPlan:
    """The tasks of an export and the naming rules the core applies to them."""

    tasks: list[ExportTask]
    layout: OutputLayout

    def example(self, out_format: str) -> Path:
        """Where the first item will be written."""
        return expected_output(self.layout, self.tasks[0].item, out_format)


def plan_tasks(
    items: Sequence[Item],
    settings: ExportSettings,
    folder: str,
    crop_for: Callable[[str], str],
) -> ExportPlan:
    """One task per item, in the session's order (so the pages of a document stay together).

    Raises:
        PlanError: no output folder, or the outputs would land on the inputs themselves.
    """
    if not str(settings.output_dir).strip() or str(settings.output_dir) == ".":
        raise PlanError("Choose an output folder.")
    output = settings.output_dir.expanduser().resolve()
    if settings.naming == "tree" and output == Path(folder).resolve():
        raise PlanError("The same names in the same folder would be the inputs: choose another output folder.")
    if settings.naming != "tree" and not settings.suffix:
        parents = {Path(i.file).resolve().parent for i in items}
        if output in parents:
            raise PlanError("Without a suffix the outputs would be named like the inputs: add a suffix "
                            "or choose another output folder.")
    layout = make_layout(output, settings.naming, settings.suffix, folder)
    tasks = []
    for item in items:
        correction = item.correction
        crop = settings.crop if settings.crop != "auto" else crop_for(item.kind)
        tasks.append(ExportTask(item.key, item.input_item, correction.angle, correction.mirrored, crop, item.kind,
                                item.confidence))
    return ExportPlan(tasks, layout)


def report_record(base: dict[str, object], result: ExportResult) -> dict[str, object]:
    """One line of ``report.jsonl``: ``base`` (the item's decision record), then what the core wrote."""
    record = dict(base)
    record.update({"output": result.output, "action": result.action})
    for key in ("crop", "quality", "note"):
        if result.record.get(key) is not None:
            record[key] = result.record[key]
    if result.error:
        record["export_error"] = result.error
    return record


def write_report(path: Path, records: Sequence[dict[str, object]]) -> Path:
    """Write ``report.jsonl`` atomically; an earlier report there is kept under a dated name."""
    if path.is_file() and not path.is_symlink():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
        kept = path.with_name(f"{path.stem}-{stamp}{path.suffix}")
        n = 1
        while kept.exists():
            kept = path.with_name(f"{path.stem}-{stamp}-{n}{path.suffix}")
            n += 1
        path.replace(kept)
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
    return path

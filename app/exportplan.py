"""Planning a batch export: which items, under which names, with which crop (plain Python)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.export_adapter import ExportResult, ExportTask, output_suffix
from app.model import Decision, Item, ItemState, atomic_write_text, decision_record


class PlanError(ValueError):
    """The export cannot be planned as asked (the message says why, for the user)."""


@dataclass(frozen=True)
class ExportSettings:
    """The choices of the export dialog."""

    output_dir: Path
    naming: str = "suffix"  # "suffix": flat, name + suffix; "tree": same names, same tree under output_dir
    suffix: str = "_rotated"
    out_format: str = "keep"
    quality: int = 92
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


def _relative(file: str, folder: str) -> Path:
    try:
        return Path(file).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return Path(Path(file).name)


def plan_tasks(
    items: Sequence[Item],
    settings: ExportSettings,
    folder: str,
    crop_for: Callable[[str], str],
) -> list[ExportTask]:
    """One task per item, with unique output paths that never hit an input.

    Raises:
        PlanError: no output folder, or an output would overwrite an input.
    """
    if not str(settings.output_dir).strip() or str(settings.output_dir) == ".":
        raise PlanError("Choose an output folder.")
    root = settings.output_dir
    inputs = {str(Path(i.file).resolve()) for i in items}
    used: set[str] = set()
    tasks = []
    for item in items:
        page = f"_p{item.page:03d}" if item.page is not None else ""
        ext = output_suffix(item.input_item, settings.out_format)
        if settings.naming == "tree":
            rel = _relative(item.file, folder)
            base = root / rel.parent / f"{rel.stem}{page}"
        else:
            base = root / f"{Path(item.file).stem}{page}{settings.suffix}"
        candidate = base.with_name(base.name + ext)
        n = 2
        while str(candidate) in used:
            candidate = base.with_name(f"{base.name}-{n}{ext}")
            n += 1
        if str(candidate.resolve()) in inputs:
            raise PlanError(
                f"{candidate.name} would overwrite an input: choose another output folder or add a suffix."
            )
        used.add(str(candidate))
        correction = item.correction
        crop = settings.crop if settings.crop != "auto" else crop_for(item.kind)
        tasks.append(ExportTask(item.key, item.input_item, candidate, correction.angle, correction.mirrored, crop))
    return tasks


def report_record(item: Item | None, task: ExportTask, result: ExportResult) -> dict[str, object]:
    """One line of ``report.jsonl``: the predict fields, the review state and what was written."""
    record: dict[str, object] = decision_record(item) if item is not None else {"path": task.key}
    record.update({"output": result.output, "action": result.action})
    if result.error:
        record["export_error"] = result.error
    return record


def write_report(path: Path, records: Sequence[dict[str, object]]) -> None:
    """Write ``report.jsonl`` atomically."""
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))

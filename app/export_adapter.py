"""The one place the app talks to the core's export API (:mod:`rotbgr_core.export`).

The app decides *which* items and *how* (angle, mirror, crop, naming); the core
writes them: lossless turns where possible, metadata kept, atomic writes that
never replace a file, the pages of one PDF or TIFF in one output document.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rotbgr_core.export import Decision, FixOptions, OutputLayout, export_decisions
from rotbgr_core.imageio import InputItem
from rotbgr_core.progress import CancelToken


@dataclass(frozen=True)
class ExportTask:
    """One item to write, with the correction the user settled on."""

    key: str
    item: InputItem
    angle: float
    mirrored: bool
    crop: str
    kind: str = "unknown"
    confidence: float | None = None


@dataclass(frozen=True)
class ExportResult:
    """What happened to one item (from the core's :class:`~rotbgr_core.export.ExportRecord`)."""

    key: str
    output: str | None
    action: str
    error: str | None = None
    note: str | None = None
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the item was written (or deliberately kept unchanged)."""
        return self.action != "failed"


def make_layout(output_dir: Path, naming: str, suffix: str, folder: str) -> OutputLayout:
    """The core's naming rules: flat with a suffix, or the folder's tree under ``output_dir`` with the same names."""
    if naming == "tree":
        return OutputLayout(str(output_dir), "", (folder,))
    return OutputLayout(str(output_dir), suffix)


def expected_output(layout: OutputLayout, item: InputItem, out_format: str) -> Path:
    """Where the core will (most likely) write ``item``: used to show an example before exporting."""
    suffix = Path(item.file).suffix
    extensions = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "webp": ".webp"}
    is_document = item.page is not None
    if out_format != "keep" and not is_document:
        suffix = extensions[out_format]
    return layout.folder_for(item.file) / layout.name_for(item.file, suffix)


def writer_threads() -> int:
    """Threads the core may use to write: all but one CPU (the UI keeps one), at most 4."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def export_tasks(
    tasks: Sequence[ExportTask],
    layout: OutputLayout,
    out_format: str = "keep",
    quality: int | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[ExportResult]:
    """Write ``tasks`` with the core, in order; stops before the next item when cancelled."""
    options = FixOptions(
        output_dir=layout.output_dir,
        suffix=layout.suffix,
        quality=quality or None,
        out_format=out_format,
        workers=writer_threads(),
    )
    decisions = (
        Decision(item=t.item, angle=t.angle, mirrored=t.mirrored, confidence=t.confidence, kind=t.kind, crop=t.crop)
        for t in tasks
    )
    for task, record in zip(tasks, export_decisions(decisions, options, layout, cancel), strict=False):
        yield ExportResult(task.key, record.output, record.action, record.error, record.note, record.to_record())

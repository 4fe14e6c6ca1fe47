"""Listing a folder's items with the core's :func:`~rotbgr_core.imageio.iter_items` (run in a worker)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from app.model import Item
from rotbgr_core.imageio import InputItem, InputProblem, iter_items
from rotbgr_core.progress import CancelToken


def scan_folder(folder: str, cancel: CancelToken | None = None, chunk: int = 250) -> Iterator[list[Item]]:
    """Yield the folder's items in chunks (every ``chunk`` items or 0.2 s; the first after 60, to show them soon).

    PDF and TIFF pages are items of their own.
    """
    batch: list[Item] = []
    stats: dict[str, tuple[int, int]] = {}
    last = time.monotonic()
    first_sent = False
    for entry in iter_items([folder]):
        if cancel is not None and cancel.is_cancelled():
            return
        if isinstance(entry, InputProblem):
            batch.append(Item(key=entry.path, file=entry.path, error=entry.error))
        else:
            assert isinstance(entry, InputItem)
            stat = stats.get(entry.file)
            if stat is None:
                try:
                    info = Path(entry.file).stat()
                    stat = (info.st_mtime_ns, info.st_size)
                except OSError:
                    stat = (0, 0)
                stats = {entry.file: stat}  # pages of one file come together
            batch.append(
                Item(
                    key=entry.display_path,
                    file=entry.file,
                    page=entry.page,
                    page_count=entry.page_count,
                    mtime_ns=stat[0],
                    size=stat[1],
                )
            )
        now = time.monotonic()
        if len(batch) >= (chunk if first_sent else 60) or now - last > 0.2:
            first_sent = True
            yield batch
            batch = []
            last = now
    if batch:
        yield batch

"""Large previews for the detail view, decoded by the core in a background thread, a few kept in memory."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QImage

from app.thumbnails import pil_to_qimage
from app.workers import CancelFlag, GeneratorWorker, Pool
from rotbgr_core.geometry import border_colour
from rotbgr_core.imageio import InputItem, load_for_prediction

#: Long side of the preview image (larger images are shown reduced, with zoom still in original pixels).
PREVIEW_MAX = 3200


@dataclass(frozen=True)
class Preview:
    """A decoded preview: the image, the original's size in pixels and its background colour."""

    image: QImage
    original_width: int
    original_height: int
    fill: QColor

    @property
    def scale(self) -> float:
        """Original pixels per preview pixel."""
        return self.original_width / max(1, self.image.width())


def original_size(item: InputItem, fallback: tuple[int, int]) -> tuple[int, int]:
    """The stored pixel size of a raster item, read from its header (``fallback`` for PDF pages)."""
    if item.is_pdf:
        return fallback
    try:
        with Image.open(item.file) as image:
            if item.page is not None:
                image.seek(item.page - 1)
            return image.size
    except Exception:  # noqa: BLE001 - only used to label zoom levels
        return fallback


def load_preview(item: InputItem, max_side: int = PREVIEW_MAX) -> Preview:
    """Decode a preview with the core decoder."""
    image = load_for_prediction(item, max_side=max_side)
    fill = border_colour(image)
    colour = QColor(*fill[:3]) if isinstance(fill, tuple) else QColor(int(fill), int(fill), int(fill))
    width, height = original_size(item, image.size)
    return Preview(pil_to_qimage(image), width, height, colour)


class PreviewService(QObject):
    """Loads previews one at a time, newest request first, and keeps the last few."""

    ready = Signal(str)
    failed = Signal(str, str)

    def __init__(self, keep: int = 4, parent: QObject | None = None) -> None:
        """Keep ``keep`` previews in memory."""
        super().__init__(parent)
        self._pool = Pool("previews", 1)
        self._cache: OrderedDict[str, Preview] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()
        self._wanted: list[tuple[str, InputItem]] = []
        self._running = False
        self._generation = 0

    def get(self, key: str) -> Preview | None:
        """A loaded preview, if any."""
        preview = self._cache.get(key)
        if preview is not None:
            self._cache.move_to_end(key)
        return preview

    def request(self, key: str, item: InputItem, prefetch: list[tuple[str, InputItem]] | None = None) -> None:
        """Load ``key`` first, then the ``prefetch`` items (neighbours)."""
        wanted = [(key, item)] + list(prefetch or [])
        wanted = [(k, i) for k, i in wanted if k not in self._cache]
        with self._lock:
            self._wanted = wanted
            start = bool(wanted) and not self._running
            if start:
                self._running = True
        if start:
            worker = GeneratorWorker(self._run, "previews")
            worker.signals.yielded.connect(self._on_result)
            self._pool.start(worker)

    def reset(self) -> None:
        """Forget everything (a new folder)."""
        with self._lock:
            self._generation += 1
            self._wanted = []
        self._cache.clear()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop and wait."""
        self.reset()
        return self._pool.drain(timeout_ms)

    def _on_result(self, result: tuple[int, str, Preview | None, str | None]) -> None:
        generation, key, preview, error = result
        if generation != self._generation:
            return
        if preview is None:
            self.failed.emit(key, error or "cannot load")
            return
        self._cache[key] = preview
        self._cache.move_to_end(key)
        while len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        self.ready.emit(key)

    def _run(self, cancel: CancelFlag) -> Iterator[tuple[int, str, Preview | None, str | None]]:
        counted = True
        try:
            while not cancel.is_cancelled():
                with self._lock:
                    if not self._wanted:
                        self._running = False
                        counted = False
                        break
                    key, item = self._wanted.pop(0)
                    generation = self._generation
                try:
                    preview = load_preview(item)
                except Exception as exc:  # noqa: BLE001 - shown in the detail view
                    yield generation, key, None, str(exc)
                else:
                    yield generation, key, preview, None
        finally:
            if counted:
                with self._lock:
                    self._running = False

"""Thumbnails: made in a thread pool by the core's decoder, cached on disk and in memory.

The disk cache lives in the user cache folder and is keyed by the file's path,
page, modification time and size, so an edited file gets a new thumbnail.
Requests are served most-recent-first, so what the user is looking at now comes
before rows scrolled past.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from app.workers import CancelFlag, GeneratorWorker, Pool
from rotbgr_core.imageio import InputItem, load_for_prediction


def display_ready(image: QImage) -> QImage:
    """The image in the format the painter draws fastest (converted in the worker, not at paint time)."""
    return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


def pil_to_qimage(image: Image.Image) -> QImage:
    """A deep copy of an RGB (or L) Pillow image as a QImage (safe to make in any thread)."""
    if image.mode == "L":
        data = image.tobytes()
        return QImage(data, image.width, image.height, image.width, QImage.Format.Format_Grayscale8).copy()
    if image.mode != "RGB":
        image = image.convert("RGB")
    data = image.tobytes()
    return QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()


def cache_pixels(display_size: int) -> int:
    """Resolution of cached thumbnails for a grid cell of ``display_size`` pixels."""
    return 256 if display_size <= 224 else 384


@dataclass(frozen=True)
class ThumbRequest:
    """What a thumbnail is made from."""

    key: str
    item: InputItem
    mtime_ns: int
    size: int


def cache_path(root: Path, request: ThumbRequest, pixels: int) -> Path:
    """Where the thumbnail of ``request`` is cached: a hash of path, page, mtime, size and resolution."""
    ident = f"{request.item.file}\0{request.item.page}\0{request.mtime_ns}\0{request.size}\0{pixels}"
    digest = hashlib.sha1(os.fsencode(ident), usedforsecurity=False).hexdigest()
    return root / digest[:2] / f"{digest}.jpg"


def make_thumbnail(root: Path, request: ThumbRequest, pixels: int) -> QImage:
    """Load the cached thumbnail or make (and cache) it with the core decoder."""
    path = cache_path(root, request, pixels)
    if path.exists():
        cached = QImage(str(path))
        if not cached.isNull():
            return display_ready(cached)
    image = load_for_prediction(request.item, max_side=pixels)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".thumb-", suffix=".jpg", dir=path.parent)
        os.close(handle)
        try:
            image.save(temp, "JPEG", quality=88)
            Path(temp).replace(path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a read-only cache only costs speed
    return display_ready(pil_to_qimage(image))


class ThumbnailService(QObject):
    """Makes thumbnails on demand in a small pool and keeps the recent ones in memory."""

    ready = Signal(str)
    """A thumbnail (or its failure) for this key is now available."""

    def __init__(self, cache_root: Path, threads: int = 2, memory_items: int = 700, parent: QObject | None = None):
        """Cache on disk under ``cache_root``; keep ``memory_items`` decoded thumbnails in memory."""
        super().__init__(parent)
        self.cache_root = cache_root
        self.pixels = 256
        self._pool = Pool("thumbnails", threads)
        self._threads = max(1, threads)
        self._memory: OrderedDict[str, QImage] = OrderedDict()
        self._memory_items = memory_items
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stack: list[ThumbRequest] = []
        self._queued: set[str] = set()
        self._runners = 0
        self._generation = 0

    # -- main thread ------------------------------------------------------------

    def image(self, key: str) -> QImage | None:
        """The thumbnail of ``key`` if it is in memory."""
        image = self._memory.get(key)
        if image is not None:
            self._memory.move_to_end(key)
        return image

    def error(self, key: str) -> str | None:
        """Why the thumbnail of ``key`` could not be made, if it could not."""
        return self._errors.get(key)

    def request(self, request: ThumbRequest) -> None:
        """Ask for a thumbnail; the most recent requests are served first."""
        key = request.key
        if key in self._memory or key in self._errors:
            return
        with self._lock:
            if key in self._queued:
                for i in range(len(self._stack) - 1, -1, -1):  # move it to the top
                    if self._stack[i].key == key:
                        self._stack.append(self._stack.pop(i))
                        break
                return
            self._queued.add(key)
            self._stack.append(request)
            start = self._runners < self._threads
            if start:
                self._runners += 1
        if start:
            worker = GeneratorWorker(self._run, "thumbnails")
            worker.signals.yielded.connect(self._on_result)
            self._pool.start(worker)

    def set_pixels(self, pixels: int) -> None:
        """Change the cached resolution (drops what is in memory)."""
        if pixels != self.pixels:
            self.reset()
            self.pixels = pixels

    def reset(self) -> None:
        """Forget every queued request and in-memory thumbnail (a new folder)."""
        with self._lock:
            self._generation += 1
            self._stack.clear()
            self._queued.clear()
        self._memory.clear()
        self._errors.clear()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop and wait for the pool."""
        self.reset()
        return self._pool.drain(timeout_ms)

    @property
    def busy(self) -> bool:
        """Whether thumbnails are being made."""
        return self._pool.busy

    def _on_result(self, result: tuple[int, str, QImage | None, str | None]) -> None:
        generation, key, image, error = result
        if generation != self._generation:
            return  # a result for a folder that is no longer open
        if image is not None:
            self._memory[key] = image
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)
        else:
            self._errors[key] = error or "no thumbnail"
        self.ready.emit(key)

    # -- pool threads ---------------------------------------------------------------

    def _run(self, cancel: CancelFlag) -> Iterator[tuple[int, str, QImage | None, str | None]]:
        counted = True
        try:
            while not cancel.is_cancelled():
                with self._lock:
                    if not self._stack:
                        self._runners -= 1  # under the lock, so a new request sees the right count
                        counted = False
                        break
                    request = self._stack.pop()
                    self._queued.discard(request.key)
                    generation, pixels = self._generation, self.pixels
                try:
                    image = make_thumbnail(self.cache_root, request, pixels)
                except Exception as exc:  # noqa: BLE001 - shown on the item, never fatal
                    yield generation, request.key, None, str(exc)
                else:
                    yield generation, request.key, image, None
        finally:
            if counted:
                with self._lock:
                    self._runners -= 1

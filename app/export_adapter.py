"""The one place the app talks to the core's export API.

``rotbgr_core.export`` is being written; until its per-item export lands in main,
:func:`export_item` here does the same job with the core's decoder and geometry
(``load_full`` + ``correct_image``) and an atomic write.  When the core API is
available, this module only forwards to it, and nothing else in the app changes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from rotbgr_core.geometry import CropMode, correct_image, decompose, normalize_angle
from rotbgr_core.imageio import ImageReadError, InputItem, load_full, to_rgb
from rotbgr_core.progress import CancelToken

#: File suffix and Pillow format of each output format.
FORMATS = {
    "jpeg": (".jpg", "JPEG"),
    "png": (".png", "PNG"),
    "tiff": (".tif", "TIFF"),
    "webp": (".webp", "WEBP"),
}
_KEEP_FALLBACK = "png"  # for inputs Pillow cannot write back (PDF pages, GIF)
_SUFFIX_FORMAT = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".png": "png", ".tif": "tiff", ".tiff": "tiff",
    ".webp": "webp", ".bmp": "png", ".gif": "png", ".pdf": "png",
}


@dataclass(frozen=True)
class ExportTask:
    """One item to write: where, and with which correction."""

    key: str
    item: InputItem
    output: Path
    angle: float
    mirrored: bool
    crop: str


@dataclass(frozen=True)
class ExportResult:
    """What happened to one item (the fields of the CLI's ``report.jsonl``)."""

    key: str
    output: str | None
    action: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether a file was written."""
        return self.error is None


def output_format(item: InputItem, out_format: str) -> str:
    """The concrete format (``jpeg``, ``png``, ``tiff``, ``webp``) an item is written in."""
    if out_format != "keep":
        return out_format
    return _SUFFIX_FORMAT.get(Path(item.file).suffix.lower(), _KEEP_FALLBACK)


def output_suffix(item: InputItem, out_format: str) -> str:
    """The file suffix of the output for ``item``."""
    fmt = output_format(item, out_format)
    original = Path(item.file).suffix
    if out_format == "keep" and _SUFFIX_FORMAT.get(original.lower()) == fmt:
        return original
    return FORMATS[fmt][0]


def _prepare(image: Image.Image, fmt: str) -> Image.Image:
    if fmt == "jpeg":
        return image if image.mode in ("L", "RGB", "CMYK") else to_rgb(image)
    if fmt == "webp":
        return image if image.mode in ("RGB", "RGBA") else to_rgb(image)
    if fmt == "png":
        return image if image.mode in ("1", "L", "LA", "RGB", "RGBA", "P", "I;16", "I") else to_rgb(image)
    return image


def _save_options(source: Image.Image, fmt: str, quality: int | None) -> dict[str, object]:
    options: dict[str, object] = {}
    icc = source.info.get("icc_profile")
    if icc:
        options["icc_profile"] = icc
    dpi = source.info.get("dpi")
    if dpi:
        options["dpi"] = dpi
    try:
        exif = source.getexif()
    except Exception:  # noqa: BLE001 - metadata is best effort
        exif = None
    if exif is not None and len(exif) and fmt in ("jpeg", "webp", "png", "tiff"):
        exif[0x0112] = 1  # the pixels are upright now: Orientation = normal
        options["exif"] = exif.tobytes()
    if fmt in ("jpeg", "webp"):
        options["quality"] = quality or 95
    if fmt == "tiff":
        options["compression"] = "group4" if source.mode == "1" else "tiff_lzw"
    if fmt == "png":
        options["optimize"] = False
    return options


def _write_atomic(image: Image.Image, output: Path, fmt: str, options: dict[str, object]) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=".partial", dir=output.parent)
    os.close(handle)
    try:
        image.save(temp, FORMATS[fmt][1], **options)
        Path(temp).replace(output)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def export_item(task: ExportTask, out_format: str = "keep", quality: int | None = None) -> ExportResult:
    """Write the corrected copy of one item, atomically; never touches the input."""
    item, output = task.item, task.output
    try:
        if output.exists() and Path(item.file).exists() and output.samefile(item.file):
            return ExportResult(task.key, None, "failed", "the output would overwrite the input")
        fmt = output_format(item, out_format)
        angle = normalize_angle(task.angle)
        identity = abs(angle) < 1e-9 and not task.mirrored
        same_format = out_format == "keep" and not item.is_pdf and item.page is None
        if identity and same_format and _SUFFIX_FORMAT.get(Path(item.file).suffix.lower()) == fmt:
            output.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=".partial", dir=output.parent)
            os.close(handle)
            try:
                shutil.copyfile(item.file, temp)
                Path(temp).replace(output)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
            return ExportResult(task.key, str(output), "unchanged")
        source = load_full(item)
        corrected = correct_image(source, angle, task.mirrored, CropMode(task.crop))
        image = _prepare(corrected, fmt)
        _write_atomic(image, output, fmt, _save_options(source, fmt, quality))
        exact = decompose(angle).is_exact
        action = "unchanged" if identity else ("lossless" if exact and fmt in ("png", "tiff") else "rotated")
        return ExportResult(task.key, str(output), action)
    except ImageReadError as exc:
        return ExportResult(task.key, None, "failed", str(exc))
    except OSError as exc:
        return ExportResult(task.key, None, "failed", f"cannot write: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        return ExportResult(task.key, None, "failed", f"{type(exc).__name__}: {exc}")


def export_tasks(
    tasks: Sequence[ExportTask],
    out_format: str = "keep",
    quality: int | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[ExportResult]:
    """Export ``tasks`` one by one, stopping between items when cancelled."""
    for task in tasks:
        if cancel is not None and cancel.is_cancelled():
            return
        yield export_item(task, out_format, quality)

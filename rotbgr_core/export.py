"""Writing corrected images: ``rotbgr fix`` and the app's export.

Three layers, each usable on its own:

* :func:`export_item` corrects one item with a given ``(angle, mirrored)``
  (the app's manual export) and returns an :class:`ExportRecord`.
* :func:`export_decisions` streams :class:`Decision` objects to records, in
  order; the pages of one PDF or multi-page TIFF go into one output document.
* :func:`iter_fix` predicts and exports (a generator, so progress and
  cancellation work), and :func:`fix_inputs` is the CLI: it also writes
  ``report.jsonl`` and returns the SPEC's exit status.

Guarantees: inputs are only ever read; every output (and the report) is written
to a temporary file in the destination folder, flushed to disk, then given its
final name without replacing anything (an existing name gets ``-1``, ``-2``...
and the report says so); a failed write leaves no file behind.

What is written (``action`` in the report):

* ``lossless``: quarter turns and mirrors done without loss: in the DCT domain
  for JPEG (libjpeg-turbo), by transposition for lossless formats, by
  ``/Rotate`` or a transformation matrix for PDF pages.
* ``rotated``: resampled (bicubic, at full resolution) or re-encoded.
* ``unchanged``: a copy of the input (no correction needed, or under
  ``--min-confidence``); ``skipped``: nothing written; ``failed``: see ``error``.

Format, bit depth, DPI, ICC profile, EXIF (with Orientation reset to 1), XMP and
text chunks are kept; JPEGs are re-encoded at the input's estimated quality.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from PIL import Image, ImageOps, PngImagePlugin, TiffImagePlugin

from rotbgr_core.geometry import CropMode, correct_image, decompose, normalize_angle, without_subpixel_residual
from rotbgr_core.imageio import (
    PDF_SUFFIXES,
    ImageReadError,
    InputItem,
    InputProblem,
    iter_items,
    load_full,
    to_rgb,
)
from rotbgr_core.jpeg_lossless import LosslessUnavailable, Turn, estimate_quality, transform_jpeg
from rotbgr_core.metadata import exif_orientation, patch_exif, patch_xmp, swap_dpi
from rotbgr_core.pdf_export import PageCorrection, PageOutcome, write_corrected_pdf
from rotbgr_core.predictor import Predictor
from rotbgr_core.progress import CancelToken, ProgressReporter
from rotbgr_core.types import Failure, ItemResult

#: JPEG/WebP quality when the input's cannot be estimated.
DEFAULT_QUALITY = 95
REPORT_NAME = "report.jsonl"
_TMP_SUFFIX = ".rotbgr-tmp"
_MAX_NAME_TRIES = 10_000


class Action(StrEnum):
    """What ``fix`` did to one item (the report's ``action``)."""

    ROTATED = "rotated"
    LOSSLESS = "lossless"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class FixOptions:
    """Options of ``rotbgr fix``; see the CLI help for their meaning."""

    output_dir: str
    crop: str | None = None
    min_confidence: float = 0.0
    below_confidence: str = "copy"
    suffix: str = "_rotated"
    quality: int | None = None
    out_format: str = "keep"
    batch_size: int = 8
    apply_exif: bool = False
    workers: int = 0  # export threads; 0: one per CPU (at most 4)


@dataclass(frozen=True)
class Decision:
    """What to do with one item: correct it, copy it, skip it, or report a failure."""

    item: InputItem
    angle: float | None = None
    mirrored: bool | None = None
    confidence: float | None = None
    kind: str = "unknown"
    mode: str = "correct"  # correct | copy | skip | failed
    review: bool = False
    error: str | None = None
    crop: str | None = None  # overrides FixOptions.crop and the kind's default
    output: str | None = None  # exact wished output path (else the layout decides)


@dataclass(frozen=True)
class ExportRecord:
    """The outcome for one item: one line of ``report.jsonl``."""

    path: str
    output: str | None
    action: str
    error: str | None = None
    angle: float | None = None
    mirrored: bool | None = None
    confidence: float | None = None
    kind: str | None = None
    crop: str | None = None
    review: bool = False
    quality: int | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the item did not fail."""
        return self.action != Action.FAILED

    def to_record(self) -> dict[str, Any]:
        """The report line: the ``predict`` fields, ``output`` and ``action``, then details."""
        return {
            "path": self.path,
            "angle": None if self.angle is None else round(self.angle, 3),
            "mirrored": self.mirrored,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "error": self.error,
            "output": self.output,
            "action": self.action,
            "kind": self.kind,
            "crop": self.crop,
            "review": self.review,
            "quality": self.quality,
            "note": self.note,
        }


class _WriteError(Exception):
    """The output could not be written (the message is the reason)."""


# --------------------------------------------------------------------------- naming


@dataclass(frozen=True)
class OutputLayout:
    """Where outputs go: ``OUTPUT/<sub-folders of a folder input>/<stem><suffix><ext>``."""

    output_dir: str
    suffix: str = "_rotated"
    roots: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def for_inputs(cls, output_dir: str, suffix: str, inputs: Iterable[str]) -> OutputLayout:
        """A layout that keeps the sub-folders of every folder among ``inputs``."""
        roots = tuple(raw for raw in inputs if Path(raw).is_dir())
        return cls(output_dir, suffix, roots)

    def folder_for(self, file: str) -> Path:
        """The output folder for an input file."""
        best: Path | None = None
        for root in self.roots:
            try:
                relative = Path(file).parent.relative_to(Path(root))
            except ValueError:
                continue
            if best is None or len(relative.parts) < len(best.parts):
                best = relative
        if best is None or any(part == ".." for part in best.parts):
            return Path(self.output_dir)
        return Path(self.output_dir) / best

    def name_for(self, file: str, ext: str) -> str:
        """The wished output file name (before avoiding existing names)."""
        return f"{Path(file).stem}{self.suffix}{ext}"

    def is_previous_output(self, file: str) -> bool:
        """Whether ``file`` lies in an output folder nested inside a folder input.

        ``rotbgr fix photos --output photos/fixed`` must not correct its own
        earlier outputs.  An output folder that *is* an input folder excludes
        nothing (every input would be in it).
        """
        try:
            output = Path(self.output_dir).resolve()
            path = Path(file).resolve()
            nested = any(output != Path(root).resolve() and output.is_relative_to(Path(root).resolve())
                         for root in self.roots)
        except OSError:
            return False
        return nested and path.is_relative_to(output)


def _candidates(name: str) -> Iterator[str]:
    stem, ext = os.path.splitext(name)  # noqa: PTH122 - keeps surrogate-escaped names intact
    yield name
    for number in range(1, _MAX_NAME_TRIES):
        yield f"{stem}-{number}{ext}"


def _same_file(a: Path, b: str) -> bool:
    try:
        return a.exists() and a.samefile(b)
    except OSError:
        return False
    return False


def _claim(temporary: Path, folder: Path, name: str, source: str | None) -> tuple[Path, str | None]:
    """Give a finished temporary file its final name without replacing any file.

    Returns:
        The final path and a note when the wished name was taken.
    """
    for candidate_name in _candidates(name):
        candidate = folder / candidate_name
        if source is not None and (_same_file(candidate, source) or
                                   os.path.abspath(candidate) == os.path.abspath(source)):  # noqa: PTH100
            raise _WriteError(f"the output {candidate} would be the input file itself; "
                              "choose another --output or --suffix")
        try:
            os.link(temporary, candidate)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
                raise
            if candidate.exists() or candidate.is_symlink():  # no hard links here: check, then rename
                continue
            temporary.replace(candidate)
        else:
            temporary.unlink()
        _fsync_folder(folder)
        note = None if candidate_name == name else f"{name} already exists; wrote {candidate_name}"
        return candidate, note
    raise _WriteError(f"no free output name like {name} in {folder}")


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def atomic_write(
    folder: Path, name: str, write: Callable[[IO[bytes]], None], source: str | None = None
) -> tuple[Path, str | None]:
    """Write a file via a temporary file in ``folder``, fsync, then a no-replace rename.

    Args:
        folder: destination folder (created if missing).
        name: wished file name; ``-1``, ``-2``... are added if it exists.
        write: writes the whole content to the open binary file.
        source: the input this output comes from: refused as a destination.

    Returns:
        The written path and a note if the name had to change.

    Raises:
        _WriteError: with a one-line reason; no file is left behind.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stem = os.path.splitext(name)[0]  # noqa: PTH122
        fd, temporary_name = tempfile.mkstemp(prefix=f".{stem[:80]}.", suffix=_TMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise _WriteError(f"cannot write in {folder}: {_reason(exc)}") from exc
    temporary = Path(temporary_name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        return _claim(temporary, folder, name, source)
    except OSError as exc:
        raise _WriteError(f"cannot write {folder / name}: {_reason(exc)}") from exc
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _write_bytes(handle: IO[bytes], data: bytes) -> None:
    """Write raw bytes (a seam for tests that simulate a full disk)."""
    handle.write(data)


# --------------------------------------------------------------------------- formats

_FORMAT_EXT = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp", "GIF": ".gif",
               "PDF": ".pdf"}
_FORMAT_SUFFIXES = {
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"}, "PNG": {".png"}, "TIFF": {".tif", ".tiff"},
    "WEBP": {".webp"}, "BMP": {".bmp"}, "GIF": {".gif"}, "PDF": {".pdf"},
}
_OPTION_FORMAT = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF", "webp": "WEBP"}
_LOSSLESS_FORMATS = {"PNG", "BMP", "GIF"}
_CCITT = {"group3", "group4", "tiff_ccitt"}


def _source_format(image: Image.Image) -> str:
    fmt = (image.format or "PNG").upper()
    return "JPEG" if fmt in ("MPO", "JPEG") else fmt if fmt in _FORMAT_EXT else "PNG"


def _extension(file: str, fmt: str) -> str:
    suffix = Path(file).suffix
    return suffix if suffix.lower() in _FORMAT_SUFFIXES.get(fmt, set()) else _FORMAT_EXT.get(fmt, ".png")


def _flatten(image: Image.Image) -> Image.Image:
    """Alpha laid on white, as RGB."""
    return to_rgb(image)


def _to_8bit_grey(image: Image.Image) -> Image.Image:
    import numpy as np

    array = np.asarray(image.convert("I"), dtype=np.int64)
    scale = 257 if array.max(initial=0) > 255 else 1
    return Image.fromarray(np.clip(array // scale, 0, 255).astype(np.uint8), "L")


def _convert_for(image: Image.Image, fmt: str) -> Image.Image:
    """The image in a mode ``fmt`` can store, with as little change as possible."""
    mode = image.mode
    has_alpha = "A" in mode or "a" in mode or (mode == "P" and "transparency" in image.info)
    if fmt == "JPEG":
        if mode in ("RGB", "L", "CMYK"):
            return image
        if mode == "1":
            return image.convert("L")
        if mode.startswith("I") or mode == "F":
            return _to_8bit_grey(image)
        return _flatten(image) if has_alpha else image.convert("RGB")
    if fmt == "WEBP":
        if mode in ("RGB", "RGBA"):
            return image
        if mode.startswith("I") or mode == "F":
            return _to_8bit_grey(image).convert("RGB")
        if mode == "CMYK":
            return to_rgb(image)
        return image.convert("RGBA" if has_alpha else "RGB")
    if fmt in ("PNG", "BMP", "GIF"):
        if mode == "CMYK":
            return to_rgb(image)
        if fmt == "PNG" and mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B", "I"):
            return image
        if fmt == "PNG" and mode in ("I;16L", "I;16N"):
            return image.convert("I;16")
        if fmt == "BMP" and mode in ("1", "L", "P", "RGB", "RGBA"):
            return image
        if fmt == "GIF" and mode in ("1", "L", "P"):
            return image
        if mode.startswith("I") or mode == "F":
            return _to_8bit_grey(image)
        return image.convert("RGBA" if has_alpha and fmt != "BMP" else "RGB") if mode != "RGBA" else image
    return image  # TIFF stores every Pillow mode


@dataclass
class _Source:
    """What is kept from an input image for its output."""

    fmt: str
    mode: str
    info: dict[str, Any]
    quality: int | None = None
    subsampling: int = -1
    webp_lossless: bool = False
    tiff_tags: dict[int, Any] = field(default_factory=dict)


_TIFF_TEXT_TAGS = (269, 270, 271, 272, 285, 305, 306, 315, 316, 33432)


def _describe(image: Image.Image, file: str) -> _Source:
    from PIL import JpegImagePlugin

    fmt = _source_format(image)
    source = _Source(fmt=fmt, mode=image.mode, info={str(k): v for k, v in image.info.items()})
    if fmt == "JPEG":
        source.quality = estimate_quality(getattr(image, "quantization", None))
        with contextlib.suppress(Exception):
            source.subsampling = int(JpegImagePlugin.get_sampling(image))
    elif fmt == "WEBP":
        with contextlib.suppress(OSError), open(file, "rb") as handle:  # noqa: PTH123
            head = handle.read(64)
            source.webp_lossless = b"VP8L" in head and b"VP8 " not in head
    elif fmt == "TIFF":
        tags = getattr(image, "tag_v2", None)
        if tags is not None:
            for tag in _TIFF_TEXT_TAGS:
                value = tags.get(tag)
                if isinstance(value, str) and value:
                    source.tiff_tags[tag] = value
            xmp = tags.get(700)
            if isinstance(xmp, bytes | bytearray) and xmp:
                source.tiff_tags[700] = patch_xmp(bytes(xmp))
    return source


def _save_options(
    image: Image.Image, source: _Source, fmt: str, quality: int | None, swapped: bool
) -> dict[str, Any]:
    """Pillow save arguments that keep the input's metadata and encoding."""
    info = source.info
    options: dict[str, Any] = {}
    icc = info.get("icc_profile")
    if icc and not (source.mode == "CMYK" and image.mode != "CMYK"):
        options["icc_profile"] = icc
    dpi = swap_dpi(info.get("dpi"), swapped)
    if dpi is not None and fmt in ("JPEG", "PNG", "TIFF", "BMP"):
        options["dpi"] = (round(float(dpi[0]), 4), round(float(dpi[1]), 4))
    exif = info.get("exif")
    if isinstance(exif, bytes | bytearray) and exif and fmt in ("JPEG", "PNG", "WEBP"):
        options["exif"] = patch_exif(bytes(exif), image.size, swapped)
    xmp = info.get("xmp")
    if isinstance(xmp, bytes | bytearray) and xmp and fmt in ("JPEG", "WEBP"):
        options["xmp"] = patch_xmp(bytes(xmp))
    if fmt == "JPEG":
        options["quality"] = quality or DEFAULT_QUALITY
        if source.fmt == "JPEG" and source.subsampling >= 0 and image.mode == "RGB":
            options["subsampling"] = source.subsampling
        if info.get("progressive") or info.get("progression"):
            options["progressive"] = True
        if info.get("comment"):
            options["comment"] = info["comment"]
    elif fmt == "WEBP":
        if source.webp_lossless and quality is None:
            options["lossless"] = True
        else:
            options["quality"] = quality or DEFAULT_QUALITY
    elif fmt == "PNG":
        text = {k: v for k, v in info.items() if isinstance(k, str) and isinstance(v, str)}
        if text:
            chunks = PngImagePlugin.PngInfo()
            for key, value in text.items():
                if key == "XML:com.adobe.xmp":
                    value = patch_xmp(value.encode("utf-8")).decode("utf-8")
                with contextlib.suppress(ValueError, UnicodeError):
                    chunks.add_itxt(key, value)
            options["pnginfo"] = chunks
        if "transparency" in info and image.mode == source.mode:
            options["transparency"] = info["transparency"]
    elif fmt == "TIFF":
        compression = str(info.get("compression", "tiff_lzw")) if source.fmt == "TIFF" else "tiff_lzw"
        if compression in _CCITT and image.mode != "1":
            compression = "tiff_lzw"
        if compression == "jpeg":
            if image.mode not in ("L", "RGB"):
                compression = "tiff_lzw"
            else:
                options["quality"] = quality or DEFAULT_QUALITY
        options["compression"] = compression
        if source.tiff_tags:
            tiffinfo = TiffImagePlugin.ImageFileDirectory_v2()
            for tag, value in source.tiff_tags.items():
                tiffinfo[tag] = value
            options["tiffinfo"] = tiffinfo
    return options


# --------------------------------------------------------------------------- one image


def _crop_for(decision: Decision | None, options: FixOptions) -> CropMode:
    if decision is not None and decision.crop:
        return CropMode(decision.crop)
    if options.crop:
        return CropMode(options.crop)
    return CropMode.INSCRIBED if decision is not None and decision.kind == "photo" else CropMode.EXPAND


def _destination(decision: Decision, layout: OutputLayout, fmt: str) -> tuple[Path, str]:
    """Output folder and wished file name for an item."""
    if decision.output:
        wished = Path(decision.output)
        return wished.parent, wished.name
    file = decision.item.file
    return layout.folder_for(file), layout.name_for(file, _extension(file, fmt))


def _record(decision: Decision, action: Action, output: Path | str | None = None, **extra: Any) -> ExportRecord:
    return ExportRecord(
        path=decision.item.display_path,
        output=None if output is None else str(output),
        action=action.value,
        angle=decision.angle,
        mirrored=decision.mirrored,
        confidence=decision.confidence,
        kind=decision.kind if decision.mode != "failed" else None,
        review=decision.review,
        **extra,
    )


def _join_notes(*notes: str | None) -> str | None:
    kept = [note for note in notes if note]
    return "; ".join(kept) if kept else None


def _target_format(source_fmt: str, options: FixOptions) -> str:
    return source_fmt if options.out_format == "keep" else _OPTION_FORMAT[options.out_format]


def _export_single(decision: Decision, options: FixOptions, layout: OutputLayout) -> ExportRecord:
    """Export one single-image item (not a page of a document)."""
    item = decision.item
    if decision.mode == "skip":
        return _record(decision, Action.SKIPPED, note="below --min-confidence: not written")
    image = load_full(item)
    try:
        source = _describe(image, item.file)
        fmt = _target_format(source.fmt, options)
        folder, name = _destination(decision, layout, fmt)
        if decision.mode == "copy":
            if fmt == source.fmt:
                return _copy_unchanged(decision, item, folder, name)
            return _export_pixels(decision, image, source, fmt, folder, name, Turn(), 0.0, False, options, None)
        angle, mirrored = float(decision.angle or 0.0), bool(decision.mirrored)
        snapped = without_subpixel_residual(angle, *image.size)
        snap_note = (f"a {abs(angle - snapped):.4f} deg rotation moves no pixel by half a pixel: not resampled"
                     if snapped != angle else None)
        angle = snapped
        exif_turn = Turn()
        if options.apply_exif:
            exif_turn = Turn.from_exif_orientation(exif_orientation(source.info.get("exif")))
        turn = Turn.from_correction(angle, mirrored)
        fallback_note = snap_note
        if fmt == "JPEG" and source.fmt == "JPEG" and turn is not None:
            total = exif_turn.then(turn)
            try:
                data = transform_jpeg(Path(item.file).read_bytes(), total)
            except LosslessUnavailable as why:
                fallback_note = _join_notes(snap_note, f"lossless JPEG turn impossible: {why}")
            else:
                path, note = atomic_write(folder, name, lambda handle: _write_bytes(handle, data), item.file)
                action = Action.UNCHANGED if total.is_identity else Action.LOSSLESS
                return _record(decision, action, path, quality=source.quality, note=_join_notes(snap_note, note))
        return _export_pixels(decision, image, source, fmt, folder, name, exif_turn, angle, mirrored, options,
                              fallback_note)
    finally:
        image.close()


def _copy_unchanged(decision: Decision, item: InputItem, folder: Path, name: str) -> ExportRecord:
    def copy(handle: IO[bytes]) -> None:
        with open(item.file, "rb") as source:  # noqa: PTH123
            shutil.copyfileobj(source, handle, 1 << 20)

    path, note = atomic_write(folder, name, copy, item.file)
    return _record(decision, Action.UNCHANGED, path, note=_join_notes(
        "below --min-confidence: copied unchanged" if decision.review else None, note))


def _export_pixels(
    decision: Decision,
    image: Image.Image,
    source: _Source,
    fmt: str,
    folder: Path,
    name: str,
    exif_turn: Turn,
    angle: float,
    mirrored: bool,
    options: FixOptions,
    fallback_note: str | None,
) -> ExportRecord:
    """Decode, correct, encode: the path for everything not done losslessly."""
    work = image if exif_turn.is_identity else ImageOps.exif_transpose(image)
    parts = decompose(normalize_angle(angle))
    crop = _crop_for(decision, options)
    identity = exif_turn.is_identity and not angle and not mirrored
    corrected = work if not (angle or mirrored) else correct_image(work, angle, mirrored, crop)
    converted = _convert_for(corrected, fmt)
    quality = options.quality or (source.quality if source.fmt == "JPEG" else None)
    swapped = exif_turn.swaps_axes != (parts.quarter_turns % 2 == 1)
    save_options = _save_options(converted, source, fmt, quality, swapped)

    def write(handle: IO[bytes]) -> None:
        converted.save(handle, format=fmt, **save_options)

    path, note = atomic_write(folder, name, write, decision.item.file)
    lossy_encoding = fmt == "JPEG" or (fmt == "WEBP" and not save_options.get("lossless")) or (
        fmt == "TIFF" and save_options.get("compression") == "jpeg")
    if identity:
        action = Action.UNCHANGED
    elif parts.is_exact and not lossy_encoding:
        action = Action.LOSSLESS
    else:
        action = Action.ROTATED
    recorded_quality = save_options.get("quality") if lossy_encoding else None
    notes = [fallback_note]
    if fallback_note:
        notes.append(f"re-encoded at quality {recorded_quality}")
    if decision.review and decision.mode == "copy":
        notes.append("below --min-confidence: copied unchanged")
    if source.fmt == "GIF" and getattr(image, "n_frames", 1) > 1:
        notes.append("animated GIF: only the first frame is written")
    notes.append(note)
    return _record(
        decision,
        action,
        path,
        crop=crop.value if not parts.is_exact else None,
        quality=recorded_quality,
        note=_join_notes(*notes),
    )


# --------------------------------------------------------------------------- documents


def _export_pdf(decisions: list[Decision], options: FixOptions, layout: OutputLayout) -> list[ExportRecord]:
    """Write one PDF for all the pages of one input PDF."""
    file = decisions[0].item.file
    corrections: dict[int, PageCorrection] = {}
    for decision in decisions:
        if decision.mode == "correct" and decision.item.page is not None:
            corrections[decision.item.page - 1] = PageCorrection(
                float(decision.angle or 0.0), bool(decision.mirrored), _crop_for(decision, options))
    if all(d.mode in ("skip", "failed") for d in decisions):
        return [_page_record(d, None, None) for d in decisions]
    outcomes: dict[int, PageOutcome] = {}

    def write(handle: IO[bytes]) -> None:
        outcomes.update(write_corrected_pdf(file, corrections, handle))

    folder, name = _destination(decisions[0], layout, "PDF")
    try:
        path, note = atomic_write(folder, name, write, file)
    except (ImageReadError, _WriteError) as exc:
        return [_failed(d, str(exc)) if d.mode != "failed" else _page_record(d, None, None) for d in decisions]
    format_note = None if options.out_format == "keep" else "a PDF stays a PDF (--format applies to images)"
    return [_page_record(d, path, outcomes.get((d.item.page or 1) - 1), note, format_note) for d in decisions]


def _page_record(
    decision: Decision, path: Path | None, outcome: PageOutcome | None, *notes: str | None
) -> ExportRecord:
    if decision.mode == "failed":
        kept = "page kept unchanged in the output document" if path is not None else None
        return replace(_failed(decision, decision.error or "failed"), note=_join_notes(kept, *notes))
    if decision.mode == "skip":
        if path is None:
            return _record(decision, Action.SKIPPED, note="below --min-confidence: not written")
        return _record(decision, Action.UNCHANGED, path, note=_join_notes(
            "below --min-confidence: page kept unchanged so the document keeps its pages", *notes))
    if decision.mode == "copy":
        return _record(decision, Action.UNCHANGED, path, note=_join_notes(
            "below --min-confidence: page kept unchanged", *notes))
    outcome = outcome or PageOutcome("unchanged")
    return _record(decision, Action(outcome.action), path, crop=outcome.crop,
                   note=_join_notes(outcome.note, *notes))


def _export_tiff_pages(decisions: list[Decision], options: FixOptions, layout: OutputLayout) -> list[ExportRecord]:
    """Write one multi-page TIFF for the pages of one input TIFF."""
    file = decisions[0].item.file
    by_page = {d.item.page: d for d in decisions}
    page_count = decisions[0].item.page_count
    if all(d.mode in ("skip", "failed") for d in decisions):
        return [_page_record(d, None, None) for d in decisions]
    outcomes: dict[int, tuple[Action, str | None, str | None]] = {}

    def write(handle: IO[bytes]) -> None:
        with TiffImagePlugin.AppendingTiffWriter(handle, new=True) as tiff:
            for page in range(1, page_count + 1):
                decision = by_page.get(page)
                try:
                    image = load_full(InputItem(file, page, page_count))
                except ImageReadError as exc:
                    outcomes[page] = (Action.FAILED, None, f"page left out: {exc}")
                    continue
                try:
                    source = _describe(image, file)
                    correct = decision is not None and decision.mode == "correct"
                    angle = float(decision.angle or 0.0) if correct and decision else 0.0
                    angle = without_subpixel_residual(angle, *image.size)
                    mirrored = bool(decision.mirrored) if correct and decision else False
                    crop = _crop_for(decision, options)
                    corrected = correct_image(image, angle, mirrored, crop) if (angle or mirrored) else image
                    parts = decompose(normalize_angle(angle))
                    swapped = parts.quarter_turns % 2 == 1
                    save_options = _save_options(corrected, source, "TIFF", options.quality, swapped)
                    corrected.save(tiff, format="TIFF", **save_options)
                    tiff.newFrame()
                finally:
                    image.close()
                lossy = save_options.get("compression") == "jpeg"
                if not (angle or mirrored):
                    outcomes[page] = (Action.UNCHANGED, None, None)
                elif parts.is_exact and not lossy:
                    outcomes[page] = (Action.LOSSLESS, None, None)
                else:
                    outcomes[page] = (Action.ROTATED, None if parts.is_exact else crop.value, None)

    folder, name = _destination(decisions[0], layout, "TIFF")
    try:
        path, note = atomic_write(folder, name, write, file)
    except (ImageReadError, _WriteError) as exc:
        return [_failed(d, str(exc)) if d.mode != "failed" else _page_record(d, None, None) for d in decisions]
    format_note = None if options.out_format in ("keep", "tiff") else "a multi-page TIFF stays a TIFF"
    records = []
    for decision in decisions:
        action, crop, page_note = outcomes.get(decision.item.page or 1, (Action.FAILED, None, None))
        if decision.mode == "failed" or action is Action.FAILED:
            failed = _failed(decision, decision.error or page_note or "failed")
            records.append(replace(failed, note=_join_notes("page left out of the output document", note)))
        elif decision.mode != "correct":
            records.append(_page_record(decision, path, None, note, format_note))
        else:
            records.append(_record(decision, action, path, crop=crop, note=_join_notes(page_note, note, format_note)))
    return records


# --------------------------------------------------------------------------- streams


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _failed(decision: Decision, error: str) -> ExportRecord:
    return ExportRecord(
        path=decision.item.display_path,
        output=None,
        action=Action.FAILED.value,
        error=_one_line(error),
        angle=decision.angle,
        mirrored=decision.mirrored,
        confidence=decision.confidence,
        kind=None,
        review=decision.review,
    )


def _guarded(run: Callable[[], list[ExportRecord]], decisions: list[Decision]) -> list[ExportRecord]:
    """Run an export, turning any error into failed records for its items."""
    try:
        return run()
    except (ImageReadError, _WriteError) as exc:
        reason = str(exc)
    except OSError as exc:
        reason = f"cannot write output: {_reason(exc)}"
    except MemoryError:
        reason = "not enough memory to correct this image"
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        reason = f"export failed: {type(exc).__name__}: {exc}"
    return [_failed(d, d.error or reason) for d in decisions]


def _export_group(decisions: list[Decision], options: FixOptions, layout: OutputLayout) -> list[ExportRecord]:
    first = decisions[0].item
    if first.page is None:
        (decision,) = decisions
        if decision.mode == "failed":
            return [_failed(decision, decision.error or "failed")]
        return _guarded(lambda: [_export_single(decision, options, layout)], decisions)
    if Path(first.file).suffix.lower() in PDF_SUFFIXES:
        return _guarded(lambda: _export_pdf(decisions, options, layout), decisions)
    return _guarded(lambda: _export_tiff_pages(decisions, options, layout), decisions)


def _groups(decisions: Iterable[Decision], cancel: CancelToken | None) -> Iterator[list[Decision]]:
    """Decisions grouped per output file: one item, or the pages of one document."""
    group: list[Decision] = []
    for decision in decisions:
        if cancel is not None and cancel.is_cancelled():
            return
        item = decision.item
        if group and (item.page is None or item.file != group[0].item.file):
            yield group
            group = []
        group.append(decision)
        if item.page is None or item.page >= item.page_count:
            yield group
            group = []
    if group and not (cancel is not None and cancel.is_cancelled()):
        yield group


def default_workers() -> int:
    """Export threads: one per CPU, at most 4 (each holds a full-size image)."""
    return max(1, min(4, os.cpu_count() or 1))


def export_decisions(
    decisions: Iterable[Decision],
    options: FixOptions,
    layout: OutputLayout | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[ExportRecord]:
    """Export decisions in order, one record per decision.

    Consecutive pages of one PDF or multi-page TIFF go into one output
    document (pages without a decision are kept unchanged in it).  Files are
    written by ``options.workers`` threads (Pillow and libjpeg-turbo release
    the GIL), with at most that many images in flight; records still come in
    input order.  Cancelling stops before the next item; outputs already being
    written are finished and reported.
    """
    layout = layout or OutputLayout(options.output_dir, options.suffix)
    workers = options.workers or default_workers()
    groups = _groups(decisions, cancel)
    if workers <= 1:
        for group in groups:
            yield from _export_group(group, options, layout)
        return
    pending: deque[Future[list[ExportRecord]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rotbgr-export") as pool:
        try:
            for group in groups:
                pending.append(pool.submit(_export_group, group, options, layout))
                while len(pending) > workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def export_item(
    item: InputItem,
    angle: float,
    mirrored: bool,
    options: FixOptions,
    kind: str = "unknown",
    layout: OutputLayout | None = None,
    *,
    output: str | Path | None = None,
    crop: str | None = None,
) -> ExportRecord:
    """Write one corrected item (the app's manual export).

    Args:
        item: the input item.
        angle: the correction, in the SPEC's convention.
        mirrored: whether a left-right mirror follows the turn.
        options: output folder, suffix, format, quality...
        kind: ``"photo"`` or ``"document"``: picks the default crop.
        layout: naming rules (default: flat in ``options.output_dir``).
        output: an exact output path instead (still never replaces a file: a
            taken name gets ``-1``... and the record's note says so).
        crop: ``inscribed``, ``expand`` or ``none``, overriding the default.

    A page of a document gives the whole document with that page corrected;
    to correct several pages of one document, pass them together to
    :func:`export_decisions`.
    """
    decision = Decision(item=item, angle=angle, mirrored=mirrored, kind=kind, crop=crop,
                        output=None if output is None else str(output))
    (record,) = list(export_decisions([decision], options, layout))
    return record


def decide(entry: InputItem | InputProblem, result: ItemResult, options: FixOptions) -> Decision:
    """Turn a prediction (or failure) into what ``fix`` does with the item."""
    if isinstance(entry, InputProblem) or isinstance(result, Failure):
        item = entry if isinstance(entry, InputItem) else InputItem(entry.path)
        error = result.error if isinstance(result, Failure) else entry.error  # type: ignore[union-attr]
        return Decision(item=item, mode="failed", error=error)
    review = options.min_confidence > 0 and result.confidence < options.min_confidence
    mode = ("skip" if options.below_confidence == "skip" else "copy") if review else "correct"
    return Decision(
        item=entry,
        angle=result.angle,
        mirrored=result.mirrored,
        confidence=result.confidence,
        kind=result.kind,
        mode=mode,
        review=review,
    )


def iter_fix(
    inputs: Sequence[str],
    predictor: Predictor,
    options: FixOptions,
    progress: ProgressReporter | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[ExportRecord]:
    """Predict every input and write its corrected copy; one record per item, in order."""
    from rotbgr_core.pipeline import predict_items

    layout = OutputLayout.for_inputs(options.output_dir, options.suffix, inputs)
    items = [entry for entry in iter_items(inputs)
             if isinstance(entry, InputProblem) or not layout.is_previous_output(entry.file)]
    results = predict_items(items, predictor, options.batch_size, options.apply_exif, progress, cancel,
                            total=len(items))
    decisions = (decide(entry, result, options) for entry, result in zip(items, results, strict=False))
    yield from export_decisions(decisions, options, layout, cancel)


def _printable(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def fix_inputs(
    inputs: Sequence[str],
    predictor: Predictor,
    options: FixOptions,
    progress: ProgressReporter | None = None,
    log: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> int:
    """Predict, write corrected copies and ``report.jsonl``; returns the SPEC's exit status."""
    emit = log or (lambda _message: None)
    folder = Path(options.output_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, report_tmp = tempfile.mkstemp(prefix=".report.", suffix=_TMP_SUFFIX, dir=folder)
    except OSError as exc:
        emit(f"rotbgr: error: cannot write in output folder {_printable(str(folder))}: {_reason(exc)}")
        return 1
    counts: dict[str, int] = {}
    finished = False
    report_path: Path | None = None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as report:
            for record in iter_fix(inputs, predictor, options, progress, cancel):
                report.write(json.dumps(record.to_record()) + "\n")
                report.flush()
                counts[record.action] = counts.get(record.action, 0) + 1
                if not record.ok:
                    emit(f"rotbgr: {_printable(record.path)}: {record.error}")
                elif record.note and "already exists" in record.note:
                    emit(f"rotbgr: note: {_printable(record.path)}: {record.note}")
            report.flush()
            os.fsync(report.fileno())
        finished = True
    finally:
        try:
            # Even an interrupted run leaves a report of what it did write.  The newest report is
            # always report.jsonl (the SPEC's name); an earlier run's report is kept beside it.
            previous = folder / REPORT_NAME
            if previous.is_file() and not previous.is_symlink():
                kept, _ = _claim(previous, folder, "report-previous.jsonl", None)
                emit(f"rotbgr: note: the previous report was kept as {_printable(str(kept))}")
            report_path, note = _claim(Path(report_tmp), folder, REPORT_NAME, None)
        except (OSError, _WriteError) as exc:
            emit(f"rotbgr: error: cannot write the report in {_printable(str(folder))}: {exc}")
            with contextlib.suppress(OSError):
                Path(report_tmp).unlink()
            counts[Action.FAILED] = counts.get(Action.FAILED, 0) + 1
        else:
            if note:
                emit(f"rotbgr: note: {note}")
    total = sum(counts.values())
    summary = ", ".join(f"{counts[a]} {a}" for a in Action if counts.get(a))
    where = f"; report: {_printable(str(report_path))}" if report_path is not None else ""
    emit(f"rotbgr: {total} item(s): {summary or 'nothing to do'}{where}" if finished else "rotbgr: interrupted")
    return 1 if counts.get(Action.FAILED) else 0

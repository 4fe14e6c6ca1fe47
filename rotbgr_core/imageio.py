"""Finding input items and decoding them, safely, for prediction and export.

An *item* is one image to predict: a file, or one page of a PDF or a
multi-page TIFF (shown as ``FILE#page=N``, N from 1).  Every failure becomes an
:class:`ImageReadError` with a one-line reason that names no Python internals.
"""

from __future__ import annotations

import glob
import io
import os
import re
import threading
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

#: Suffixes searched for in folders (lower case).
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"}
)
PDF_SUFFIXES = frozenset({".pdf"})
SUPPORTED_SUFFIXES = IMAGE_SUFFIXES | PDF_SUFFIXES

#: Images above this many pixels are refused (a decompression-bomb guard).
MAX_PIXELS = 300_000_000
#: Long side of the image handed to predictors.
PREDICTION_SIZE = 1024
#: ``Image.info`` key that :func:`load_for_prediction` sets on images decoded from 1-bit (bitonal) files.
BITONAL_KEY = "rotbgr.bitonal"
#: ``Image.info`` key of the grey copy, long side at most :data:`DETAIL_SIZE`, that :func:`load_for_prediction`
#: keeps of a large losslessly coded image (a uint8 array). A full-screen screenshot shrunk to the prediction size
#: has labels 5-7 px high, too small for the glyph network (:mod:`rotbgr_core.glyphs`), which reads them here.
DETAIL_KEY = "rotbgr.detail"
DETAIL_SIZE = 2048

#: PDFium is not thread-safe, not even across documents: every use holds this lock.
PDFIUM_LOCK = threading.RLock()

Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Our own check (in _open_image) refuses what Pillow would only warn about; a
# process-wide filter is thread-safe where catch_warnings() is not.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageReadError(Exception):
    """An input that cannot be read, with a short human reason."""


@dataclass(frozen=True)
class InputItem:
    """One image to process: a file, or a page (1-based) of a paged file."""

    file: str
    page: int | None = None
    page_count: int = 1

    @property
    def display_path(self) -> str:
        """The path as the SPEC writes it: ``FILE`` or ``FILE#page=N``."""
        return self.file if self.page is None else f"{self.file}#page={self.page}"

    @property
    def is_pdf(self) -> bool:
        """Whether the item is a PDF page."""
        return Path(self.file).suffix.lower() in PDF_SUFFIXES


@dataclass(frozen=True)
class InputProblem:
    """An input argument that yields no item (missing path, unreadable file)."""

    path: str
    error: str


def is_supported(path: str) -> bool:
    """Whether a file name has a supported suffix."""
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def _walk_folder(folder: str, seen: set[tuple[int, int]] | None = None) -> Iterator[str]:
    """Supported files under ``folder``, recursively, in a stable sorted order.

    Linked folders are followed, but no folder is listed twice: a link back up the tree (a cycle) or a second
    link to the same folder adds nothing.
    """
    seen = set() if seen is None else seen
    try:
        status = Path(folder).stat()
        if (status.st_dev, status.st_ino) in seen:
            return
        seen.add((status.st_dev, status.st_ino))
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        raise ImageReadError(f"cannot list folder: {exc.strerror or exc}") from exc
    subfolders: list[str] = []
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=True):
                subfolders.append(entry.path)
            elif entry.is_file(follow_symlinks=True) and is_supported(entry.name):
                yield entry.path
        except OSError:
            continue
    for sub in subfolders:
        try:
            yield from _walk_folder(sub, seen)
        except ImageReadError:
            continue


def expand_inputs(inputs: Iterable[str]) -> Iterator[str | InputProblem]:
    """Turn command-line inputs (files, folders, globs) into file paths.

    Paths are kept exactly as given (folder children are joined onto the given
    folder), so non-UTF-8 bytes survive as surrogate escapes.
    """
    for raw in inputs:
        if Path(raw).is_dir():
            try:
                yield from _walk_folder(raw)
            except ImageReadError as exc:
                yield InputProblem(raw, str(exc))
        elif os.path.lexists(raw):
            yield raw
        elif glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=True))  # noqa: PTH207 - absolute patterns
            if not matches:
                yield InputProblem(raw, "no file matches this pattern")
            for match in matches:
                if Path(match).is_dir():
                    yield from _walk_folder(match)
                elif is_supported(match):
                    yield match
        else:
            yield InputProblem(raw, "no such file or folder")


def count_pages(path: str) -> int:
    """Number of pages in a PDF or TIFF (1 for other images)."""
    suffix = Path(path).suffix.lower()
    if suffix in PDF_SUFFIXES:
        import pypdfium2 as pdfium

        with PDFIUM_LOCK:
            try:
                document = pdfium.PdfDocument(path)
            except Exception as exc:  # pypdfium2 raises its own PdfiumError
                raise ImageReadError(f"cannot open PDF: {_short(exc)}") from exc
            try:
                return len(document)
            finally:
                document.close()
    if suffix in (".tif", ".tiff"):
        with _open_image(path) as image:
            return int(getattr(image, "n_frames", 1))
    return 1


def iter_items(inputs: Iterable[str]) -> Iterator[InputItem | InputProblem]:
    """Items for the inputs, in order: one per image, one per PDF/TIFF page."""
    for entry in expand_inputs(inputs):
        if isinstance(entry, InputProblem):
            yield entry
            continue
        suffix = Path(entry).suffix.lower()
        if suffix in PDF_SUFFIXES or suffix in (".tif", ".tiff"):
            try:
                pages = count_pages(entry)
            except ImageReadError as exc:
                yield InputProblem(entry, str(exc))
                continue
            if suffix in PDF_SUFFIXES or pages > 1:
                if pages == 0:
                    yield InputProblem(entry, "the PDF has no pages")
                for page in range(1, pages + 1):
                    yield InputItem(entry, page, pages)
                continue
        yield InputItem(entry)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"%PDF", "PDF"),
)


def _unidentified(path: str) -> str:
    """Why Pillow could not identify a file: corrupt image, text, or other data."""
    try:
        with open(path, "rb") as handle:  # noqa: PTH123
            head = handle.read(512)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return f"corrupt {name} file (its header cannot be read)"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "corrupt WebP file (its header cannot be read)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "not an image (unrecognised data)"
    return "not an image (the file contains text)"


def _too_large(exc: Exception) -> str:
    match = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = f"{int(match.group(1)):,} pixels" if match else "too many pixels"
    return f"image too large to process safely ({pixels}; the limit is {MAX_PIXELS:,})"


def _open_image(path: str) -> Image.Image:
    """Open an image file lazily, mapping every failure to a clear reason."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise ImageReadError(f"cannot read file: {exc.strerror or exc}") from exc
    if Path(path).is_dir():
        raise ImageReadError("is a folder, not an image file")
    if size == 0:
        raise ImageReadError("empty file (0 bytes)")
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageReadError(_too_large(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(_unidentified(path)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"cannot read image: {_short(exc)}") from exc
    if image.width * image.height > MAX_PIXELS:
        image.close()
        raise ImageReadError(
            f"image too large to process safely ({image.width}x{image.height} pixels; the limit is {MAX_PIXELS:,})"
        )
    return image


def _load(image: Image.Image) -> None:
    """Decode pixel data, mapping decoder failures to clear reasons."""
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, zlib.error, EOFError) as exc:
        message = _short(exc)
        if "truncated" in message.lower():
            raise ImageReadError("truncated image data (file is incomplete)") from exc
        if "crc" in message.lower():
            raise ImageReadError("corrupt image data (bad checksum)") from exc
        raise ImageReadError(f"corrupt image data: {message}") from exc
    except MemoryError as exc:
        raise ImageReadError("not enough memory to decode this image") from exc


def to_rgb(image: Image.Image) -> Image.Image:
    """Normalise any Pillow mode to 8-bit sRGB-ish RGB for prediction.

    CMYK uses its embedded ICC profile when present; transparency is laid on
    white; 16-bit and float images are scaled by their range.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "CMYK":
        icc = image.info.get("icc_profile")
        if icc:
            try:
                source = ImageCms.ImageCmsProfile(_bytes_io(icc))
                target = ImageCms.createProfile("sRGB")
                converted = ImageCms.profileToProfile(image, source, target, outputMode="RGB")
                if converted is not None:
                    return converted
            except (ImageCms.PyCMSError, OSError, ValueError):
                pass
        return image.convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        import numpy as np

        array = np.asarray(image.convert("F") if mode != "F" else image, dtype=np.float32)
        low, high = float(np.percentile(array, 0.5)), float(np.percentile(array, 99.5))
        if high <= low:
            high = low + 1.0
        scaled = np.clip((array - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, "L").convert("RGB")
    return image.convert("RGB")


def _bytes_io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def _render_pdf_page(path: str, page: int, long_side: int | None, dpi: float | None) -> Image.Image:
    with PDFIUM_LOCK:
        return _render_pdf_page_unlocked(path, page, long_side, dpi)


def _render_pdf_page_unlocked(path: str, page: int, long_side: int | None, dpi: float | None) -> Image.Image:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path)
    except Exception as exc:
        raise ImageReadError(f"cannot open PDF: {_short(exc)}") from exc
    try:
        pdf_page = document[page - 1]
        width, height = pdf_page.get_size()  # points
        if long_side is not None:
            scale = long_side / max(width, height, 1.0)
        else:
            scale = (dpi or 150.0) / 72.0
        bitmap = pdf_page.render(scale=scale, draw_annots=True)
        rendered: Image.Image = bitmap.to_pil().convert("RGB")
        return rendered
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(f"cannot render PDF page {page}: {_short(exc)}") from exc
    finally:
        document.close()


def fitted_size(width: int, height: int, side: int) -> tuple[int, int]:
    """The size with long side ``side`` and the aspect ratio of ``width x height``.

    The short side is rounded down or up, whichever keeps the ratio closer, as
    Pillow's ``Image.thumbnail`` does (the models were fitted on its sizes).
    """
    if width >= height:
        low = max(1, height * side // width)
        options = [(side, low), (side, low + 1)]
    else:
        low = max(1, width * side // height)
        options = [(low, side), (low + 1, side)]
    return min(options, key=lambda size: abs(width / height - size[0] / size[1]))


#: Whether RGB reductions use torch (:func:`use_torch_reduction`); Pillow until then.
_TORCH_REDUCTION = False


def use_torch_reduction() -> None:
    """Reduce RGB inputs with torch from now on: called by the learned predictor once torch is fully imported.

    An explicit switch, not "torch is in ``sys.modules``": while one thread is still importing torch (the app loads
    its model in a worker while its thumbnail workers decode), another that used the half-imported module broke that
    import ("partially initialized module 'torch.nn.parameter'") and the model failed to load.
    """
    global _TORCH_REDUCTION
    _TORCH_REDUCTION = True


def reduce_bilinear(image: Image.Image, side: int) -> Image.Image:
    """Shrink so that the long side is ``side``: Pillow's antialiased bilinear filter, faster for RGB.

    For RGB, once a learned predictor is loaded (:func:`use_torch_reduction`), torch's antialiased bilinear
    interpolation computes the same filter (values differ by at most 1 on about 0.1% of the pixels) three to four
    times faster than Pillow (4 vs 18 ms for 2 megapixels). Other modes, and runs without torch (the classical
    estimator keeps its start-up free of it), use Pillow.
    """
    size = fitted_size(image.width, image.height, side)
    if image.mode != "RGB" or not _TORCH_REDUCTION:
        return image.resize(size, Image.Resampling.BILINEAR)
    import numpy as np
    import torch

    # (``np.asarray(...).copy()`` is three times faster than ``np.array(image)``; the copy makes it writable.)
    pixels = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).unsqueeze(0)
    with torch.inference_mode():
        reduced = torch.nn.functional.interpolate(pixels, size=(size[1], size[0]), mode="bilinear", antialias=True)
    # The result is planar: merging its three planes is ten times faster than interleaving them with numpy.
    return Image.merge("RGB", [Image.fromarray(plane) for plane in reduced[0].numpy()])


def load_for_prediction(
    item: InputItem | str, max_side: int = PREDICTION_SIZE, apply_exif: bool = False
) -> Image.Image:
    """Decode an item as RGB with its long side at most ``max_side`` pixels.

    JPEGs decode at reduced size in the DCT domain (draft mode) and large images
    are reduced right after decoding, so full-size pixels are never kept around.
    EXIF orientation is ignored unless ``apply_exif`` is set (SPEC section 2).
    Images from 1-bit files carry ``info[BITONAL_KEY]`` (the predictor reads
    them as pages, see :mod:`rotbgr_core.learned`).
    """
    if isinstance(item, str):
        item = InputItem(item)
    if item.is_pdf:
        return _render_pdf_page(item.file, item.page or 1, max_side, None)
    opened = _open_image(item.file)
    try:
        image = opened
        if item.page is not None:
            try:
                image.seek(item.page - 1)
            except EOFError as exc:
                raise ImageReadError(f"page {item.page} does not exist") from exc
        if image.format == "JPEG" and image.mode in ("RGB", "L", "CMYK"):
            image.draft(image.mode, (max_side, max_side))
        _load(image)
        if apply_exif:
            image = ImageOps.exif_transpose(image)
        bitonal = image.mode == "1"
        # JPEG's losses and draft decoding leave no flat fills to read fine labels in (a screenshot is lossless).
        detail = (_grey_detail(image) if image.format != "JPEG" and not bitonal and max(image.size) > max_side
                  else None)
        if max(image.size) > max_side:
            factor = max(image.size) / max_side
            if factor >= 2 and image.mode not in ("P", "1"):
                image = image.reduce(int(factor))
            if image.mode in ("1", "P"):
                image = to_rgb(image)
            image = reduce_bilinear(image, max_side)
        rgb = to_rgb(image)
        if bitonal:
            rgb.info[BITONAL_KEY] = True
        if detail is not None:
            rgb.info[DETAIL_KEY] = detail
        # ``rgb`` may be the opened image itself: hand back an independent copy,
        # because closing the file below invalidates the opened image.
        return rgb.copy() if rgb is opened else rgb
    finally:
        opened.close()


def _grey_detail(image: Image.Image) -> NDArray[np.uint8]:
    """A decoded image in grey, its long side at most :data:`DETAIL_SIZE` (area-averaged), as an array."""
    import numpy as np

    grey = to_rgb(image).convert("L") if image.mode not in ("L", "RGB") else image.convert("L")
    if max(grey.size) > DETAIL_SIZE:
        factor = DETAIL_SIZE / max(grey.size)
        grey = grey.resize((max(1, round(grey.width * factor)), max(1, round(grey.height * factor))),
                           Image.Resampling.BOX)
    return np.asarray(grey)


def load_full(item: InputItem | str, pdf_dpi: float | None = None) -> Image.Image:
    """Decode an item at full resolution, in its own mode (for export).

    PDF pages are rendered at ``pdf_dpi`` (default: the page's own image
    resolution when it has one, else 300 dpi).
    """
    if isinstance(item, str):
        item = InputItem(item)
    if item.is_pdf:
        return _render_pdf_page(item.file, item.page or 1, None, pdf_dpi or 300.0)
    image = _open_image(item.file)
    if item.page is not None:
        try:
            image.seek(item.page - 1)
        except EOFError as exc:
            raise ImageReadError(f"page {item.page} does not exist") from exc
    _load(image)
    return image

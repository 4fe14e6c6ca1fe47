"""Correcting PDF pages without re-rendering them.

A page that only needs a quarter turn gets a new ``/Rotate`` value: nothing
else changes (text, vectors, images, links and annotations are all kept).  Any
other correction (a mirror, or a skew) places the page, as a form XObject, on a
new page through a transformation matrix: the page's images are not resampled
and its text stays text, so the output keeps the input's full resolution.
Annotations of such a page are not carried over (the report says so).

Angles follow the SPEC on the page *as displayed* (after its own ``/Rotate``),
which is what the predictor saw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from rotbgr_core.geometry import CropMode, border_colour, decompose, inscribed_size, normalize_angle
from rotbgr_core.imageio import PDFIUM_LOCK, ImageReadError

#: Border colours at least this light on every channel need no fill (the page is white).
_WHITE_ENOUGH = 250


@dataclass(frozen=True)
class PageCorrection:
    """What to do to one page (0-based ``index``)."""

    angle: float
    mirrored: bool
    crop: CropMode


@dataclass(frozen=True)
class PageOutcome:
    """What was done to one page."""

    action: str
    crop: str | None = None
    note: str | None = None


def _open(path: str) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(path)
    except Exception as exc:  # pypdfium2 raises its own PdfiumError
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "password" in text.lower():
            raise ImageReadError("the PDF is password-protected") from exc
        raise ImageReadError(f"cannot open PDF: {text[:200]}") from exc


def _background(page: Any) -> tuple[int, int, int] | None:
    """The page's border colour, or ``None`` when it is white anyway."""
    width, height = page.get_size()
    scale = 256.0 / max(width, height, 1.0)
    image = page.render(scale=scale).to_pil().convert("RGB")
    colour = border_colour(image)
    if not isinstance(colour, tuple) or len(colour) < 3:
        return None
    rgb = (int(colour[0]), int(colour[1]), int(colour[2]))
    return None if min(rgb) >= _WHITE_ENOUGH else rgb


def _target_size(width: float, height: float, correction: PageCorrection) -> tuple[float, float]:
    """The new page size in points for a correction and crop mode."""
    parts = decompose(normalize_angle(correction.angle))
    turned_w, turned_h = (height, width) if parts.quarter_turns % 2 else (width, height)
    if parts.is_exact or correction.crop is CropMode.NONE:
        return turned_w, turned_h
    if correction.crop is CropMode.INSCRIBED:
        # inscribed_size works in whole pixels: use a fine grid (1/64 pt) for points.
        box_w, box_h = inscribed_size(round(turned_w * 64), round(turned_h * 64), parts.residual)
        return box_w / 64.0, box_h / 64.0
    theta = math.radians(correction.angle)
    cos_t, sin_t = abs(math.cos(theta)), abs(math.sin(theta))
    return width * cos_t + height * sin_t, width * sin_t + height * cos_t


def _transform_page(document: Any, index: int, correction: PageCorrection) -> PageOutcome:
    """Replace page ``index`` by a new page showing it corrected."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    page = document[index]
    width, height = page.get_size()
    annotations = int(pdfium_c.FPDFPage_GetAnnotCount(page.raw))
    new_w, new_h = _target_size(width, height, correction)
    parts = decompose(normalize_angle(correction.angle))
    fill = None if parts.is_exact or correction.crop is CropMode.INSCRIBED else _background(page)
    matrix = (
        pdfium.PdfMatrix()
        .translate(-width / 2.0, -height / 2.0)
        .rotate(correction.angle, ccw=True)
        .mirror(correction.mirrored, False)
        .translate(new_w / 2.0, new_h / 2.0)
    )
    content = document.page_as_xobject(index, document).as_pageobject()
    new_page = document.new_page(new_w, new_h, index=index)
    if fill is not None:
        rect = pdfium_c.FPDFPageObj_CreateNewRect(0, 0, new_w, new_h)
        pdfium_c.FPDFPageObj_SetFillColor(rect, fill[0], fill[1], fill[2], 255)
        pdfium_c.FPDFPath_SetDrawMode(rect, pdfium_c.FPDF_FILLMODE_ALTERNATE, 0)
        pdfium_c.FPDFPage_InsertObject(new_page.raw, rect)
    content.transform(matrix)
    new_page.insert_obj(content)
    new_page.gen_content()
    document.del_page(index + 1)
    notes = ["page placed through a transformation matrix: its content is not resampled"]
    if annotations:
        notes.append(f"{annotations} annotation(s) of this page were not kept")
    if parts.is_exact:
        return PageOutcome("lossless", None, "; ".join(notes))
    return PageOutcome("rotated", correction.crop.value, "; ".join(notes))


def write_corrected_pdf(
    source: str, corrections: Mapping[int, PageCorrection], out: IO[bytes]
) -> dict[int, PageOutcome]:
    """Write ``source`` with the given pages (0-based) corrected to ``out``.

    Pages without a correction are kept as they are, so the page count never
    changes.

    Raises:
        ImageReadError: if the PDF cannot be opened or a page cannot be changed.
    """
    with PDFIUM_LOCK:
        return _write_corrected_pdf(source, corrections, out)


def _write_corrected_pdf(
    source: str, corrections: Mapping[int, PageCorrection], out: IO[bytes]
) -> dict[int, PageOutcome]:
    document = _open(source)
    outcomes: dict[int, PageOutcome] = {}
    try:
        count = len(document)
        for index, correction in sorted(corrections.items()):
            if not 0 <= index < count:
                raise ImageReadError(f"page {index + 1} does not exist")
            parts = decompose(normalize_angle(correction.angle))
            try:
                if parts.is_exact and not correction.mirrored:
                    if parts.quarter_turns:
                        page = document[index]
                        clockwise = (page.get_rotation() - 90 * parts.quarter_turns) % 360
                        page.set_rotation(clockwise)
                        outcomes[index] = PageOutcome("lossless", None, "page /Rotate changed; content untouched")
                    else:
                        outcomes[index] = PageOutcome("unchanged")
                else:
                    outcomes[index] = _transform_page(document, index, correction)
            except ImageReadError:
                raise
            except Exception as exc:  # pypdfium2 raises its own PdfiumError
                raise ImageReadError(f"cannot change PDF page {index + 1}: {exc}") from exc
        try:
            document.save(out)
        except Exception as exc:
            if isinstance(exc, OSError):
                raise
            raise ImageReadError(f"cannot write PDF: {exc}") from exc
    finally:
        document.close()
    return outcomes


def page_count(source: str) -> int:
    """Number of pages of a PDF.

    Raises:
        ImageReadError: if it cannot be opened.
    """
    with PDFIUM_LOCK:
        document = _open(source)
        try:
            return len(document)
        finally:
            document.close()

"""Orientation from single glyphs, for pages with too little running text for the text windows.

A page that is mostly a figure (a plot with digits on its axes, a diagram with a few labels, a sheet of large
characters) has no text lines for :mod:`rotbgr_core.docorient`'s windows, yet its scattered glyphs still show
which way is up.  The glyph-sized ink components of the deskewed page are cut out one by one, each scaled to
fit a :data:`GLYPH` square with its aspect ratio kept, and a tiny CNN (:class:`GlyphNet`) scores each over the
same eight corrections as the windows (class ``2 * quarter_turns + mirrored``, see
:func:`rotbgr_core.docorient.class_of`).  The page's glyph verdict sums the glyphs' log-probabilities.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from rotbgr_core.docorient import normalise_patches, vertical_flip_of
from rotbgr_core.learned_net import fold_batchnorm
from rotbgr_core.skew import shrunk_gray

#: Side of a glyph crop, in pixels; the glyph's longer side is scaled to :data:`GLYPH_FILL`.
GLYPH = 32
GLYPH_FILL = 26
NUM_CLASSES = 8
#: The most glyphs read on one page (evenly spread over its components).
MAX_GLYPHS = 64
#: A glyph's shorter side and longer side, in page pixels, and its most elongated shape.
MIN_SHORT_SIDE = 3
MIN_LONG_SIDE = 8
MAX_ELONGATION = 6.0
FORMAT = "rotbgr-glyphs-1"

U8 = NDArray[np.uint8]


def glyph_boxes(components: NDArray[np.int32], limit: int = MAX_GLYPHS) -> NDArray[np.int32]:
    """The glyph-sized rows ``(left, top, width, height, area)`` of an ink mask's component statistics.

    Thin strokes (rules, ticks, curve pieces) and dots are left out: they look the same every way up.
    At most ``limit`` rows, spread evenly over the page's reading order (the statistics' order).
    """
    if len(components) == 0:
        return np.zeros((0, 5), dtype=np.int32)
    width, height = components[:, 2], components[:, 3]
    short, long = np.minimum(width, height), np.maximum(width, height)
    keep = (short >= MIN_SHORT_SIDE) & (long >= MIN_LONG_SIDE) & (long <= MAX_ELONGATION * short)
    chosen = components[keep]
    if len(chosen) > limit:
        chosen = chosen[np.linspace(0, len(chosen) - 1, limit).round().astype(int)]
    return np.asarray(chosen, dtype=np.int32)


def glyph_crops(page: U8, boxes: NDArray[np.int32]) -> U8:
    """Each box of the grey ``page`` as a ``GLYPH x GLYPH`` crop, its aspect ratio kept, on its own paper tone."""
    if len(boxes) == 0:
        return np.zeros((0, GLYPH, GLYPH), dtype=np.uint8)
    crops = np.empty((len(boxes), GLYPH, GLYPH), dtype=np.uint8)
    rows, cols = page.shape
    for index, (left, top, width, height) in enumerate(boxes[:, :4].tolist()):
        margin = max(1, round(0.1 * max(width, height)))
        x0, y0 = max(0, left - margin), max(0, top - margin)
        x1, y1 = min(cols, left + width + margin), min(rows, top + height + margin)
        piece = page[y0:y1, x0:x1]
        # The paper around this glyph, not the page's: a scanner bed or the corners of a deskewed page are dark.
        ring = np.concatenate([piece[0], piece[-1], piece[:, 0], piece[:, -1]])
        crops[index] = int(np.median(ring))
        scale = GLYPH_FILL / max(piece.shape)
        size = (max(1, round(piece.shape[1] * scale)), max(1, round(piece.shape[0] * scale)))
        small = cv2.resize(piece, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        oy, ox = (GLYPH - size[1]) // 2, (GLYPH - size[0]) // 2
        crops[index, oy:oy + size[1], ox:ox + size[0]] = small
    return crops


def normalise_glyphs(crops: U8) -> torch.Tensor:
    """Crops as a float tensor ``N x 1 x GLYPH x GLYPH``: the windows' normalisation, negated: ink positive."""
    return -normalise_patches(crops)


class GlyphNet(nn.Module):
    """A tiny CNN over single-glyph crops: 8 orientation classes."""

    def __init__(self, width: int = 16) -> None:
        """Build the layers; ``width`` is the first stage's channel count."""
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for out in (width, width * 2, width * 4):
            layers += [
                nn.Conv2d(channels, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
                nn.Conv2d(out, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            channels = out
        self.features = nn.Sequential(*layers)
        # The crop's layout matters (where the glyph's weight sits), so the head sees the 4x4 map, not its mean.
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * (GLYPH // 8) ** 2, 128), nn.ReLU(inplace=True),
                                  nn.Linear(128, NUM_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits for a batch of glyph crops."""
        result: torch.Tensor = self.head(self.features(x))
        return result


@dataclass
class GlyphReader:
    """The glyph network with its preprocessing."""

    net: GlyphNet
    device: str = "cpu"

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> GlyphReader:
        """Load weights saved by :mod:`rotbgr_core.training.train_glyphs` (fp16 state dict)."""
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("format") != FORMAT:
            raise ValueError(f"{path} is not a RotBGR glyph-orientation weights file")
        net = GlyphNet(int(payload["width"]))
        net.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
        fold_batchnorm(net.eval()).to(device)
        # Channels-last: about twice as fast on the CPU for the same answers (to 1e-5), as the other networks.
        net.to(memory_format=torch.channels_last)
        return cls(net=net, device=device)

    def score(self, crops: U8) -> NDArray[np.float64]:
        """Per-glyph 8-class log-probabilities, ``len(crops) x 8``."""
        if len(crops) == 0:
            return np.zeros((0, NUM_CLASSES))
        with torch.inference_mode():
            batch = normalise_glyphs(crops).to(self.device, memory_format=torch.channels_last)
            logits = self.net(batch)
            return np.asarray(torch.log_softmax(logits.float(), dim=1).cpu().numpy(), dtype=np.float64)

    def read_page(self, page: U8, components: NDArray[np.int32], limit: int = MAX_GLYPHS) -> NDArray[np.float64]:
        """Per-glyph log-probabilities of a deskewed grey page, from its ink mask's component statistics."""
        return self.score(glyph_crops(page, glyph_boxes(components, limit)))


@dataclass(frozen=True)
class GlyphVerdict:
    """A page's answer from its glyphs alone, relative to the deskewed page."""

    glyphs: int  #: how many glyphs were read
    index: int  #: the class ``2 * quarter_turns + mirrored`` of the summed log-probabilities
    turn_margin: float  #: log-probability of the best turn over the next one (both mirror states summed)

    @property
    def quarter_turns(self) -> int:
        """Quarter turns counter-clockwise that put the deskewed page upright."""
        return self.index // 2

    @property
    def mirrored(self) -> bool:
        """Whether the page reads mirrored."""
        return bool(self.index % 2)


def glyph_verdict(scores: NDArray[np.float64]) -> GlyphVerdict | None:
    """The summed verdict of per-glyph log-probabilities (``None`` for no glyphs)."""
    if len(scores) == 0:
        return None
    summed = scores.sum(axis=0)
    turns = np.sort(np.logaddexp(summed[0::2], summed[1::2]))
    return GlyphVerdict(glyphs=len(scores), index=int(np.argmax(summed)), turn_margin=float(turns[-1] - turns[-2]))


#: A page read as one by the other verdicts is re-decided by its glyphs only below this confidence, and only when
#: the glyphs are this sure (mean and summed turn margins, log-probability): fixed on the calibration sets.
PAGE_MAX_CONFIDENCE = 0.9
PAGE_MEAN_MARGIN = 0.8
PAGE_TOTAL_MARGIN = 20.0
#: Glyphs far surer than that (a mean margin of 1.5) overrule a page verdict up to this confidence (chosen on the
#: calibration sets and the script probes: 8 pages changed there, all 8 put right).
PAGE_SURE_MAX_CONFIDENCE = 0.99
PAGE_SURE_MEAN_MARGIN = 1.5
#: An image the main model calls a photo is read glyph by glyph when it is mostly bare paper (or flat fills, below) ...
FIGURE_PAPER_SHARE = 0.7
#: ... and answered as a page (a figure, a chart, a sheet of large characters) when its glyphs are this sure.
FIGURE_MIN_GLYPHS = 8
FIGURE_MEAN_MARGIN = 1.0
FIGURE_TOTAL_MARGIN = 10.0
#: A "photo" with at least this share of its pixels in exactly flat neighbourhoods (a screenshot, a diagram: see
#: :func:`flat_share`) is read glyph by glyph too, and answered as a page when its glyphs prefer one turn by this much
#: (summed log-probability). Chosen on GIMP's help screenshots (half a) and the calibration photos: 91 -> 101 of the
#: 133 screenshots fully correct, none broken; the 300 photos unchanged (none passes both tests).
SCREEN_FLAT_SHARE = 0.5
#: A large lossless image (one with a finer copy, :data:`rotbgr_core.imageio.DETAIL_KEY`) is a screen at a lower share
#: of flat fills where its long straight lines nearly all run along two square directions
#: (:func:`rotbgr_core.skew.square_lines`): a full-screen capture whose windows leave much of a shaded, noisy
#: wallpaper in view. Chosen on the desktops of half a (68 -> 90 of 100; half b 54 -> 80): a photo's edges run every
#: way (at most 71% of their length square, or under 5 image diagonals; a drawing of a building passes), and this
#: app's windows, with their thumbnails, are 80-92% square.
SCREEN_DETAIL_FLAT_SHARE = 0.1
SCREEN_SQUARE_SHARE = 0.8
SCREEN_SQUARE_LENGTH = 4.0
SCREEN_TOTAL_MARGIN = 20.0
#: A screenshot's labels are read up to this many glyphs, not :data:`MAX_GLYPHS`: shrunk to the prediction size, a
#: label's glyphs are 8-10 px high and each is only a little sure, but a screen has hundreds of them. Chosen on
#: GIMP's help screenshots (half a: 128 and 256 glyphs both 5 fixed, 1 broken; 64: none) and the calibration photos
#: (none changed), 2026-12-07 (session 32).
SCREEN_MAX_GLYPHS = 256
#: An unsure page verdict (under :data:`PAGE_SURE_MAX_CONFIDENCE`) whose glyphs prefer its very answer to every
#: other class by this much (summed log-probability) is raised to :data:`GLYPH_AGREED_CONFIDENCE`. On the script
#: probes and calibration sets, the 260 pages under 0.95 with such glyphs were all fully correct (326 with a margin
#: over 20: one wrong), where the fused confidence alone put them at 0.86 on average.
GLYPH_AGREE_MARGIN = 30.0
GLYPH_AGREED_CONFIDENCE = 0.95
#: The confidence of an answer that the glyphs alone decided: below the 0.8 of "no need to look", since these
#: are the pages that the other verdicts could not read.
GLYPH_CONFIDENCE = 0.75


#: A page whose fine detail is this much weaker (natural log of power) in its most smeared direction than in its
#: sharpest one was smeared by a shaking hand, and its glyphs are not read. Chosen on the calibration sets and the
#: script probes (see ``docs/ACCURACY.md``, "2026-12-07 (session 30)").
SMEAR_ANISOTROPY = 3.5
#: The band of spatial frequencies measured, in cycles a pixel of the page shrunk to :data:`SMEAR_SIDE`: a smear
#: of 5 px or more takes out most of it along its direction, while text keeps detail there in every direction.
SMEAR_BAND = (0.12, 0.35)
SMEAR_SIDE = 1024
SMEAR_SECTORS = 18
#: Directions within this many degrees of the axes are left out: the long straight rules of a table or a frame,
#: which the deskew turns onto the axes, put their power there, as a smear would seem to.
SMEAR_AXIS_CONE = 1.0
#: Pages smaller than this (long side, in pixels) are not measured: their strokes are a pixel or two wide, and their
#: fine band holds resampling more than text (at 320 px, three sharp pages in 600 measured as smeared).
SMEAR_MIN_SIDE = 600


@functools.lru_cache(maxsize=1)
def _smear_sectors() -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """Where :func:`smear_anisotropy` looks in the spectrum of its square canvas.

    Returns the flat indices of the band's frequencies, the sector of each, and how many each sector holds.
    """
    fy, fx = np.fft.fftfreq(SMEAR_SIDE)[:, None], np.fft.rfftfreq(SMEAR_SIDE)[None, :]
    radius = np.hypot(fy, fx)
    direction = np.degrees(np.arctan2(fy, fx)) % 180.0
    off_axis = np.abs((direction + 45.0) % 90.0 - 45.0) >= SMEAR_AXIS_CONE
    band = (radius > SMEAR_BAND[0]) & (radius < SMEAR_BAND[1]) & off_axis
    sector = np.minimum((direction[band] * SMEAR_SECTORS / 180.0).astype(np.intp), SMEAR_SECTORS - 1)
    counts = np.bincount(sector, minlength=SMEAR_SECTORS).astype(np.float64)
    return np.flatnonzero(band), sector, counts


def smear_anisotropy(gray: U8) -> float:
    """The spread, over directions, of a deskewed page's fine detail: log power in its sharpest against its weakest.

    A shaking hand smears a photographed page along one direction, and a smear of length ``L`` takes out the
    frequencies above about ``1 / L`` along it (its spectrum is a sinc), whatever the page shows. A sharp page's
    strokes run every way. Measured on the page shrunk to :data:`SMEAR_SIDE`, under a Hann window (so that its
    edges make no streaks), in :data:`SMEAR_SECTORS` sectors of the half plane, less :data:`SMEAR_AXIS_CONE`.
    The windowed page is laid on a square canvas of that side, so that every page shares one map of the sectors
    (a spectrum of each page's own size cost more, for values within 0.07). On a 1,700 px page: about 15 ms.
    """
    work = shrunk_gray(gray, SMEAR_SIDE).astype(np.float32)
    work -= work.mean()
    height, width = work.shape
    canvas = np.zeros((SMEAR_SIDE, SMEAR_SIDE), dtype=np.float32)
    canvas[:height, :width] = (work * np.hanning(height).astype(np.float32)[:, None]
                               * np.hanning(width).astype(np.float32)[None, :])
    # OpenCV's single-precision DFT, cut to rfft2's half plane: about 4 ms, against 20 for numpy's rfft2 (the same
    # values within 1e-7; no answer moved on the dev sets or their motion and keystone pages).
    spectrum = cv2.dft(canvas, flags=cv2.DFT_COMPLEX_OUTPUT)[:, :SMEAR_SIDE // 2 + 1]
    flat, sector, counts = _smear_sectors()
    power = (spectrum[..., 0] ** 2 + spectrum[..., 1] ** 2).ravel()[flat]
    mean_power = np.bincount(sector, weights=power, minlength=SMEAR_SECTORS) / counts
    logs = np.log(mean_power + 1e-9)
    return float(logs.max() - logs.min())


def is_smeared(gray: U8) -> bool:
    """Whether a deskewed page was smeared by a shaking hand (see :func:`smear_anisotropy`); too small: no."""
    return max(gray.shape) >= SMEAR_MIN_SIDE and smear_anisotropy(gray) >= SMEAR_ANISOTROPY


def paper_share(gray: U8) -> float:
    """Share of a (shrunk) grey image within 12 grey levels of its median: bare paper in a figure or a page."""
    small = shrunk_gray(gray, 256)
    return float(np.mean(np.abs(small.astype(np.int16) - int(np.median(small))) <= 12))


def flat_share(gray: U8) -> float:
    """Share of a grey image's pixels whose 3 x 3 neighbourhood is one exact grey level.

    Rendered images (screenshots, diagrams, drawings) are mostly flat fills; a photo's sensor noise and JPEG
    coding leave almost none (median 4% on the calibration photos, 68% on GIMP's help screenshots).
    """
    return float(np.mean(_flat_pixels(gray)))


def _flat_pixels(gray: U8) -> NDArray[np.bool_]:
    """Which pixels of a grey image have a 3 x 3 neighbourhood of one exact grey level (a rendered flat fill)."""
    kernel = np.ones((3, 3), np.uint8)
    return np.asarray(cv2.dilate(gray, kernel) == cv2.erode(gray, kernel))


#: :func:`dark_on_light` judges a region's background over this many cells of a 1/128 of the long side each.
POLARITY_CELLS = 5


def dark_on_light(gray: U8) -> U8:
    """A screen's grey image with every region on a dark background inverted, so that all its labels are dark ink.

    A screenshot mixes polarities: a dark title bar, taskbar or themed window beside light ones. The glyph network
    learned dark ink on light paper; light labels read as they are vote, consistently, for the wrong answer.
    A region is dark where the median of the :data:`POLARITY_CELLS` x :data:`POLARITY_CELLS` cells around it
    (each averaged over 1/128 of the long side) is under mid-grey.
    """
    height, width = gray.shape
    cell = max(2, max(height, width) // 128)
    size = (max(1, width // cell), max(1, height // cell))
    background = cv2.medianBlur(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), POLARITY_CELLS)
    flat = _flat_pixels(gray).view(np.uint8) * np.uint8(255)
    rendered = cv2.medianBlur(cv2.resize(flat, size, interpolation=cv2.INTER_AREA), POLARITY_CELLS)
    dark = (background < 128) & (rendered >= 128)
    dark_full = cv2.resize(dark.view(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).view(np.bool_)
    return np.where(dark_full, 255 - gray, gray).astype(np.uint8)


def reads_screen(verdict: GlyphVerdict | None) -> bool:
    """Whether the glyphs of a flat-filled "photo" (a screenshot) are sure enough to answer it as a page."""
    return (verdict is not None and verdict.glyphs >= FIGURE_MIN_GLYPHS
            and verdict.turn_margin >= SCREEN_TOTAL_MARGIN)


def overrules_page(verdict: GlyphVerdict | None, confidence: float) -> bool:
    """Whether a page's glyphs are sure enough to overrule its page verdict of ``confidence``."""
    if verdict is None or verdict.turn_margin < PAGE_TOTAL_MARGIN:
        return False
    mean = verdict.turn_margin / verdict.glyphs
    return ((confidence < PAGE_MAX_CONFIDENCE and mean >= PAGE_MEAN_MARGIN)
            or (confidence < PAGE_SURE_MAX_CONFIDENCE and mean >= PAGE_SURE_MEAN_MARGIN))


#: A page answered mirrored is answered as its vertical flip (a half turn, not mirrored) when its glyphs prefer the
#: flip by this much (summed log-probability, less :data:`FLIP_FUSED_WEIGHT` times the fused verdict's own preference).
#: Chosen on the script probes and the calibration sets (3,240 pages): 81 of the 520 mirrored answers there were
#: such flips (Kannada, Georgian, Amharic, Tibetan, Myanmar...: the window network reads their lines upside down and
#: mirrored); the rule put 70 right and broke 2, and changed no calibration page.
FLIP_MARGIN = 4.0
FLIP_FUSED_WEIGHT = 0.5
#: The other way, a plain answer turned into a mirrored flip, needs far more: mirrored pages are rare. Chosen on the
#: same pages: 11 of the 2,634 plain answers were such flips; 8 put right, none broken.
FLIP_TO_MIRRORED_MARGIN = 20.0
#: A plain answer is checked only when the fused verdict prefers it to its flip by less than this (a fifth of the
#: pages; the glyphs are read for it, which costs time): all but one of those 11 flips were within 13.
FLIP_CHECK_GAP = 20.0


def checks_vertical_flip(fused: NDArray[np.float64], index: int) -> bool:
    """Whether a page's answer ``index`` (from the 8-class log-probabilities ``fused``) is checked against its flip."""
    return bool(index % 2) or float(fused[index] - fused[vertical_flip_of(index)]) < FLIP_CHECK_GAP


def prefers_vertical_flip(scores: NDArray[np.float64], fused: NDArray[np.float64], index: int) -> bool:
    """Whether a page's glyphs (per-glyph ``scores``) overrule its answer ``index`` for the vertical flip.

    ``fused``: the page verdict's 8-class log-probabilities, whose own preference for ``index`` counts against.
    A mirrored answer gives way at :data:`FLIP_MARGIN`, a plain one only at :data:`FLIP_TO_MIRRORED_MARGIN`.
    """
    if len(scores) == 0 or not checks_vertical_flip(fused, index):
        return False
    flip = vertical_flip_of(index)
    glyph_margin = float(scores[:, flip].sum() - scores[:, index].sum())
    margin = FLIP_MARGIN if index % 2 else FLIP_TO_MIRRORED_MARGIN
    return glyph_margin - FLIP_FUSED_WEIGHT * float(fused[index] - fused[flip]) > margin


def agrees_with(scores: NDArray[np.float64], index: int) -> bool:
    """Whether a page's glyphs (per-glyph ``scores``) prefer its answer ``index`` to every other class, surely."""
    if len(scores) == 0:
        return False
    summed = scores.sum(axis=0)
    return float(summed[index] - np.delete(summed, index).max()) > GLYPH_AGREE_MARGIN


def reads_figure(verdict: GlyphVerdict | None) -> bool:
    """Whether the glyphs of a "photo" that is mostly paper are sure enough to answer it as a page."""
    return (verdict is not None and verdict.glyphs >= FIGURE_MIN_GLYPHS
            and verdict.turn_margin >= max(FIGURE_TOTAL_MARGIN, FIGURE_MEAN_MARGIN * verdict.glyphs))

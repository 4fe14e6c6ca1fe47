"""Predictors: a preprocessor plus a model, built by one factory.

:func:`load_predictor` is the only way the CLI, the server and the app get a
predictor.  The shipped learned model is used when its weights are present;
``weights="classical"`` selects the classical text-skew estimator.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from rotbgr_core.imageio import DETAIL_KEY
from rotbgr_core.skew import (
    SkewEstimate,
    edge_orientation,
    estimate_skew,
    is_featureless,
    keystone_correction,
    line_tilts,
    slant_correction,
    square_lines,
)
from rotbgr_core.types import Estimate

if TYPE_CHECKING:  # torch-backed modules, imported only where a model is built
    from rotbgr_core.docorient import Fusion
    from rotbgr_core.glyphs import GlyphReader
    from rotbgr_core.learned import Calibration, LearnedPredictor, RawResult

#: The weights shipped inside the package.
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "rotbgr.pt"
#: The document-orientation weights (text windows), used beside the main model when present.
DOCUMENT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "docorient.pt"
#: The glyph-orientation weights (single glyphs, for figures and sparse pages), used beside them when present.
GLYPH_WEIGHTS = Path(__file__).resolve().parent / "weights" / "glyphs.pt"
#: A page needs at least this many text windows for the window verdict to replace the main model's.
MIN_DOCUMENT_WINDOWS = 4
CLASSICAL = "classical"
#: A "photo" at least this likely to be a document is also read as a page ...
RESCUE_DOC_PROB = 0.25
#: ... and answered as one when the fused page verdict is at least this sure.
RESCUE_CONFIDENCE = 0.9
#: An image is tested for uneven light (:mod:`rotbgr_core.flatfield`) only when its answer is less sure than this.
UNEVEN_LOOK_BELOW = 0.8


class DeviceError(ValueError):
    """The requested compute device does not exist on this machine."""


@runtime_checkable
class Predictor(Protocol):
    """Predicts ``(angle, mirrored, confidence)`` for decoded RGB images."""

    name: str
    device: str

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        """One estimate per image, in order; ``[]`` in gives ``[]`` out."""
        ...


def resolve_device(device: str) -> str:
    """Turn ``auto``/``cpu``/``cuda[:N]`` into a concrete torch device name.

    Raises:
        DeviceError: for an unknown name, or CUDA asked for where there is none.
    """
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise DeviceError(f"unknown device {device!r}: use auto, cpu or cuda")
    if device == "cpu":
        return "cpu"
    try:
        import torch

        has_cuda = bool(torch.cuda.is_available())
    except ImportError:
        has_cuda = False
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if not has_cuda:
        raise DeviceError("CUDA was requested but no CUDA device is available")
    return device


class ClassicalPredictor:
    """Text-page skew within +-45 degrees by projection profiles.

    It cannot tell upside-down or mirrored pages; its confidence says how
    clearly the text lines stand out, halved because half-turns are invisible
    to it.
    """

    name = "classical-projection"

    def __init__(self, device: str = "cpu") -> None:
        """The classical estimator always runs on the CPU."""
        self.device = "cpu"

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        """Estimate the skew of each image independently."""
        results = []
        for image in images:
            gray = np.asarray(image.convert("L"))
            skew = estimate_skew(gray, edge_orientation(gray))
            kind = "document" if skew.method == "fourier" and skew.text_fraction > 0.01 else "photo"
            results.append(
                Estimate(
                    angle=0.0 if is_featureless(gray) else skew.angle,
                    mirrored=False,
                    confidence=round(0.5 * skew.strength, 4),
                    kind=kind,
                )
            )
        return results


class DocumentAwarePredictor:
    """A predictor whose text pages are decided from scale-normalised text windows too.

    The base predictor says what each image is; for documents, the windows'
    network (:mod:`rotbgr_core.docorient`) reads the text itself.  With a
    fitted :class:`rotbgr_core.docorient.Fusion` in its weights, both verdicts'
    log-probabilities are added and a logistic model gives the confidence;
    without one, the windows' answer replaces the base's when the page has
    enough text and its calibrated confidence is the higher.
    """

    def __init__(self, base: Predictor, orienter: object, glyphs: GlyphReader | None = None) -> None:
        """Wrap ``base``; ``orienter`` is a :class:`rotbgr_core.docorient.DocOrienter`.

        ``glyphs``: the glyph network, which re-reads unsure pages and mostly-paper "photos" (figures).
        """
        from rotbgr_core.docorient import DocOrienter

        assert isinstance(orienter, DocOrienter)
        self.base = base
        self.orienter = orienter
        self.glyphs = glyphs
        self.name = f"{base.name}+docorient"
        self.device = base.device
        #: Read doubtful photos (document probability >= RESCUE_DOC_PROB) as pages when their text is clear.
        self.rescue_photo_pages = True
        #: Read images that may be pages printed light on dark, or lit unevenly, a second time as their negatives or
        #: flattened (see ``predict_images``).
        self.second_readings = True

    def predict_images(self, images: Sequence[Image.Image]) -> list[Estimate]:
        """Base estimates, with documents re-decided with their text windows.

        An image that may be a page printed light on dark (:func:`rotbgr_core.polarity.looks_negative`) is also
        read as its negative, in the same batch. That reading is its answer when it is a page and surer than the
        first: a page printed dark on light is read surely as it is, and a dark photo whose negative looks like a
        page keeps its own reading unless that is the less sure (train-split photos and illustrations, 3,296 posed:
        16 made wrong when any page reading won, 8 so).
        An image whose paper may be lit unevenly or dimly (:func:`rotbgr_core.flatfield.looks_badly_lit`) is read again
        the same way, divided by its background.
        """
        from rotbgr_core.learned import photo_capped

        if not self.second_readings:
            return photo_capped(self._predict(images))
        from rotbgr_core.flatfield import flattened, looks_badly_lit
        from rotbgr_core.polarity import looks_negative, negative

        negatives = {index: negative(image) for index, image in enumerate(images) if looks_negative(image)}
        estimates = self._predict([*images, *negatives.values()])
        # A photo's negative read as a page is more often wrong than right (train-split photos: 8 such swaps, none
        # right; the dev photos: 2 at 0.80 and 0.85, both wrong): under the bar for a photo read as a page, it is
        # worth a look. Flattened readings are not held so: those at 0.8-0.9 are dim pages, read right.
        answers = _surer(estimates[:len(images)], list(negatives), estimates[len(images):], RESCUE_CONFIDENCE)
        # Uneven or dim light is looked for only where the answer is unsure: the test costs about 5 ms an image on a
        # busy CPU, and a sure answer could only give way to a surer one.
        unsure = [index for index, answer in enumerate(answers) if index not in negatives
                  and answer.confidence < UNEVEN_LOOK_BELOW and looks_badly_lit(images[index])]
        if unsure:
            answers = _surer(answers, unsure, self._predict([flattened(images[index]) for index in unsure]))
        return photo_capped(answers)

    def _predict(self, images: Sequence[Image.Image]) -> list[Estimate]:
        from rotbgr_core.learned import LearnedPredictor

        if isinstance(self.base, LearnedPredictor) and self.orienter.fusion is not None:
            return self._fused(images, self.base)
        return self._replaced(images)

    def _fused(self, images: Sequence[Image.Image], base: LearnedPredictor) -> list[Estimate]:
        """Both verdicts added (see :class:`rotbgr_core.docorient.Fusion`)."""
        from rotbgr_core.docorient import NUM_CLASSES, SMALL_PAGE_SIDE, deskewed_windows, fused_class, score_windows
        from rotbgr_core.geometry import normalize_angle
        from rotbgr_core.glyphs import is_smeared
        from rotbgr_core.learned import combine_log_probs, decide

        fusion = self.orienter.fusion
        assert fusion is not None
        raws = base.measure(images)
        estimates = [decide(raw, base.calibration) for raw in raws]
        # The main model's verdict as the fusion takes it (its patch and ascender weights may be the fusion's). A page
        # smeared by a shaking hand leans on the main model's global view, and a thumbnail page on its windows (see
        # Fusion.for_smeared and Fusion.for_small).
        variants = {name: (variant, base.calibration.with_text_weights(variant.patch_weight, variant.updown_weight))
                    for name, variant in (("plain", fusion), ("smeared", fusion.for_smeared()),
                                          ("small", fusion.for_small()))}
        page_calibration = variants["plain"][1]
        # measure() deskews every page it calls a document (and keeps the page and its ink for the windows).
        # The windows of all the batch's pages go through the window network together: one call, not one a page.
        pages = [index for index, (raw, estimate) in enumerate(zip(raws, estimates, strict=True))
                 if estimate.kind == "document" and raw.skew_angle is not None and raw.lines_vertical is not None
                 and raw.deskewed is not None and raw.deskewed_ink is not None]

        def page_windows_of(index: int) -> NDArray[np.uint8]:
            raw = raws[index]
            assert raw.deskewed is not None and raw.deskewed_ink is not None
            return deskewed_windows(raw.deskewed, raw.deskewed_ink, bool(raw.lines_vertical), fusion.windows,
                                    raw.deskewed_ink_components)

        with ThreadPoolExecutor(max_workers=base.classical_thread_count(), thread_name_prefix="rotbgr-windows") as pool:
            windows = list(pool.map(page_windows_of, pages))
        scored = (score_windows(self.orienter, np.concatenate(windows), base.classical_thread_count()) if windows
                  else np.zeros((0, NUM_CLASSES)))
        bounds = np.cumsum([0, *(len(w) for w in windows)])
        page_scores = {index: scored[bounds[n]:bounds[n + 1]] for n, index in enumerate(pages)}

        def finish(index: int) -> Estimate:
            """One image's final answer: its page verdict, or its rescue as a page or a figure."""
            image, raw, estimate = images[index], raws[index], estimates[index]
            if raw.featureless:
                return estimate  # decide() left it as it is: no page reading can do better
            if index in page_scores:
                assert raw.skew_angle is not None and raw.deskewed is not None
                smeared = is_smeared(raw.deskewed)
                small = max(image.size) < SMALL_PAGE_SIDE
                page_fusion, calibration = variants["smeared" if smeared else "small" if small else "plain"]
                base_scores = combine_log_probs(raw, calibration).astype(np.float64)
                estimate = self._page_verdict(raw.skew_angle, base_scores, page_scores[index], raw.skew_strength,
                                              page_fusion)
                estimate = self._glyph_page(raw, estimate, page_fusion.scores(base_scores, page_scores[index]), smeared)
                # A page photographed at a slant or bent: its lines at its centre, not its sharpest group of lines;
                # at a slant and turned, sheared: its lines and its strokes at its centre, together (not where a
                # shaking hand smeared the strokes: the smear leans them).
                assert raw.deskewed_ink is not None and raw.lines_vertical is not None
                tilts = line_tilts(raw.deskewed_ink, raw.lines_vertical)
                correction = slant_correction(raw.deskewed_ink, raw.lines_vertical, tilts)
                if not smeared:
                    correction = keystone_correction(raw.deskewed, raw.lines_vertical, tilts, correction)
                return replace(estimate, angle=normalize_angle(estimate.angle + correction)) if correction else estimate
            rescued = None
            if self.rescue_photo_pages and raw.doc_prob >= RESCUE_DOC_PROB:
                rescued = self._as_page(image, raw, page_calibration, fusion)
            if rescued is None and estimate.kind == "photo":
                rescued = self._glyph_figure(image, raw)
                if rescued is not None and _same_answer(rescued, estimate):
                    # Two verdicts agree: at least as sure as the surer (the glyphs' angle, from the text lines).
                    rescued = replace(rescued, confidence=max(rescued.confidence, estimate.confidence))
            if rescued is not None:
                return rescued
            if estimate.kind == "document" and estimate.mirrored and not fused_class(
                    combine_log_probs(raw, base.calibration).astype(np.float64)) % 2:
                # A page with too little ink for its text windows: its mirror flag needs the same clear
                # evidence as a read page's (docorient.PAGE_MIRROR_MARGIN), not a bare majority.
                return replace(estimate, mirrored=False)
            return estimate

        # The glyph network's re-reads and the photos read as pages or figures are each one image's own work:
        # they run on the classical threads too, so that one slow page does not leave the other cores idle.
        with ThreadPoolExecutor(max_workers=base.classical_thread_count(), thread_name_prefix="rotbgr-pages") as pool:
            return list(pool.map(finish, range(len(images))))

    def _page_verdict(self, skew_angle: float, base_scores: NDArray[np.float64], window_scores: NDArray[np.float64],
                      skew_strength: float, fusion: Fusion) -> Estimate:
        """The fused answer for a page deskewed by ``skew_angle``, from its windows' scores."""
        from rotbgr_core.docorient import correction_of, fused_decision
        from rotbgr_core.geometry import normalize_angle

        index, confidence = fused_decision(base_scores, window_scores, fusion, skew_strength)
        turn, mirrored = correction_of(index)
        return Estimate(angle=normalize_angle(skew_angle + turn), mirrored=mirrored,
                        confidence=round(confidence, 6), kind="document")

    def _glyph_page(self, raw: RawResult, estimate: Estimate, fused: NDArray[np.float64], smeared: bool) -> Estimate:
        """A read page's answer, or its glyphs' where they are sure and its verdict is not; surer where they agree.

        ``fused``: the page verdict's 8-class log-probabilities (relative to the deskewed page); ``smeared``: whether
        the page was smeared by a shaking hand (:func:`rotbgr_core.glyphs.is_smeared`). The answer is also
        checked against its vertical flip (a half turn and the other mirror flag), the one confusion of the window
        network that the glyphs see through.
        """
        from rotbgr_core.docorient import fused_class, vertical_flip_of
        from rotbgr_core.glyphs import (
            GLYPH_AGREED_CONFIDENCE,
            GLYPH_CONFIDENCE,
            PAGE_SURE_MAX_CONFIDENCE,
            agrees_with,
            checks_vertical_flip,
            glyph_verdict,
            overrules_page,
            prefers_vertical_flip,
        )

        index = fused_class(fused)
        unsure = estimate.confidence < PAGE_SURE_MAX_CONFIDENCE
        if (self.glyphs is None or not (unsure or checks_vertical_flip(fused, index)) or raw.skew_angle is None
                or raw.deskewed is None or raw.deskewed_ink_components is None):
            return estimate
        if smeared:
            # The glyph network learned sharp glyphs: it reads smeared ones upside down and mirrored, and would
            # turn a sound page verdict into its vertical flip. Networks fine-tuned on smeared pages only
            # trusted their own reading less (rotbgr_core/training/README.md, "2026-12-07 (session 30)").
            return estimate
        scores = self.glyphs.read_page(raw.deskewed, raw.deskewed_ink_components)
        if unsure:
            verdict = glyph_verdict(scores)
            if overrules_page(verdict, estimate.confidence):
                assert verdict is not None
                answer = _glyph_estimate(raw.skew_angle, verdict.quarter_turns, verdict.mirrored, GLYPH_CONFIDENCE)
                if not _same_answer(answer, estimate):
                    return answer
        if prefers_vertical_flip(scores, fused, index):
            flip = vertical_flip_of(index)
            return _glyph_estimate(raw.skew_angle, flip // 2, bool(flip % 2), GLYPH_CONFIDENCE)
        if unsure and estimate.confidence < GLYPH_AGREED_CONFIDENCE and agrees_with(scores, index):
            return replace(estimate, confidence=GLYPH_AGREED_CONFIDENCE)
        return estimate

    def _glyph_figure(self, image: Image.Image, raw: RawResult) -> Estimate | None:
        """A "photo" that is mostly paper or flat fills read glyph by glyph: a page's answer if its glyphs are sure.

        Mostly paper: a figure, a chart, a sheet of large characters. Flat fills: a screenshot, whose short labels
        the main model and the text windows do not read. ``None`` where the glyphs are not sure enough.
        """
        from rotbgr_core.glyphs import (
            FIGURE_PAPER_SHARE,
            GLYPH_CONFIDENCE,
            SCREEN_MAX_GLYPHS,
            dark_on_light,
            glyph_verdict,
            paper_share,
            reads_figure,
            reads_screen,
        )
        from rotbgr_core.learned import deskewed_page
        from rotbgr_core.polarity import looks_negative

        if self.glyphs is None:
            return None
        gray = np.asarray(image.convert("L"))
        figure = paper_share(gray) >= FIGURE_PAPER_SHARE
        # A dark-themed screenshot is read as its negative (predict_images): the glyphs are learned dark on light.
        screen = _looks_like_screen(image, gray) and not looks_negative(image)
        if not (figure or screen):
            return None
        skew = estimate_skew(gray, (raw.edge_angle, raw.edge_strength))
        verdict = None
        if figure:
            page, _, components = deskewed_page(gray, skew.angle)
            verdict = glyph_verdict(self.glyphs.read_page(page, components))
        if not reads_figure(verdict):
            if not screen:
                return None
            # A screen's labels: many small glyphs, each a little sure, so more of them are read; in the image's
            # finer grey copy where the file had more pixels (imageio.DETAIL_KEY); light ones on dark made dark.
            detail = image.info.get(DETAIL_KEY)
            page, _, components = deskewed_page(dark_on_light(gray if detail is None else detail), skew.angle)
            verdict = glyph_verdict(self.glyphs.read_page(page, components, SCREEN_MAX_GLYPHS))
            if not reads_screen(verdict):
                return None
        assert verdict is not None
        return _glyph_estimate(skew.angle, verdict.quarter_turns, verdict.mirrored, GLYPH_CONFIDENCE)

    def _as_page(self, image: Image.Image, raw: RawResult, page_calibration: Calibration,
                 fusion: Fusion) -> Estimate | None:
        """A doubtful "photo" read as a page: its answer if its text windows are sure of it, else ``None``.

        ``page_calibration``: the main model's, with the fusion's weights for its text cues.
        """
        from rotbgr_core.docorient import page_windows, score_windows
        from rotbgr_core.learned import combine_log_probs, roll_quarters

        gray = np.asarray(image.convert("L"))
        skew = estimate_skew(gray, (raw.edge_angle, raw.edge_strength))
        if skew.method != "fourier":
            return None
        windows = page_windows(gray, skew.angle, skew.lines_vertical, fusion.windows)
        if len(windows) < MIN_DOCUMENT_WINDOWS:
            return None
        # The model's classes are relative to the photo's edge angle: move them to the page's skew.
        shift = round((skew.angle - raw.edge_angle) / 90.0)
        base_scores = roll_quarters(combine_log_probs(raw, page_calibration), shift).astype(np.float64)
        estimate = self._page_verdict(skew.angle, base_scores, score_windows(self.orienter, windows), skew.strength,
                                      fusion)
        return estimate if estimate.confidence >= RESCUE_CONFIDENCE else None

    def _replaced(self, images: Sequence[Image.Image]) -> list[Estimate]:
        """The surer of the two verdicts (no fitted fusion)."""
        from rotbgr_core.docorient import calibrated_confidence, orient_page
        from rotbgr_core.learned import LearnedPredictor, decide

        skews: list[SkewEstimate | None] = [None] * len(images)
        if isinstance(self.base, LearnedPredictor):
            # Reuse the learned model's own page skew and line direction: no second measurement.
            raws = self.base.measure(images)
            estimates = [decide(raw, self.base.calibration) for raw in raws]
            for index, raw in enumerate(raws):
                if raw.skew_angle is not None and raw.lines_vertical is not None:
                    skews[index] = SkewEstimate(raw.skew_angle, raw.skew_strength, 0.0, "fourier",
                                                bool(raw.lines_vertical))
        else:
            estimates = self.base.predict_images(images)
        results = []
        for image, estimate, skew in zip(images, estimates, skews, strict=True):
            if estimate.kind == "document":
                page = orient_page(np.asarray(image.convert("L")), self.orienter, skew)
                confidence = calibrated_confidence(page, self.orienter.calibration)
                # Each verdict carries its own calibrated confidence: keep the surer one.
                if page.windows >= MIN_DOCUMENT_WINDOWS and confidence > estimate.confidence:
                    estimate = Estimate(
                        angle=page.angle,
                        mirrored=page.mirrored,
                        confidence=round(confidence, 6),
                        kind="document",
                    )
            results.append(estimate)
        return results


def _surer(answers: list[Estimate], indices: list[int], seconds: Sequence[Estimate],
           doubtful_below: float = 0.0) -> list[Estimate]:
    """``answers`` with each second reading (of ``answers[index]``'s image) that is a page and surer put in place.

    Where the first reading was not a page, a second reading under ``doubtful_below`` is reported as worth a look
    (:data:`rotbgr_core.learned.PHOTO_MAX_CONFIDENCE`).
    """
    from rotbgr_core.learned import PHOTO_MAX_CONFIDENCE

    answers = list(answers)
    for index, second in zip(indices, seconds, strict=True):
        first = answers[index]
        if second.kind == "document" and second.confidence > first.confidence:
            doubtful = first.kind != "document" and second.confidence < doubtful_below
            answers[index] = (replace(second, confidence=min(second.confidence, PHOTO_MAX_CONFIDENCE)) if doubtful
                              else second)
    return answers


def _looks_like_screen(image: Image.Image, gray: NDArray[np.uint8]) -> bool:
    """Whether a "photo" may be a screenshot.

    Either mostly flat fills, or (a large lossless file, kept finer) some flat fills and long straight lines that
    nearly all run along two square directions. The lines are looked for only in such files, which JPEG photos
    are not: the line segment detector takes 40-140 ms.
    """
    from rotbgr_core.glyphs import (
        SCREEN_DETAIL_FLAT_SHARE,
        SCREEN_FLAT_SHARE,
        SCREEN_SQUARE_LENGTH,
        SCREEN_SQUARE_SHARE,
        flat_share,
    )

    flat = flat_share(gray)
    if flat >= SCREEN_FLAT_SHARE:
        return True
    if DETAIL_KEY not in image.info or flat < SCREEN_DETAIL_FLAT_SHARE:
        return False
    share, length = square_lines(gray)
    return share >= SCREEN_SQUARE_SHARE and length >= SCREEN_SQUARE_LENGTH


def _glyph_estimate(skew_angle: float, quarter_turns: int, mirrored: bool, confidence: float) -> Estimate:
    """The answer for a page deskewed by ``skew_angle`` whose glyphs read ``quarter_turns`` and ``mirrored``."""
    from rotbgr_core.geometry import normalize_angle

    return Estimate(angle=normalize_angle(skew_angle + 90.0 * quarter_turns), mirrored=mirrored,
                    confidence=confidence, kind="document")


def _same_answer(one: Estimate, other: Estimate) -> bool:
    """Whether two answers are the same turn (within 45 degrees) and mirror flag."""
    from rotbgr_core.geometry import angle_difference

    return angle_difference(one.angle, other.angle) < 45.0 and one.mirrored == other.mirrored


def _with_documents(base: Predictor, device: str) -> Predictor:
    """Wrap ``base`` with the document-orientation network (and the glyph network) when their weights ship."""
    if not DOCUMENT_WEIGHTS.exists():
        return base
    from rotbgr_core.docorient import DocOrienter
    from rotbgr_core.glyphs import GlyphReader

    glyphs = GlyphReader.load(GLYPH_WEIGHTS, device) if GLYPH_WEIGHTS.exists() else None
    return DocumentAwarePredictor(base, DocOrienter.load(DOCUMENT_WEIGHTS, device), glyphs)


def set_classical_threads(predictor: Predictor, count: int) -> None:
    """Run a learned predictor's per-image classical steps and network slices on ``count`` threads.

    The default is every core (at most 4).

    A GUI passes 1: on two cores, more threads took the main thread's share of the GIL (event-loop p99 latency
    14 -> 17-27 ms in ``bench/ui_latency.py --real``) for no gain in rate there.
    """
    base = _learned_base(predictor)
    if base is not None:
        base.classical_threads = max(1, count)


def batch_streams(predictor: Predictor) -> int:
    """How many batches :func:`rotbgr_core.pipeline.predict_items` predicts at once.

    A learned predictor on the CPU: as many as its classical threads (the cores, or what
    :func:`set_classical_threads` set), but no more than the cores hold once each batch's network calls take torch's
    threads (``learned.cpu_threads``): 2 on a 2-core machine, also 2 on 4 or 8 cores. Batch by batch, each step waits
    for a batch's slowest image and the steps between the network calls run on fewer threads than there are images;
    two batches at once keep both cores of a 2-core machine busy (on text pages alone, about 8% more images a second,
    measured against one batch at a time on the same machine). Anything else, a GPU included: 1.
    """
    base = _learned_base(predictor)
    if base is None or base.device != "cpu":
        return 1
    import torch

    cores = os.cpu_count() or 1
    return max(1, min(base.classical_thread_count(), cores // max(1, torch.get_num_threads())))


def threads_per_stream(predictor: Predictor, streams: int) -> int:
    """The classical threads each of ``streams`` batches at once gets: the predictor's, shared out (at least 1)."""
    base = _learned_base(predictor)
    return 1 if base is None else max(1, base.classical_thread_count() // max(1, streams))


def _learned_base(predictor: Predictor) -> LearnedPredictor | None:
    """The learned predictor inside ``predictor``, if any (without importing torch for one that has none)."""
    if "rotbgr_core.learned" not in sys.modules:
        return None  # nothing learned was ever loaded
    from rotbgr_core.learned import LearnedPredictor

    base = predictor.base if isinstance(predictor, DocumentAwarePredictor) else predictor
    return base if isinstance(base, LearnedPredictor) else None


@contextmanager
def classical_threads_set(predictor: Predictor, count: int) -> Iterator[None]:
    """Within the block, a learned predictor's classical steps run on ``count`` threads; the setting is restored."""
    base = _learned_base(predictor)
    if base is None:
        yield
        return
    previous = base.classical_threads
    base.classical_threads = max(1, count)
    try:
        yield
    finally:
        base.classical_threads = previous


def load_predictor(weights: str | Path | None = None, device: str = "auto") -> Predictor:
    """Build the predictor for ``weights`` on ``device``.

    Args:
        weights: a weights file, ``None`` for the shipped model, or
            ``"classical"`` for the classical estimator alone.
        device: ``auto``, ``cpu`` or ``cuda``.

    Raises:
        DeviceError: if the device is unknown or unavailable.
        FileNotFoundError: if an explicit weights file does not exist.
    """
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise DeviceError(f"unknown device {device!r}: use auto, cpu or cuda")
    path = DEFAULT_WEIGHTS if weights is None else Path(weights)
    if weights is not None and str(weights) == CLASSICAL:
        return ClassicalPredictor()  # needs no torch: keep start-up fast and small
    if weights is None and not path.exists():
        return _with_documents(ClassicalPredictor(), resolve_device(device)) if DOCUMENT_WEIGHTS.exists() else (
            ClassicalPredictor())
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    resolved = resolve_device(device)
    from rotbgr_core.learned import LearnedPredictor

    learned = LearnedPredictor.load(path, resolved)
    # An explicit file is the model alone (what ``rotbgr eval WEIGHTS`` scores), unless it is a fine-tuned copy of
    # the shipped model (``train --from-folder``), whose pages keep the shipped text-window fusion.
    if weights is None or learned.config.get("with_documents"):
        return _with_documents(learned, resolved)
    return learned
